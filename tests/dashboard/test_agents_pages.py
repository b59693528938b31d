"""The agents pages: health and load, register (key shown once), disable, revoke, why not."""

from __future__ import annotations

import hashlib

from django.test import TestCase

from agents.models import Agent, AgentKey
from agents.queue import command_acknowledge, command_enqueue, lease_commands
from agents.services import agent_create
from scans.services import scan_create
from tests.factories import AgentFactory, MembershipFactory, TenantFactory


class AgentsPages(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory(plan="team")
        cls.admin = MembershipFactory(tenant=cls.tenant, role="admin").user
        cls.viewer = MembershipFactory(tenant=cls.tenant, role="viewer").user
        cls.agent, _ = agent_create(
            tenant=cls.tenant, name="build-7", tools=["bandit"], max_concurrent_jobs=3
        )
        cls.theirs = AgentFactory(tenant=TenantFactory(), name="their-agent")

    def setUp(self):
        self.client.force_login(self.admin)

    def test_the_list_shows_the_teams_agents_with_their_load(self):
        command = command_enqueue(tenant=self.tenant, type="scan")
        lease_commands(agent=self.agent, limit=1)
        command_acknowledge(agent=self.agent, command_id=command.pk)
        response = self.client.get("/agents/")
        self.assertContains(response, "build-7")
        self.assertContains(response, "1 / 3")
        self.assertNotContains(response, "their-agent")

    def test_the_list_costs_the_same_queries_for_few_or_many_agents(self):
        self.client.get("/agents/")
        with self.assertNumQueries(5) as few:  # session, user, membership, agents, held work
            self.client.get("/agents/")
        for i in range(20):
            AgentFactory(tenant=self.tenant, name=f"extra-{i}")
        with self.assertNumQueries(len(few.captured_queries)):
            self.client.get("/agents/")

    def test_registering_shows_the_key_once_and_stores_only_its_digest(self):
        response = self.client.post(
            "/agents/register/",
            {
                "name": "ci-runner",
                "type": "runner",
                "tools": "semgrep, bandit",
                "labels": "pool=ci",
                "max_concurrent_jobs": 1,
            },
        )
        key = response.context["key"]
        self.assertContains(response, key)
        agent = Agent.objects.for_tenant(self.tenant).get(name="ci-runner")
        self.assertEqual((agent.tools, agent.labels), (["bandit", "semgrep"], {"pool": "ci"}))
        self.assertEqual(
            AgentKey.objects.get(agent=agent).digest, hashlib.sha256(key.encode()).hexdigest()
        )
        self.assertNotContains(self.client.get(f"/agents/{agent.pk}/"), key)

    def test_a_bad_registration_says_what_is_wrong(self):
        response = self.client.post(
            "/agents/register/",
            {"name": "x", "type": "worker", "tools": "Bad Tool!", "max_concurrent_jobs": 1},
        )
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "use lower-case letters", status_code=400)

    def test_the_plan_limit_is_explained(self):
        for i in range(4):
            AgentFactory(tenant=self.tenant, name=f"a{i}")
        response = self.client.post(
            "/agents/register/", {"name": "sixth", "type": "worker", "max_concurrent_jobs": 1}
        )
        self.assertContains(response, "allows 5 agent(s)", status_code=400)

    def test_disable_enable_and_revoke(self):
        self.client.post(f"/agents/{self.agent.pk}/disable/")
        self.assertEqual(Agent.objects.get(pk=self.agent.pk).status, "disabled")
        self.client.post(f"/agents/{self.agent.pk}/enable/")
        self.assertEqual(Agent.objects.get(pk=self.agent.pk).status, "active")
        self.client.post(f"/agents/{self.agent.pk}/revoke/")
        self.assertEqual(Agent.objects.get(pk=self.agent.pk).status, "revoked")
        self.assertFalse(AgentKey.objects.filter(agent=self.agent).usable().exists())

    def test_the_detail_page_explains_why_an_agent_cannot_run_a_scan(self):
        scan = scan_create(
            tenant=self.tenant, name="trivy scan", scanner_name="trivy", tags=["region=eu"]
        )
        response = self.client.get(f"/agents/{self.agent.pk}/", {"scan": str(scan.pk)})
        self.assertContains(response, "missing tools: trivy")
        self.assertContains(response, "labels do not match tags: region=eu")

    def test_viewers_see_but_cannot_manage(self):
        self.client.force_login(self.viewer)
        self.assertNotContains(self.client.get("/agents/"), "Register an agent")
        self.assertEqual(self.client.post(f"/agents/{self.agent.pk}/revoke/").status_code, 403)
        self.assertEqual(self.client.post("/agents/register/", {"name": "x"}).status_code, 403)
        self.assertEqual(Agent.objects.get(pk=self.agent.pk).status, "active")

    def test_another_teams_agent_is_404(self):
        self.assertEqual(self.client.get(f"/agents/{self.theirs.pk}/").status_code, 404)
        self.assertEqual(self.client.post(f"/agents/{self.theirs.pk}/disable/").status_code, 404)
        self.assertEqual(self.client.get("/agents/not-a-uuid/").status_code, 404)

    def test_anonymous_visitors_are_sent_to_sign_in(self):
        self.client.logout()
        self.assertRedirects(self.client.get("/agents/"), "/login/?next=/agents/")
