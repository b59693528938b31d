"""Declare the one django-q2 schedule of the ingest app: the sweep that gives background
ingests whose job was lost a new one, every minute."""

from __future__ import annotations

from django.db import migrations

from rediverio.lib.periodic_jobs import DJANGO_Q_MIGRATION, declare_periodic_job


class Migration(migrations.Migration):
    dependencies = [("ingest", "0001_initial"), DJANGO_Q_MIGRATION]

    operations = [declare_periodic_job("ingest-runs-sweep", "ingest.tasks.sweep_ingest_runs")]
