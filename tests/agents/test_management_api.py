"""The agent management API (`/api/v1/agents…`), as a team's users and scripts see it."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import User
from django.test import TestCase
from django.utils import timezone
from rest_framework.test import APIClient

from agents.models import Agent, AgentKey, AgentStatus, Command, CommandStatus
from agents.queue import command_acknowledge, command_enqueue, command_start, lease_commands
from agents.services import agent_create, agent_heartbeat
from rediverio.models import ApiToken, Membership, Tenant
from rediverio.services import api_token_create
from tests.factories import (
    AgentFactory,
    AgentKeyFactory,
    MembershipFactory,
    TenantFactory,
    UserFactory,
)

AGENTS = "/api/v1/agents"
HEARTBEAT = "/api/v1/agent/heartbeat"
PASSWORD = "correct horse battery"
KEY_FIELDS = {"id", "prefix", "name", "created_at", "last_used_at", "expires_at", "revoked_at"}


def agent_url(agent: Agent | str) -> str:
    return f"{AGENTS}/{getattr(agent, 'pk', agent)}"


def keys_url(agent: Agent | str) -> str:
    return f"{agent_url(agent)}/keys"


def key_url(agent: Agent | str, key: AgentKey | str) -> str:
    return f"{keys_url(agent)}/{getattr(key, 'pk', key)}"


def member(tenant: Tenant, role: str) -> User:
    return MembershipFactory(tenant=tenant, role=role).user


def client(user: User | None = None) -> APIClient:
    api = APIClient()
    # A crash must show up as a 500 to assert on, not as an exception in the test.
    api.raise_request_exception = False
    if user is not None:
        api.force_login(user)
    return api


def token_client(secret: str) -> APIClient:
    api = client()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api


def heartbeat(key: str):
    return client().post(
        HEARTBEAT, {"status": "running"}, format="json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )


class ManagementApiTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory(plan="team")
        cls.owner = member(cls.tenant, "owner")
        cls.admin = member(cls.tenant, "admin")
        cls.member = member(cls.tenant, "member")
        cls.viewer = member(cls.tenant, "viewer")
        cls.other_tenant = TenantFactory(plan="team")
        cls.outsider = member(cls.other_tenant, "owner")

    def setUp(self):
        self.api = client(self.admin)

    def assert_error(self, response, status: int, code: str) -> dict:
        self.assertEqual(response.status_code, status, response.content)
        body = response.json()
        self.assertEqual(set(body), {"error"})
        self.assertEqual(set(body["error"]), {"code", "message", "details"})
        self.assertEqual(body["error"]["code"], code)
        self.assertTrue(body["error"]["message"])
        return body["error"]

    def assert_validation_error(self, response, field: str) -> dict:
        error = self.assert_error(response, 400, "VALIDATION_ERROR")
        self.assertTrue(
            error["message"].startswith(f"{field}:"),
            f"{error['message']!r} does not name {field!r}",
        )
        self.assertIn(field, error["details"])
        return error

    def create(self, **body):
        return self.api.post(AGENTS, {"name": "worker-1", **body}, format="json")

    def every_endpoint(self, agent_id: str, key_id: str):
        """(method, url, body) for each operation of the management API."""
        return [
            ("get", AGENTS, None),
            ("post", AGENTS, {"name": "new-one"}),
            ("get", agent_url(agent_id), None),
            ("put", agent_url(agent_id), {"name": "renamed"}),
            ("patch", agent_url(agent_id), {"description": "changed"}),
            ("delete", agent_url(agent_id), None),
            ("get", keys_url(agent_id), None),
            ("post", keys_url(agent_id), {}),
            ("delete", key_url(agent_id, key_id), None),
        ]

    def call(self, api: APIClient, method: str, url: str, body):
        return getattr(api, method)(url, body, format="json")


class AgentList(ManagementApiTestCase):
    def test_it_lists_only_the_callers_tenants_agents(self):
        mine = AgentFactory.create_batch(2, tenant=self.tenant)
        AgentFactory(tenant=self.other_tenant)
        response = self.api.get(AGENTS, {"limit": 50})
        self.assertEqual(response.status_code, 200)
        self.assertEqual({a["id"] for a in response.json()["results"]}, {str(a.pk) for a in mine})

    def test_it_answers_a_page_with_the_total_and_links_ordered_by_name(self):
        for name in ("charlie", "alpha", "bravo"):
            AgentFactory(tenant=self.tenant, name=name)
        response = self.api.get(AGENTS, {"limit": 2})
        self.assertEqual(response.status_code, 200)
        page = response.json()
        self.assertEqual(set(page), {"count", "next", "previous", "results"})
        self.assertEqual(page["count"], 3)
        self.assertEqual([a["name"] for a in page["results"]], ["alpha", "bravo"])
        self.assertIsNone(page["previous"])
        self.assertIn("offset=2", page["next"])
        second = self.api.get(page["next"]).json()
        self.assertEqual([a["name"] for a in second["results"]], ["charlie"])
        self.assertIsNone(second["next"])

    def test_without_a_limit_it_answers_the_first_page(self):
        AgentFactory.create_batch(3, tenant=self.tenant)
        response = self.api.get(AGENTS)
        self.assertEqual(response.status_code, 200)
        page = response.json()
        self.assertEqual(set(page), {"count", "next", "previous", "results"})
        self.assertEqual(page["count"], 3)
        self.assertEqual(len(page["results"]), 3)

    def test_an_agent_is_listed_with_its_public_fields(self):
        AgentFactory(tenant=self.tenant, name="w", labels={"region": "eu"})
        (listed,) = self.api.get(AGENTS, {"limit": 10}).json()["results"]
        self.assertEqual(listed["name"], "w")
        self.assertEqual(listed["labels"], {"region": "eu"})
        for field in ("id", "status", "health", "capabilities", "tools", "max_concurrent_jobs"):
            self.assertIn(field, listed)
        self.assertNotIn("api_key", listed)
        self.assertNotIn("tenant", listed)

    def test_it_filters_by_status_health_and_type(self):
        AgentFactory(tenant=self.tenant, name="plain")
        AgentFactory(tenant=self.tenant, name="off", status="disabled")
        AgentFactory(tenant=self.tenant, name="up", health="online")
        AgentFactory(tenant=self.tenant, name="ci", type="runner")
        AgentFactory(tenant=self.other_tenant, name="theirs", status="disabled", type="runner")
        cases = [
            ({"status": "disabled"}, ["off"]),
            ({"status": "active"}, ["ci", "plain", "up"]),
            ({"health": "online"}, ["up"]),
            ({"health": "unknown"}, ["ci", "off", "plain"]),
            ({"type": "runner"}, ["ci"]),
            ({"type": "runner", "status": "disabled"}, []),
        ]
        for query, names in cases:
            with self.subTest(query=query):
                response = self.api.get(AGENTS, {**query, "limit": 50})
                self.assertEqual(response.status_code, 200)
                self.assertEqual([a["name"] for a in response.json()["results"]], names)
                self.assertEqual(response.json()["count"], len(names))

    def test_search_looks_in_name_and_hostname_ignoring_case(self):
        AgentFactory(tenant=self.tenant, name="Build-EU")
        AgentFactory(tenant=self.tenant, name="plain", hostname="eu-host-3")
        AgentFactory(tenant=self.tenant, name="us-runner", hostname="us-1")
        AgentFactory(tenant=self.other_tenant, name="eu-theirs")
        response = self.api.get(AGENTS, {"search": "eu", "limit": 50})
        self.assertEqual([a["name"] for a in response.json()["results"]], ["Build-EU", "plain"])


class AgentCreation(ManagementApiTestCase):
    def test_it_registers_an_agent_and_returns_its_key_once(self):
        response = self.create(
            type="collector",
            labels={"region": "eu"},
            max_concurrent_jobs=3,
        )
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertRegex(body["api_key"], r"^rdv_[A-Za-z0-9_-]{40,}$")
        agent = Agent.objects.for_tenant(self.tenant).get(pk=body["id"])
        self.assertEqual(agent.name, "worker-1")
        self.assertEqual(agent.type, "collector")
        self.assertEqual(agent.labels, {"region": "eu"})
        self.assertEqual(agent.max_concurrent_jobs, 3)
        self.assertEqual(agent.created_by, self.admin)
        self.assertEqual(body["name"], "worker-1")
        self.assertEqual(body["status"], "active")
        self.assertEqual(body["health"], "unknown")

    def test_the_description_and_execution_mode_are_set_at_creation(self):
        response = self.create(description="EU collectors", execution_mode="standalone")
        self.assertEqual(response.status_code, 201, response.content)
        agent = Agent.objects.for_tenant(self.tenant).get(pk=response.json()["id"])
        self.assertEqual(agent.description, "EU collectors")
        self.assertEqual(agent.execution_mode, "standalone")

    def test_capabilities_and_tools_are_stored_sorted_without_duplicates(self):
        response = self.create(capabilities=["sca", "sast", "sast"], tools=["trivy", "bandit"])
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(response.json()["capabilities"], ["sast", "sca"])
        self.assertEqual(response.json()["tools"], ["bandit", "trivy"])
        agent = Agent.objects.for_tenant(self.tenant).get(pk=response.json()["id"])
        self.assertEqual(agent.capabilities, ["sast", "sca"])
        self.assertEqual(agent.tools, ["bandit", "trivy"])

    def test_the_new_key_authenticates_the_agent_on_the_agent_protocol(self):
        key = self.create().json()["api_key"]
        response = heartbeat(key)
        self.assertEqual(response.status_code, 200, response.content)
        agent = Agent.objects.for_tenant(self.tenant).get(name="worker-1")
        self.assertEqual(response.json()["agent_id"], str(agent.pk))
        self.assertEqual(response.json()["tenant_id"], str(self.tenant.pk))

    def test_the_key_is_never_returned_again(self):
        created = self.create().json()
        key = created["api_key"]
        for url in (AGENTS + "?limit=10", agent_url(created["id"]), keys_url(created["id"])):
            with self.subTest(url=url):
                response = self.api.get(url)
                self.assertEqual(response.status_code, 200)
                self.assertNotIn(key, response.content.decode())
                self.assertNotIn("api_key", response.content.decode())

    def test_a_new_agent_is_active_and_unseen_whatever_the_body_says(self):
        response = self.create(status="disabled", health="online", hostname="spoofed")
        self.assertEqual(response.status_code, 201, response.content)
        agent = Agent.objects.for_tenant(self.tenant).get(pk=response.json()["id"])
        self.assertEqual(agent.status, AgentStatus.ACTIVE)
        self.assertEqual(agent.health, "unknown")
        self.assertEqual(agent.hostname, "")

    def test_defaults_apply_to_fields_left_out(self):
        body = self.create().json()
        self.assertEqual(body["type"], "worker")
        self.assertEqual(body["capabilities"], [])
        self.assertEqual(body["labels"], {})
        self.assertEqual(body["max_concurrent_jobs"], 5)


class AgentDetail(ManagementApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.agent, cls.key = agent_create(
            tenant=cls.tenant,
            name="worker-1",
            capabilities=["sast"],
            tools=["semgrep"],
            labels={"region": "eu"},
        )

    def test_get_returns_the_agent(self):
        response = self.api.get(agent_url(self.agent))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["id"], str(self.agent.pk))
        self.assertEqual(response.json()["name"], "worker-1")
        self.assertEqual(response.json()["tools"], ["semgrep"])

    def test_it_shows_what_the_agent_reports_beside_what_was_configured(self):
        agent_heartbeat(agent=self.agent, report={"scanners": ["bandit"]})
        body = self.api.get(agent_url(self.agent)).json()
        self.assertEqual((body["tools"], body["reported_tools"]), (["semgrep"], ["bandit"]))
        response = self.api.patch(
            agent_url(self.agent), {"reported_tools": ["nuclei"]}, format="json"
        )
        self.assertEqual(response.json()["reported_tools"], ["bandit"], "read only")

    def test_put_replaces_the_editable_fields(self):
        body = {
            "name": "worker-renamed",
            "description": "now in the US",
            "type": "collector",
            "execution_mode": "standalone",
            "labels": {"region": "us"},
            "max_concurrent_jobs": 9,
        }
        response = self.api.put(agent_url(self.agent), body, format="json")
        self.assertEqual(response.status_code, 200, response.content)
        self.agent.refresh_from_db()
        self.assertEqual(self.agent.name, "worker-renamed")
        self.assertEqual(self.agent.description, "now in the US")
        self.assertEqual(self.agent.type, "collector")
        self.assertEqual(self.agent.execution_mode, "standalone")
        self.assertEqual(self.agent.labels, {"region": "us"})
        self.assertEqual(self.agent.max_concurrent_jobs, 9)
        self.assertEqual(response.json()["name"], "worker-renamed")

    def test_put_and_patch_change_capabilities_and_tools(self):
        body = {"name": "worker-1", "capabilities": ["sca", "sast"], "tools": ["trivy"]}
        response = self.api.put(agent_url(self.agent), body, format="json")
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json()["capabilities"], ["sast", "sca"])
        response = self.api.patch(agent_url(self.agent), {"tools": ["grype"]}, format="json")
        self.assertEqual(response.status_code, 200, response.content)
        self.agent.refresh_from_db()
        self.assertEqual(self.agent.capabilities, ["sast", "sca"])
        self.assertEqual(self.agent.tools, ["grype"])

    def test_put_needs_the_name(self):
        response = self.api.put(agent_url(self.agent), {"description": "x"}, format="json")
        self.assert_validation_error(response, "name")

    def test_put_may_keep_the_agents_own_name(self):
        response = self.api.put(
            agent_url(self.agent), {"name": "worker-1", "description": "same"}, format="json"
        )
        self.assertEqual(response.status_code, 200, response.content)

    def test_patch_changes_only_the_given_fields(self):
        response = self.api.patch(agent_url(self.agent), {"description": "hello"}, format="json")
        self.assertEqual(response.status_code, 200, response.content)
        self.agent.refresh_from_db()
        self.assertEqual(self.agent.description, "hello")
        self.assertEqual(self.agent.name, "worker-1")
        self.assertEqual(self.agent.tools, ["semgrep"])
        self.assertEqual(self.agent.labels, {"region": "eu"})

    def test_read_only_fields_are_not_changed_by_an_update(self):
        body = {
            "health": "online",
            "hostname": "spoofed",
            "active_jobs": 7,
            "id": str(uuid.uuid4()),
        }
        response = self.api.patch(agent_url(self.agent), body, format="json")
        self.assertEqual(response.status_code, 200, response.content)
        self.agent.refresh_from_db()
        self.assertEqual(self.agent.health, "unknown")
        self.assertEqual(self.agent.hostname, "")
        self.assertEqual(self.agent.active_jobs, 0)
        self.assertEqual(response.json()["id"], str(self.agent.pk))

    def test_delete_removes_the_agent_and_its_keys(self):
        response = self.api.delete(agent_url(self.agent))
        self.assertEqual(response.status_code, 204)
        self.assertEqual(response.content, b"")
        self.assertFalse(Agent.objects.for_tenant(self.tenant).filter(pk=self.agent.pk).exists())
        self.assertFalse(AgentKey.objects.for_tenant(self.tenant).exists())
        self.assert_error(self.api.get(agent_url(self.agent)), 404, "NOT_FOUND")
        self.assertEqual(heartbeat(self.key).status_code, 401)

    def test_deleting_an_agent_puts_its_work_back_in_the_queue(self):
        command = command_enqueue(tenant=self.tenant, type="scan", required_tools=["semgrep"])
        self.assertEqual(len(lease_commands(agent=self.agent, limit=5)), 1)
        self.assertEqual(self.api.delete(agent_url(self.agent)).status_code, 204)
        command.refresh_from_db()
        self.assertEqual(command.status, CommandStatus.PENDING)
        self.assertIsNone(command.agent_id)
        self.assertIsNone(command.lease_expires_at)


class Authentication(ManagementApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.agent, _ = agent_create(tenant=cls.tenant, name="worker-1")
        cls.key = AgentKey.objects.for_tenant(cls.tenant).get(agent=cls.agent)

    def test_anonymous_callers_are_refused_everywhere_with_the_error_shape(self):
        for method, url, body in self.every_endpoint(self.agent.pk, self.key.pk):
            with self.subTest(method=method, url=url):
                response = self.call(client(), method, url, body)
                self.assertIn(response.status_code, (401, 403))
                self.assertEqual(response.json()["error"]["code"], "UNAUTHORIZED")
                self.assertEqual(set(response.json()["error"]), {"code", "message", "details"})
        self.assertTrue(Agent.objects.for_tenant(self.tenant).filter(pk=self.agent.pk).exists())

    def test_a_session_login_works(self):
        api = client()
        # Through the sign-in form: login throttling needs the request (Client.login has none).
        signed_in = api.post("/login/", {"username": self.admin.username, "password": PASSWORD})
        self.assertEqual(signed_in.status_code, 302)
        self.assertEqual(api.get(AGENTS, {"limit": 10}).status_code, 200)
        self.assertEqual(api.post(AGENTS, {"name": "via-session"}, format="json").status_code, 201)

    def test_session_writes_need_the_csrf_token(self):
        api = APIClient(enforce_csrf_checks=True)
        api.force_login(self.admin)
        refused = api.post(AGENTS, {"name": "no-csrf"}, format="json")
        error = self.assert_error(refused, 403, "FORBIDDEN")
        self.assertIn("CSRF", error["message"])
        token = "abcdefghijklmnopqrstuvwxyzABCDEF"
        api.cookies["csrftoken"] = token
        accepted = api.post(AGENTS, {"name": "csrf"}, format="json", HTTP_X_CSRFTOKEN=token)
        self.assertEqual(accepted.status_code, 201, accepted.content)

    def test_an_api_token_works_as_a_bearer_token(self):
        _, secret = api_token_create(tenant=self.tenant, user=self.admin, name="ci")
        self.assertTrue(secret.startswith("rdu_"))
        api = token_client(secret)
        self.assertEqual(api.get(AGENTS, {"limit": 10}).status_code, 200)
        created = api.post(AGENTS, {"name": "via-token"}, format="json")
        self.assertEqual(created.status_code, 201, created.content)
        self.assertEqual(
            Agent.objects.for_tenant(self.tenant).get(name="via-token").created_by, self.admin
        )

    def test_api_tokens_do_not_need_a_csrf_token(self):
        _, secret = api_token_create(tenant=self.tenant, user=self.admin, name="ci")
        api = APIClient(enforce_csrf_checks=True)
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        self.assertEqual(api.post(AGENTS, {"name": "script"}, format="json").status_code, 201)

    def test_a_revoked_token_is_refused_with_401(self):
        token, secret = api_token_create(tenant=self.tenant, user=self.admin, name="ci")
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
        response = token_client(secret).get(AGENTS, {"limit": 10})
        self.assert_error(response, 401, "UNAUTHORIZED")

    def test_an_unknown_token_is_refused_with_401(self):
        _, secret = api_token_create(tenant=self.tenant, user=self.admin, name="ci")
        forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
        self.assert_error(token_client(forged).get(AGENTS), 401, "UNAUTHORIZED")

    def test_the_token_of_a_deactivated_user_is_refused(self):
        _, secret = api_token_create(tenant=self.tenant, user=self.admin, name="ci")
        User.objects.filter(pk=self.admin.pk).update(is_active=False)
        self.assert_error(token_client(secret).get(AGENTS), 401, "UNAUTHORIZED")

    def test_an_agent_key_is_not_a_user_token(self):
        _, key = agent_create(tenant=self.tenant, name="worker-2")
        response = token_client(key).get(AGENTS, {"limit": 10})
        self.assertIn(response.status_code, (401, 403))
        self.assertEqual(response.json()["error"]["code"], "UNAUTHORIZED")

    def test_a_token_acts_only_in_its_own_tenant(self):
        user = UserFactory()
        # The other membership is older, so it is what a session would pick by default.
        MembershipFactory(user=user, tenant=self.other_tenant, role="owner")
        MembershipFactory(user=user, tenant=self.tenant, role="admin")
        theirs = AgentFactory(tenant=self.other_tenant, name="theirs")
        _, secret = api_token_create(tenant=self.tenant, user=user, name="ci")
        api = token_client(secret)

        listed = api.get(AGENTS, {"limit": 50}).json()["results"]
        self.assertEqual([a["name"] for a in listed], ["worker-1"])
        self.assert_error(api.get(agent_url(theirs)), 404, "NOT_FOUND")
        self.assert_error(api.delete(agent_url(theirs)), 404, "NOT_FOUND")
        created = api.post(AGENTS, {"name": "made-by-token"}, format="json")
        self.assertEqual(created.status_code, 201)
        self.assertEqual(Agent.objects.get(pk=created.json()["id"]).tenant, self.tenant)

    def test_a_token_acts_with_the_users_role_in_the_tokens_tenant(self):
        user = UserFactory()
        MembershipFactory(user=user, tenant=self.other_tenant, role="owner")
        MembershipFactory(user=user, tenant=self.tenant, role="viewer")
        _, secret = api_token_create(tenant=self.tenant, user=user, name="ci")
        api = token_client(secret)
        self.assertEqual(api.get(AGENTS, {"limit": 10}).status_code, 200)
        self.assert_error(api.post(AGENTS, {"name": "x"}, format="json"), 403, "FORBIDDEN")

    def test_a_token_is_silenced_when_its_user_leaves_the_tenant(self):
        _, secret = api_token_create(tenant=self.tenant, user=self.admin, name="ci")
        Membership.objects.for_tenant(self.tenant).filter(user=self.admin).delete()
        self.assert_error(token_client(secret).get(AGENTS), 403, "NO_TENANT")

    def test_a_signed_in_user_without_a_team_is_refused(self):
        response = client(UserFactory()).get(AGENTS, {"limit": 10})
        self.assert_error(response, 403, "NO_TENANT")


class Roles(ManagementApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.agent, _ = agent_create(tenant=cls.tenant, name="worker-1")
        cls.key = AgentKey.objects.for_tenant(cls.tenant).get(agent=cls.agent)

    def writes(self):
        return [
            (m, url, body)
            for m, url, body in self.every_endpoint(self.agent.pk, self.key.pk)
            if m != "get"
        ]

    def test_a_viewer_can_list_and_read(self):
        api = client(self.viewer)
        for url in (AGENTS + "?limit=10", agent_url(self.agent), keys_url(self.agent)):
            with self.subTest(url=url):
                self.assertEqual(api.get(url).status_code, 200)

    def test_viewers_and_members_cannot_write(self):
        for user in (self.viewer, self.member):
            api = client(user)
            for method, url, body in self.writes():
                with self.subTest(role=user.memberships.get().role, method=method, url=url):
                    error = self.assert_error(self.call(api, method, url, body), 403, "FORBIDDEN")
                    self.assertIn("admin", error["message"])
        self.agent.refresh_from_db()
        self.assertEqual(self.agent.name, "worker-1")
        self.assertEqual(self.agent.description, "")
        self.assertEqual(Agent.objects.for_tenant(self.tenant).count(), 1)
        self.assertEqual(AgentKey.objects.for_tenant(self.tenant).usable().count(), 1)

    def test_admins_and_owners_can_write(self):
        for user in (self.admin, self.owner):
            api = client(user)
            role = user.memberships.get().role
            with self.subTest(role=role):
                created = api.post(AGENTS, {"name": f"by-{role}"}, format="json")
                self.assertEqual(created.status_code, 201, created.content)
                agent_id = created.json()["id"]
                put = api.put(agent_url(agent_id), {"name": f"by-{role}-2"}, format="json")
                self.assertEqual(put.status_code, 200, put.content)
                patch = api.patch(agent_url(agent_id), {"description": "d"}, format="json")
                self.assertEqual(patch.status_code, 200, patch.content)
                rotated = api.post(keys_url(agent_id), {}, format="json")
                self.assertEqual(rotated.status_code, 201, rotated.content)
                revoked = api.delete(key_url(agent_id, rotated.json()["key"]["id"]))
                self.assertIn(revoked.status_code, (200, 204))
                self.assertEqual(api.delete(agent_url(agent_id)).status_code, 204)


class CrossTenant(ManagementApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.mine, _ = agent_create(tenant=cls.tenant, name="mine")
        cls.my_key = AgentKey.objects.for_tenant(cls.tenant).get(agent=cls.mine)
        cls.theirs, cls.their_secret = agent_create(tenant=cls.other_tenant, name="theirs")
        cls.their_key = AgentKey.objects.for_tenant(cls.other_tenant).get(agent=cls.theirs)

    def test_another_tenants_agent_is_not_found(self):
        for method, url, body in self.every_endpoint(self.theirs.pk, self.their_key.pk):
            if url == AGENTS:
                continue
            with self.subTest(method=method, url=url):
                self.assert_error(self.call(self.api, method, url, body), 404, "NOT_FOUND")
        self.theirs.refresh_from_db()
        self.assertEqual(self.theirs.name, "theirs")
        self.assertEqual(self.theirs.description, "")
        keys = AgentKey.objects.for_tenant(self.other_tenant).filter(agent=self.theirs)
        self.assertEqual(list(keys.usable()), [self.their_key])
        self.assertEqual(heartbeat(self.their_secret).status_code, 200)

    def test_another_tenants_key_is_not_found_under_my_agent(self):
        response = self.api.delete(key_url(self.mine, self.their_key))
        self.assert_error(response, 404, "NOT_FOUND")
        self.their_key.refresh_from_db()
        self.assertIsNone(self.their_key.revoked_at)

    def test_a_key_of_another_agent_is_not_found_under_this_one(self):
        other, _ = agent_create(tenant=self.tenant, name="other")
        other_key = AgentKey.objects.for_tenant(self.tenant).get(agent=other)
        self.assert_error(self.api.delete(key_url(self.mine, other_key)), 404, "NOT_FOUND")
        other_key.refresh_from_db()
        self.assertIsNone(other_key.revoked_at)

    def test_unknown_and_malformed_ids_are_not_found_never_a_crash(self):
        bad_ids = [str(uuid.uuid4()), "not-a-uuid", "123", "0193a5f0-zzzz", "%20", "x" * 300]
        for bad in bad_ids:
            for method, url, body in self.every_endpoint(bad, self.my_key.pk):
                if url == AGENTS:
                    continue
                with self.subTest(id=bad, method=method, url=url):
                    self.assert_error(self.call(self.api, method, url, body), 404, "NOT_FOUND")
            with self.subTest(key_id=bad):
                response = self.api.delete(key_url(self.mine, bad))
                self.assert_error(response, 404, "NOT_FOUND")
        self.assertEqual(Agent.objects.for_tenant(self.tenant).count(), 1)
        self.my_key.refresh_from_db()
        self.assertIsNone(self.my_key.revoked_at)


class PlanLimits(ManagementApiTestCase):
    def test_creating_beyond_the_agent_limit_is_refused_with_a_clear_message(self):
        AgentFactory.create_batch(5, tenant=self.tenant)
        response = self.create(name="sixth")
        error = self.assert_error(response, 403, "PLAN_LIMIT")
        self.assertIn("team", error["message"])
        self.assertIn("5", error["message"])
        self.assertFalse(Agent.objects.for_tenant(self.tenant).filter(name="sixth").exists())

    def test_revoked_agents_free_their_place(self):
        AgentFactory.create_batch(4, tenant=self.tenant)
        AgentFactory(tenant=self.tenant, status="revoked")
        self.assertEqual(self.create(name="fifth").status_code, 201)
        self.assert_error(self.create(name="sixth"), 403, "PLAN_LIMIT")

    def test_reviving_a_revoked_agent_cannot_exceed_the_limit(self):
        revoked = AgentFactory(tenant=self.tenant, status="revoked")
        AgentFactory.create_batch(5, tenant=self.tenant)
        response = self.api.patch(agent_url(revoked), {"status": "active"}, format="json")
        self.assertIn(response.status_code, (400, 403, 409), response.content)
        revoked.refresh_from_db()
        self.assertEqual(revoked.status, AgentStatus.REVOKED)
        live = Agent.objects.for_tenant(self.tenant).exclude(status=AgentStatus.REVOKED)
        self.assertEqual(live.count(), 5)

    def test_a_tenant_override_raises_the_limit(self):
        Tenant.objects.filter(pk=self.tenant.pk).update(limits_override={"agent_limit": 6})
        AgentFactory.create_batch(5, tenant=self.tenant)
        self.assertEqual(self.create(name="sixth").status_code, 201)

    def test_the_free_plan_closes_every_endpoint(self):
        tenant = TenantFactory(plan="free")
        owner = member(tenant, "owner")
        key = AgentKeyFactory(tenant=tenant)
        agent = key.agent
        api = client(owner)
        for method, url, body in self.every_endpoint(agent.pk, key.pk):
            with self.subTest(method=method, url=url):
                error = self.assert_error(self.call(api, method, url, body), 403, "MODULE_DISABLED")
                self.assertIn("scans", error["message"])
        agent.refresh_from_db()
        self.assertEqual(agent.status, AgentStatus.ACTIVE)
        self.assertEqual(Agent.objects.for_tenant(tenant).count(), 1)

    def test_switching_the_scans_module_off_closes_the_api(self):
        Tenant.objects.filter(pk=self.tenant.pk).update(modules_override={"scans": False})
        self.assert_error(self.api.get(AGENTS), 403, "MODULE_DISABLED")


class Validation(ManagementApiTestCase):
    def test_the_name_is_required(self):
        response = self.api.post(AGENTS, {"type": "worker"}, format="json")
        self.assert_validation_error(response, "name")

    def test_a_blank_name_is_refused(self):
        self.assert_validation_error(self.create(name="   "), "name")

    def test_names_are_unique_within_a_tenant(self):
        AgentFactory(tenant=self.tenant, name="worker-1")
        error = self.assert_validation_error(self.create(name="worker-1"), "name")
        self.assertIn("already", error["message"])
        self.assert_validation_error(self.create(name="  worker-1 "), "name")
        self.assertEqual(Agent.objects.for_tenant(self.tenant).count(), 1)

    def test_another_tenant_may_use_the_same_name(self):
        AgentFactory(tenant=self.tenant, name="worker-1")
        response = client(self.outsider).post(AGENTS, {"name": "worker-1"}, format="json")
        self.assertEqual(response.status_code, 201, response.content)

    def test_renaming_onto_another_agents_name_is_refused(self):
        AgentFactory(tenant=self.tenant, name="taken")
        agent = AgentFactory(tenant=self.tenant, name="free")
        for method in ("put", "patch"):
            with self.subTest(method=method):
                response = self.call(self.api, method, agent_url(agent), {"name": "taken"})
                self.assert_validation_error(response, "name")
        agent.refresh_from_db()
        self.assertEqual(agent.name, "free")

    def test_bad_fields_are_refused_naming_the_field(self):
        cases = [
            ("capabilities", ["SAST!"]),
            ("capabilities", "sast"),
            ("tools", ["semgrep", "bad tool"]),
            ("labels", ["region", "eu"]),
            ("labels", {"bad key!": "x"}),
            ("max_concurrent_jobs", 0),
            ("max_concurrent_jobs", "many"),
            ("type", "robot"),
            ("execution_mode", "sometimes"),
        ]
        for field, value in cases:
            with self.subTest(field=field, value=value):
                response = self.create(**{field: value})
                error = self.assert_validation_error(response, field)
                if value == ["SAST!"]:
                    self.assertIn("SAST!", error["message"])
        self.assertFalse(Agent.objects.for_tenant(self.tenant).exists())

    def test_an_update_with_a_bad_field_changes_nothing(self):
        agent = AgentFactory(tenant=self.tenant, name="w")
        cases = [("status", "paused"), ("max_concurrent_jobs", 0), ("capabilities", ["SAST!"])]
        for field, value in cases:
            with self.subTest(field=field):
                response = self.api.patch(agent_url(agent), {field: value}, format="json")
                self.assert_validation_error(response, field)
        agent.refresh_from_db()
        self.assertEqual(agent.status, AgentStatus.ACTIVE)
        self.assertEqual(agent.max_concurrent_jobs, 5)

    def test_a_body_that_is_not_json_is_refused(self):
        response = self.api.post(AGENTS, "{name", content_type="application/json")
        self.assert_error(response, 400, "INVALID_BODY")


class Keys(ManagementApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.agent, cls.first_secret = agent_create(tenant=cls.tenant, name="worker-1")
        cls.first_key = AgentKey.objects.for_tenant(cls.tenant).get(agent=cls.agent)

    def rotate(self, **body):
        return self.api.post(keys_url(self.agent), body, format="json")

    def test_it_lists_the_agents_keys_by_prefix_without_secrets(self):
        response = self.api.get(keys_url(self.agent))
        self.assertEqual(response.status_code, 200)
        (key,) = response.json()
        self.assertEqual(set(key), KEY_FIELDS)
        self.assertEqual(key["id"], str(self.first_key.pk))
        self.assertEqual(key["prefix"], self.first_secret[:12])
        self.assertIsNone(key["revoked_at"])
        content = response.content.decode()
        self.assertNotIn(self.first_key.digest, content)
        self.assertNotIn(self.first_secret, content)

    def test_it_lists_only_this_agents_keys(self):
        agent_create(tenant=self.tenant, name="other")
        self.assertEqual(len(self.api.get(keys_url(self.agent)).json()), 1)

    def test_rotation_issues_a_new_key_shown_once(self):
        response = self.rotate(name="2026-11")
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual(set(body), {"api_key", "key"})
        self.assertTrue(body["api_key"].startswith("rdv_"))
        self.assertEqual(set(body["key"]), KEY_FIELDS)
        self.assertEqual(body["key"]["prefix"], body["api_key"][:12])
        self.assertEqual(body["key"]["name"], "2026-11")
        self.assertEqual(heartbeat(body["api_key"]).status_code, 200)
        # Without revoke_others the old key keeps working, for a rolling switch-over.
        self.assertEqual(heartbeat(self.first_secret).status_code, 200)
        listed = self.api.get(keys_url(self.agent))
        self.assertEqual(len(listed.json()), 2)
        self.assertNotIn(body["api_key"], listed.content.decode())

    def test_a_third_active_key_is_refused(self):
        self.assertEqual(self.rotate().status_code, 201)
        error = self.assert_error(self.rotate(), 409, "TOO_MANY_KEYS")
        self.assertIn("revoke", error["message"])
        self.assertEqual(
            AgentKey.objects.for_tenant(self.tenant).filter(agent=self.agent).count(), 2
        )

    def test_revoke_others_leaves_only_the_new_key(self):
        second = self.rotate().json()["api_key"]
        response = self.rotate(revoke_others=True)
        self.assertEqual(response.status_code, 201, response.content)
        newest = response.json()["api_key"]
        self.assertEqual(heartbeat(self.first_secret).status_code, 401)
        self.assertEqual(heartbeat(second).status_code, 401)
        self.assertEqual(heartbeat(newest).status_code, 200)
        usable = AgentKey.objects.for_tenant(self.tenant).filter(agent=self.agent).usable()
        self.assertEqual([k.pk for k in usable], [uuid.UUID(response.json()["key"]["id"])])

    def test_deleting_a_key_revokes_it(self):
        second = self.rotate().json()
        response = self.api.delete(key_url(self.agent, self.first_key))
        self.assertIn(response.status_code, (200, 204))
        self.first_key.refresh_from_db()
        self.assertIsNotNone(self.first_key.revoked_at)
        self.assertEqual(heartbeat(self.first_secret).status_code, 401)
        self.assertEqual(heartbeat(second["api_key"]).status_code, 200)
        listed = {k["id"]: k for k in self.api.get(keys_url(self.agent)).json()}
        self.assertIsNotNone(listed[str(self.first_key.pk)]["revoked_at"])
        self.assertIsNone(listed[second["key"]["id"]]["revoked_at"])

    def test_revoking_twice_keeps_the_first_revocation_time(self):
        self.api.delete(key_url(self.agent, self.first_key))
        self.first_key.refresh_from_db()
        revoked_at = self.first_key.revoked_at
        response = self.api.delete(key_url(self.agent, self.first_key))
        self.assertIn(response.status_code, (200, 204))
        self.first_key.refresh_from_db()
        self.assertEqual(self.first_key.revoked_at, revoked_at)

    def test_a_revoked_key_frees_a_place_for_a_new_one(self):
        self.rotate()
        self.api.delete(key_url(self.agent, self.first_key))
        self.assertEqual(self.rotate().status_code, 201)

    def test_a_bad_rotation_body_is_refused(self):
        response = self.rotate(name="x" * 101)
        self.assert_validation_error(response, "name")
        self.assertEqual(AgentKey.objects.for_tenant(self.tenant).count(), 1)


class DisablingAndRevoking(ManagementApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.agent, cls.secret = agent_create(
            tenant=cls.tenant, name="worker-1", capabilities=["sast"], tools=["semgrep"]
        )
        cls.bystander, _ = agent_create(tenant=cls.tenant, name="worker-2", tools=["semgrep"])

    def hold_work(self) -> list[Command]:
        """Three commands held by the agent: leased, acknowledged, and running."""
        for _ in range(3):
            command_enqueue(tenant=self.tenant, type="scan", required_tools=["semgrep"])
        leased = lease_commands(agent=self.agent, limit=3)
        self.assertEqual(len(leased), 3)
        command_acknowledge(agent=self.agent, command_id=leased[1].pk)
        command_start(agent=self.agent, command_id=leased[2].pk)
        return leased

    def bystander_work(self) -> Command:
        command = command_enqueue(
            tenant=self.tenant, type="scan", required_tools=["semgrep"], target_agent=self.bystander
        )
        self.assertEqual(lease_commands(agent=self.bystander, limit=1), [command])
        return command

    def assert_back_in_the_queue(self, commands: list[Command]) -> None:
        statuses = Command.objects.for_tenant(self.tenant).filter(pk__in=[c.pk for c in commands])
        for command in statuses:
            with self.subTest(command=command.pk):
                self.assertEqual(command.status, CommandStatus.PENDING)
                self.assertIsNone(command.agent_id)
                self.assertIsNone(command.lease_expires_at)

    def disable(self, status: str = "disabled"):
        response = self.api.patch(agent_url(self.agent), {"status": status}, format="json")
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json()["status"], status)
        return response

    def test_disabling_an_agent_takes_back_the_commands_it_held(self):
        held = self.hold_work()
        theirs = self.bystander_work()
        self.disable()
        self.assert_back_in_the_queue(held)
        theirs.refresh_from_db()
        self.assertEqual(theirs.agent_id, self.bystander.pk)

    def test_a_disabled_agents_key_is_refused_with_403(self):
        self.disable()
        self.assertEqual(heartbeat(self.secret).status_code, 403)
        self.assertEqual(
            AgentKey.objects.for_tenant(self.tenant).filter(agent=self.agent).usable().count(), 1
        )

    def test_a_disabled_agent_can_be_enabled_again(self):
        self.disable()
        self.api.patch(agent_url(self.agent), {"status": "active"}, format="json")
        self.assertEqual(heartbeat(self.secret).status_code, 200)

    def test_disabling_through_put_takes_back_the_work_too(self):
        held = self.hold_work()
        body = {"name": "worker-1", "status": "disabled"}
        self.assertEqual(self.api.put(agent_url(self.agent), body, format="json").status_code, 200)
        self.assert_back_in_the_queue(held)

    def test_revoking_an_agent_takes_back_its_work_and_revokes_all_its_keys(self):
        held = self.hold_work()
        second = self.api.post(keys_url(self.agent), {}, format="json").json()["api_key"]
        self.disable("revoked")
        self.assert_back_in_the_queue(held)
        keys = AgentKey.objects.for_tenant(self.tenant).filter(agent=self.agent)
        self.assertEqual(keys.count(), 2)
        self.assertFalse(keys.usable().exists())
        self.assertEqual(heartbeat(self.secret).status_code, 401)
        self.assertEqual(heartbeat(second).status_code, 401)

    def test_revoking_a_disabled_agent_revokes_its_keys(self):
        self.disable()
        self.disable("revoked")
        usable = AgentKey.objects.for_tenant(self.tenant).filter(agent=self.agent).usable()
        self.assertFalse(usable.exists())
