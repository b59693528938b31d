"""Declare the schedule that deletes chunk sets never completed (ingest/chunks.py),
every ten minutes."""

from __future__ import annotations

from django.db import migrations

from rediverio.lib.schedules import DJANGO_Q_MIGRATION, declare_schedule


class Migration(migrations.Migration):
    dependencies = [("ingest", "0005_ingest_chunks_size"), DJANGO_Q_MIGRATION]

    operations = [
        declare_schedule("ingest-chunks-expire", "ingest.tasks.expire_chunk_sets", minutes=10)
    ]
