from __future__ import annotations

from django.apps import AppConfig


class RediverioConfig(AppConfig):
    name = "rediverio"
    verbose_name = "Tenancy"
