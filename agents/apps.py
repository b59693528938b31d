from __future__ import annotations

from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "agents"

    def ready(self) -> None:
        from agents.metrics import QueueAndAgentsCollector
        from rediverio.metrics import SCRAPE_COLLECTORS

        # The queue's and the agents' gauges, read from the database when /metrics is
        # scraped (rediverio/health.py).
        if not any(isinstance(c, QueueAndAgentsCollector) for c in SCRAPE_COLLECTORS):
            SCRAPE_COLLECTORS.append(QueueAndAgentsCollector())
