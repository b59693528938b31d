"""Prometheus metrics: the ones counted where things happen.

Counters and histograms are counted where things happen — ingests in web workers and in
django-q2 clusters, scheduled runs in the tick (a cluster's worker) — so several
processes produce them. With PROMETHEUS_MULTIPROC_DIR set, prometheus_client's
multiprocess mode keeps each process's values in files there and adds them all up at
scrape time: in production one directory shared by every gunicorn worker and cluster on
the host, under `make run` var/metrics/ (emptied at each start) for the web server and
the cluster. It must be set before a process imports prometheus_client, hence in the
environment, never in settings. Without it each process counts alone and /metrics shows
only the web process's counts. Gauges of shared state (queue depth, agents…) are read
from the database when scraped, by the collectors apps add to SCRAPE_COLLECTORS when
Django starts them (agents/apps.py adds agents/metrics.py's); the endpoint is in
rediverio/health.py.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Histogram

# Collectors /metrics runs at each scrape besides the counters (prometheus_client's
# `collect()` protocol); an app appends its own from its AppConfig.ready().
SCRAPE_COLLECTORS: list[Any] = []

SCANS_SCHEDULED = Counter(
    "scans_scheduled", "Scan runs started, by trigger (scheduled, catch_up, manual…)", ["trigger"]
)
SCAN_EXECUTION_DURATION = Histogram(
    "scan_execution_duration",
    "Seconds from a scan session's start to its end, by scanner",
    ["scanner"],
    buckets=(5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200),
)
INGEST_BATCH_SIZE = Histogram(
    "ingest_batch_size",
    "Findings per ingested report",
    buckets=(0, 1, 10, 50, 100, 500, 1000, 5000, 10000, 50000, 100000),
)
FINDINGS_INGESTED = Counter(
    "findings_ingested", "Findings stored by ingests, by outcome", ["outcome"]
)
INGEST_DURATION = Histogram(
    "ingest_duration_seconds",
    "Seconds to parse and store a report, by format",
    ["format"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
