from __future__ import annotations

from django.test import TestCase

from agents.models import Agent
from agents.services import agent_create
from tests.agents.test_agent_auth import HEARTBEAT, bearer
from tests.factories import TenantFactory


class Heartbeat(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.agent, cls.key = agent_create(tenant=TenantFactory(), name="worker", tools=["bandit"])

    def beat(self, body=None, **kwargs):
        return bearer(self.key).post(HEARTBEAT, body, format="json", **kwargs)

    def test_an_empty_body_marks_the_agent_online_and_replies_with_its_ids(self):
        response = self.beat()
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.json(),
            {
                "status": "ok",
                "agent_id": str(self.agent.pk),
                "tenant_id": str(self.agent.tenant_id),
            },
        )
        agent = Agent.objects.get(pk=self.agent.pk)
        self.assertEqual(agent.health, "online")
        self.assertIsNotNone(agent.last_seen_at)

    def test_the_reference_fields_update_metrics_and_advertised_tools(self):
        self.beat(
            {
                "name": "worker",
                "status": "running",
                "version": "1.4.0",
                "hostname": "build-7",
                "message": "all good",
                "scanners": ["semgrep", "bandit"],
                "collectors": ["sarif-import"],
                "uptime_seconds": 3600,
                "total_scans": 12,
                "errors": 0,
                "cpu_percent": 12.5,
                "memory_percent": 41.0,
                "active_jobs": 2,
                "region": "eu-west-1",
                "some_future_field": "ignored",
            }
        )
        agent = Agent.objects.get(pk=self.agent.pk)
        self.assertEqual(
            (agent.version, agent.hostname, agent.region, agent.status_message),
            ("1.4.0", "build-7", "eu-west-1", "all good"),
        )
        self.assertEqual(
            (agent.cpu_percent, agent.memory_percent, agent.active_jobs), (12.5, 41.0, 2)
        )
        self.assertEqual(agent.reported_tools, ["bandit", "sarif-import", "semgrep"])
        self.assertEqual(agent.tools, ["bandit"])  # what the operator configured

    def test_capabilities_can_be_advertised(self):
        self.beat({"capabilities": ["sast", "secrets"]})
        agent = Agent.objects.get(pk=self.agent.pk)
        self.assertEqual(agent.reported_capabilities, ["sast", "secrets"])
        self.assertEqual(agent.effective_capabilities, ["sast", "secrets"])

    def test_reported_tools_are_kept_when_the_heartbeat_does_not_mention_them(self):
        self.beat({"scanners": ["semgrep"]})
        self.beat({"cpu_percent": 3})
        agent = Agent.objects.get(pk=self.agent.pk)
        self.assertEqual((agent.tools, agent.reported_tools), (["bandit"], ["semgrep"]))

    def test_a_reported_error_or_stop_shows_in_health(self):
        for reported, health in [
            ("error", "error"),
            ("stopping", "offline"),
            ("running", "online"),
        ]:
            with self.subTest(reported=reported):
                self.beat({"status": reported})
                self.assertEqual(Agent.objects.get(pk=self.agent.pk).health, health)

    def test_bad_fields_are_a_400_naming_the_field(self):
        for body, field in [
            ({"cpu_percent": 140}, "cpu_percent"),
            ({"status": "sleeping"}, "status"),
            ({"active_jobs": -1}, "active_jobs"),
            ({"scanners": "semgrep"}, "scanners"),
        ]:
            with self.subTest(field=field):
                response = self.beat(body)
                self.assertEqual(response.status_code, 400)
                self.assertIn(field, response.json()["error"]["message"])

    def test_malformed_json_is_a_400(self):
        response = bearer(self.key).post(HEARTBEAT, data=b"{oops", content_type="application/json")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["error"]["code"], "INVALID_BODY")

    def test_a_heartbeat_costs_one_read_and_one_write(self):
        self.beat()
        with self.assertNumQueries(2):
            self.beat({"cpu_percent": 5})
