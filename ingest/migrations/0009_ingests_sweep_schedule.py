"""The per-minute sweep of background ingests is named for them: the django-q2 schedule
`ingest-runs-sweep` (declared by 0002) becomes `ingests-sweep`, and runs
ingest.tasks.sweep_ingests. Tasks the schedule queued before the upgrade name the old
function, which ingest/tasks.py still answers to."""

from __future__ import annotations

from django.db import migrations

from rediverio.lib.periodic_jobs import DJANGO_Q_MIGRATION

BEFORE = ("ingest-runs-sweep", "ingest.tasks.sweep_ingest_runs")
AFTER = ("ingests-sweep", "ingest.tasks.sweep_ingests")


def point(schedule_from: tuple[str, str], schedule_to: tuple[str, str]):
    def update(apps, schema_editor):
        name, func = schedule_to
        Schedule = apps.get_model("django_q", "Schedule")
        Schedule.objects.filter(name=schedule_from[0]).update(name=name, func=func)

    return update


class Migration(migrations.Migration):
    dependencies = [("ingest", "0008_rename_ingestrun_ingest"), DJANGO_Q_MIGRATION]

    operations = [migrations.RunPython(point(BEFORE, AFTER), point(AFTER, BEFORE))]
