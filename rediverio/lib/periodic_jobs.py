"""The periodic jobs, each declared by its app's migration as a django-q2 schedule (not to
be confused with a scan's schedule, scans/schedules.py).

One helper for every app, so each periodic job is declared the same way: a named
schedule every N minutes that repeats for ever, created (or updated) on migrate and
removed when the migration is reversed.
"""

from __future__ import annotations

from django.db import migrations

# The django-q2 migration that our schedule migrations depend on.
DJANGO_Q_MIGRATION = ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")


def declare_periodic_job(name: str, func: str, *, minutes: int = 1) -> migrations.RunPython:
    """A migration operation that declares schedule `name` running `func` every
    `minutes`."""

    def declare(apps, schema_editor):
        apps.get_model("django_q", "Schedule").objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": "I",  # minutes
                "minutes": minutes,
                "repeats": -1,
            },
        )

    def remove(apps, schema_editor):
        apps.get_model("django_q", "Schedule").objects.filter(name=name).delete()

    return migrations.RunPython(declare, remove)
