"""Declare the one django-q2 schedule of the agents app: the queue sweep, every minute."""

from __future__ import annotations

from django.db import migrations

SCHEDULE = "agents-queue-sweep"


def declare(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE,
        defaults={
            "func": "agents.tasks.sweep_queue",
            "schedule_type": "I",  # minutes
            "minutes": 1,
            "repeats": -1,
        },
    )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0003_agentkey_agent_keys_by_prefix"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(declare, remove)]
