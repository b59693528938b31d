"""Declare the one django-q2 schedule of the scans app: the scheduler tick, every minute."""

from __future__ import annotations

from django.db import migrations

from rediverio.lib.periodic_jobs import DJANGO_Q_MIGRATION, declare_periodic_job


class Migration(migrations.Migration):
    dependencies = [("scans", "0002_session_stage"), DJANGO_Q_MIGRATION]

    operations = [declare_periodic_job("scans-tick", "scans.tasks.scheduler_tick")]
