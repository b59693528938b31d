"""Declare the schedule that deletes chunk sets never completed (ingest/chunks.py),
every ten minutes."""

from __future__ import annotations

from django.db import migrations

from rediverio.lib.periodic_jobs import DJANGO_Q_MIGRATION, declare_periodic_job


class Migration(migrations.Migration):
    dependencies = [("ingest", "0005_ingest_chunks_size"), DJANGO_Q_MIGRATION]

    operations = [
        declare_periodic_job("ingest-chunks-expire", "ingest.tasks.expire_chunk_sets", minutes=10)
    ]
