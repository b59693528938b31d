"""The sweep's bookkeeping of a background ingest gets columns of its own (requeues,
interruptions, requeued_at) instead of living in `error`, which now only ever says why a
report was refused; ingests already requeued move their counts over."""

from datetime import datetime

from django.db import migrations, models


def move_bookkeeping(apps, schema_editor):
    IngestRun = apps.get_model("ingest", "IngestRun")
    for run in IngestRun.objects.filter(error__code="INGEST_REQUEUED").defer("payload"):
        note = run.error
        run.requeues = int(note.get("requeues") or 0)
        run.interruptions = int(note.get("interruptions") or 0)
        stamp = note.get("requeued_at")
        run.requeued_at = datetime.fromisoformat(stamp) if stamp else None
        run.error = None
        run.save(update_fields=["requeues", "interruptions", "requeued_at", "error"])


class Migration(migrations.Migration):
    dependencies = [("ingest", "0006_ingest_chunks_expire_schedule")]

    operations = [
        migrations.AddField(
            model_name="ingestrun",
            name="interruptions",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="ingestrun",
            name="requeued_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="ingestrun",
            name="requeues",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="ingestrun",
            name="error",
            field=models.JSONField(blank=True, help_text="Why the report was refused.", null=True),
        ),
        migrations.RunPython(move_bookkeeping, migrations.RunPython.noop),
    ]
