"""Health for load balancers and metrics for Prometheus."""

from __future__ import annotations

from datetime import timedelta

from django.test import TestCase, override_settings
from django.utils import timezone
from django_q.models import Schedule

from agents.queue import command_enqueue, lease_commands
from agents.services import agent_create
from ingest.services import ingest_submit
from tests.factories import TenantFactory
from tests.ingest.test_ingest_api import flat_report


class Health(TestCase):
    def test_healthz_answers_while_the_process_lives(self):
        self.assertEqual(self.client.get("/healthz").json(), {"status": "ok"})

    def test_readyz_checks_database_broker_migrations_and_the_scheduler(self):
        Schedule.objects.filter(name="scans-tick").update(
            next_run=timezone.now() + timedelta(seconds=40)
        )
        response = self.client.get("/readyz")
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(
            set(response.json()["checks"]), {"database", "broker", "migrations", "scheduler"}
        )

    def test_readyz_is_503_when_no_cluster_has_ticked_lately(self):
        Schedule.objects.filter(name="scans-tick").update(
            next_run=timezone.now() - timedelta(minutes=5)
        )
        response = self.client.get("/readyz")
        self.assertEqual(response.status_code, 503)
        self.assertIn("no scheduler tick", response.json()["checks"]["scheduler"])


@override_settings(METRICS_TOKEN="s3cret")
class Metrics(TestCase):
    def scrape(self, **headers) -> str:
        headers.setdefault("HTTP_AUTHORIZATION", "Bearer s3cret")
        response = self.client.get(
            "/metrics", REMOTE_ADDR=headers.pop("addr", "10.0.0.7"), **headers
        )
        self.assertEqual(response.status_code, 200, response.content)
        return response.content.decode()

    def test_with_a_token_only_its_bearer_may_scrape(self):
        self.assertEqual(self.client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code, 401)
        self.scrape(addr="10.0.0.7")
        wrong = self.client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
        self.assertEqual(wrong.status_code, 401)

    @override_settings(METRICS_TOKEN="", DEBUG=False)
    def test_without_a_token_and_debug_off_even_loopback_is_refused(self):
        # A same-host reverse proxy makes every public request come from 127.0.0.1.
        for address in ("127.0.0.1", "::1", "10.0.0.7"):
            with self.subTest(address=address):
                response = self.client.get("/metrics", REMOTE_ADDR=address)
                self.assertEqual(response.status_code, 403)
                self.assertIn(b"METRICS_TOKEN", response.content)
                self.assertNotIn(b"agents_", response.content)

    @override_settings(METRICS_TOKEN="", DEBUG=True)
    def test_with_debug_on_and_no_token_loopback_clients_may_scrape(self):
        self.scrape(HTTP_AUTHORIZATION="", addr="127.0.0.1")
        self.assertEqual(self.client.get("/metrics", REMOTE_ADDR="10.0.0.7").status_code, 403)

    @override_settings(DEBUG=True)
    def test_with_a_token_set_loopback_needs_it_even_with_debug_on(self):
        self.assertEqual(self.client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code, 401)

    def test_the_seed_metrics_and_the_queue_gauges_are_exposed(self):
        tenant = TenantFactory(slug="acme")
        agent, _ = agent_create(tenant=tenant, name="worker-1")
        command_enqueue(tenant=tenant, type="scan", priority=20)
        command_enqueue(tenant=tenant, type="scan")
        lease_commands(agent=agent, limit=1)
        with self.captureOnCommitCallbacks(execute=True):
            ingest_submit(
                tenant=tenant,
                raw=__import__("json").dumps(flat_report("high", "low")).encode(),
                format="flat",
            )
        text = self.scrape()
        for name in (
            "scans_scheduled",
            "scan_execution_duration",
            "ingest_batch_size",
            "findings_ingested_total",
            "ingest_duration_seconds",
        ):
            self.assertIn(name, text)
        self.assertIn('command_queue_depth{priority="high"} 1.0', text)
        self.assertIn('command_queue_depth{priority="normal"} 1.0', text)
        self.assertIn("command_queue_oldest_pending_seconds", text)
        self.assertIn('agents_by_health{health="online"} 1.0', text)
        self.assertIn('agent_active_jobs{agent="worker-1",tenant="acme"} 0.0', text)
        self.assertIn('findings_ingested_total{outcome="created"}', text)

    def test_the_web_process_and_database_are_instrumented_too(self):
        self.client.get("/healthz")
        text = self.scrape()
        self.assertIn("django_http_requests_total_by_method_total", text)
        self.assertIn("django_db_execute_total", text)
