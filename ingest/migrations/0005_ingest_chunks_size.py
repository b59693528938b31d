"""Chunks carry their size, so the limits of ingest/chunks.py add sizes up without
reading the chunks; chunks already stored get theirs. An index lets the expiry find old
sets."""

from django.db import migrations, models
from django.db.models.functions import Length


def measure(apps, schema_editor):
    apps.get_model("ingest", "IngestChunk").objects.update(size=Length("data"))


class Migration(migrations.Migration):
    dependencies = [("ingest", "0004_ingest_runs_idempotency_key")]

    operations = [
        migrations.AddField(
            model_name="ingestchunk",
            name="size",
            field=models.PositiveIntegerField(default=0, help_text="Bytes in `data`."),
        ),
        migrations.RunPython(measure, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="ingestchunk",
            index=models.Index(fields=["created_at"], name="ingest_chunks_created"),
        ),
    ]
