from __future__ import annotations

from django.apps import AppConfig


class FindingsConfig(AppConfig):
    name = "findings"
