"""Gauges of the queue and the agents, read from the database at scrape time, so they
are right whichever web worker answers the scrape."""

from __future__ import annotations

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from agents.models import Agent, AgentHealth, Command, CommandPriority, CommandStatus
from agents.queue import HELD_STATUSES


class QueueAndAgentsCollector:
    """Gauges read from the database at scrape time (a handful of aggregate queries)."""

    def collect(self):
        depth = GaugeMetricFamily(
            "command_queue_depth", "Pending commands, by priority", labels=["priority"]
        )
        pending = Command.objects.filter(status=CommandStatus.PENDING)
        counts = dict(pending.values_list("priority").annotate(n=Count("id")).order_by())
        for priority in CommandPriority:
            depth.add_metric([priority.label], counts.get(priority.value, 0))
        yield depth

        oldest = pending.aggregate(oldest=Min("created_at"))["oldest"]
        age = GaugeMetricFamily(
            "command_queue_oldest_pending_seconds", "Age of the oldest pending command"
        )
        age.add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0.0)
        yield age

        health = GaugeMetricFamily("agents_by_health", "Agents, by health", labels=["health"])
        by_health = dict(Agent.objects.values_list("health").annotate(n=Count("id")).order_by())
        for value in AgentHealth.values:
            health.add_metric([value], by_health.get(value, 0))
        yield health

        jobs = GaugeMetricFamily(
            "agent_active_jobs", "Commands an agent holds now", labels=["tenant", "agent"]
        )
        held = dict(
            Command.objects.filter(status__in=HELD_STATUSES, agent__isnull=False)
            .values_list("agent_id")
            .annotate(n=Count("id"))
            .order_by()
        )
        for agent_id, tenant_slug, name in Agent.objects.values_list("id", "tenant__slug", "name"):
            jobs.add_metric([tenant_slug, name], held.get(agent_id, 0))
        yield jobs
