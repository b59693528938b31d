"""Agents authenticate with their key; everything else is refused with a clear error."""

from __future__ import annotations

from datetime import timedelta

from django.test import TestCase
from django.utils import timezone
from rest_framework.test import APIClient

from agents.models import AgentKey
from agents.queue import command_enqueue
from agents.services import agent_create
from tests.factories import TenantFactory

HEARTBEAT = "/api/v1/agent/heartbeat"
POLL = "/api/v1/agent/commands"


def bearer(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


class AgentAuthentication(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.agent, cls.key = agent_create(tenant=cls.tenant, name="worker")

    def assert_error(self, response, status: int, code: str):
        self.assertEqual(response.status_code, status, response.content)
        self.assertEqual(response.json()["error"]["code"], code)
        self.assertTrue(response.json()["error"]["message"])

    def test_a_bearer_key_is_accepted(self):
        self.assertEqual(bearer(self.key).post(HEARTBEAT).status_code, 200)

    def test_an_x_api_key_header_is_accepted(self):
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=self.key)
        self.assertEqual(client.post(HEARTBEAT).status_code, 200)

    def test_no_credentials_is_401(self):
        response = APIClient().post(HEARTBEAT)
        self.assert_error(response, 401, "UNAUTHORIZED")
        self.assertIn("Bearer", response["WWW-Authenticate"])

    def test_a_wrong_key_is_401(self):
        self.assert_error(bearer(self.key[:-4] + "AAAA").post(HEARTBEAT), 401, "UNAUTHORIZED")
        self.assert_error(bearer("rdv_nonsense").get(POLL), 401, "UNAUTHORIZED")

    def test_another_scheme_is_401(self):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {self.key}")
        self.assert_error(client.post(HEARTBEAT), 401, "UNAUTHORIZED")

    def test_a_revoked_key_is_401(self):
        AgentKey.objects.filter(agent=self.agent).update(revoked_at=timezone.now())
        self.assert_error(bearer(self.key).post(HEARTBEAT), 401, "UNAUTHORIZED")

    def test_an_expired_key_is_401(self):
        AgentKey.objects.filter(agent=self.agent).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        self.assert_error(bearer(self.key).post(HEARTBEAT), 401, "UNAUTHORIZED")

    def test_a_disabled_agent_is_403(self):
        self.agent.status = "disabled"
        self.agent.save()
        self.assert_error(bearer(self.key).post(HEARTBEAT), 403, "FORBIDDEN")

    def test_a_revoked_agent_is_403(self):
        self.agent.status = "revoked"
        self.agent.save()
        self.assert_error(bearer(self.key).get(POLL), 403, "FORBIDDEN")

    def test_an_agent_of_a_deactivated_tenant_is_403(self):
        self.tenant.is_active = False
        self.tenant.save()
        self.assert_error(bearer(self.key).post(HEARTBEAT), 403, "FORBIDDEN")

    def test_the_key_records_its_last_use_at_most_once_a_minute(self):
        client = bearer(self.key)
        client.post(HEARTBEAT)
        first = AgentKey.objects.get(agent=self.agent).last_used_at
        self.assertIsNotNone(first)
        with self.assertNumQueries(2):  # key lookup, heartbeat update: no key write
            client.post(HEARTBEAT)
        self.assertEqual(AgentKey.objects.get(agent=self.agent).last_used_at, first)

    def test_another_tenants_command_is_404(self):
        other = TenantFactory()
        theirs = command_enqueue(tenant=other, type="scan")
        for action in ("ack", "acknowledge", "start", "progress", "complete", "fail"):
            with self.subTest(action=action):
                response = bearer(self.key).post(
                    f"{POLL}/{theirs.pk}/{action}", {"percent": 5}, format="json"
                )
                self.assert_error(response, 404, "NOT_FOUND")

    def test_a_malformed_command_id_is_404(self):
        self.assert_error(bearer(self.key).post(f"{POLL}/not-a-uuid/ack"), 404, "NOT_FOUND")

    def test_unknown_api_paths_answer_in_the_api_error_shape(self):
        self.assert_error(bearer(self.key).get("/api/v1/agent/nope"), 404, "NOT_FOUND")


class ModuleGating(TestCase):
    """Commands and ingest need the `scans` module; the heartbeat does not."""

    @classmethod
    def setUpTestData(cls):
        tenant = TenantFactory(plan="team", modules_override={"scans": False})
        cls.agent, cls.key = agent_create(tenant=tenant, name="worker")

    def test_polling_is_refused_without_the_scans_module(self):
        response = bearer(self.key).get(POLL)
        self.assertEqual(response.status_code, 403)
        self.assertEqual(response.json()["error"]["code"], "MODULE_DISABLED")

    def test_lifecycle_calls_are_refused_without_the_scans_module(self):
        command = command_enqueue(tenant=self.agent.tenant, type="scan")
        response = bearer(self.key).post(f"{POLL}/{command.pk}/ack")
        self.assertEqual(response.json()["error"]["code"], "MODULE_DISABLED")

    def test_the_heartbeat_is_not_gated(self):
        self.assertEqual(bearer(self.key).post(HEARTBEAT).status_code, 200)


class RateLimit(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.agent, cls.key = agent_create(tenant=TenantFactory(), name="chatty")

    def test_too_many_requests_from_one_agent_get_429(self):
        client = bearer(self.key)
        with self.settings(AGENT_RATE_LIMIT="3/min"):
            statuses = [client.post(HEARTBEAT).status_code for _ in range(4)]
            response = client.get(POLL)
        self.assertEqual(statuses, [200, 200, 200, 429])
        self.assertEqual(response.json()["error"]["code"], "RATE_LIMITED")
        self.assertIn("Retry-After", response)
