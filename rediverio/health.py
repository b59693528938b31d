"""Operational endpoints: health for load balancers, metrics for Prometheus.

- /healthz: the process answers (no dependency checked: a liveness probe that touched
  the database would restart every web worker when the database blips);
- /readyz: the database answers, the background-job broker answers, every migration is
  applied, and the scheduler tick was scheduled within the last two minutes.
"""

from __future__ import annotations

import hmac
import os
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from rediverio.metrics import SCRAPE_COLLECTORS

TICK_SCHEDULE = "scans-tick"
TICK_FRESHNESS = timedelta(minutes=2)


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _broker() -> str:
    if settings.REDIS_URL:
        import redis

        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
        return "ok (redis)"
    return "ok (database)"  # the ORM broker is the database checked above


def _migrations() -> str:
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        raise RuntimeError(f"{len(pending)} migration(s) not applied")
    return "ok"


def _scheduler() -> str:
    """django-q2 moves a schedule's next_run on each time a cluster runs it, so a
    next_run in the recent past or the future means a cluster is ticking."""
    from django_q.models import Schedule

    schedule = Schedule.objects.filter(name=TICK_SCHEDULE).first()
    if schedule is None:
        raise RuntimeError("the scheduler tick is not scheduled")
    if schedule.next_run is None or schedule.next_run < timezone.now() - TICK_FRESHNESS:
        raise RuntimeError("no scheduler tick in the last two minutes: is a cluster running?")
    return "ok"


CHECKS = {
    "database": _database,
    "broker": _broker,
    "migrations": _migrations,
    "scheduler": _scheduler,
}


def readyz(request: HttpRequest) -> JsonResponse:
    results, ready = {}, True
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", with its reason
            results[name] = f"failing: {exc}"
            ready = False
    return JsonResponse(
        {"status": "ready" if ready else "not ready", "checks": results},
        status=200 if ready else 503,
    )


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every process of the host writes its counters there; add them all up.
        multiprocess.MultiProcessCollector(registry)
    else:
        for collector in list(REGISTRY._collector_to_names):
            registry.register(collector)
    for collector in SCRAPE_COLLECTORS:
        registry.register(collector)
    return registry


def _metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        presented = request.META.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(presented.encode(), token.encode())
    # Loopback without a token only while developing: behind a same-host reverse proxy
    # every request, the public's included, arrives from 127.0.0.1.
    return settings.DEBUG and request.META.get("REMOTE_ADDR") in ("127.0.0.1", "::1")


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition: `Authorization: Bearer <METRICS_TOKEN>` is required, except
    from loopback with DEBUG on and no token set. Without a token in production the
    endpoint stays closed (403) rather than fall back to trusting an address."""
    if not _metrics_allowed(request):
        if settings.METRICS_TOKEN:
            return HttpResponse("metrics: not allowed\n", status=401, content_type="text/plain")
        return HttpResponse(
            "metrics: closed; set METRICS_TOKEN and scrape with `Authorization: Bearer`\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
