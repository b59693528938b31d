"""Declare the one django-q2 schedule of the agents app: the queue sweep, every minute."""

from __future__ import annotations

from django.db import migrations

from rediverio.lib.periodic_jobs import DJANGO_Q_MIGRATION, declare_periodic_job


class Migration(migrations.Migration):
    dependencies = [("agents", "0003_agentkey_agent_keys_by_prefix"), DJANGO_Q_MIGRATION]

    operations = [declare_periodic_job("agents-queue-sweep", "agents.tasks.sweep_queue")]
