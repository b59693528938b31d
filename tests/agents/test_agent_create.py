from __future__ import annotations

import hashlib

from django.test import TestCase

from agents.models import AgentKey
from agents.services import (
    AgentLimitReached,
    TooManyAgentKeys,
    agent_create,
    agent_key_issue,
)
from tests.factories import AgentFactory, TenantFactory


class AgentRegistration(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory(plan="team")

    def test_a_new_agent_gets_a_prefixed_key_stored_only_as_a_digest(self):
        agent, key = agent_create(tenant=self.tenant, name="worker-1", tools=["semgrep"])
        self.assertRegex(key, r"^rdv_[A-Za-z0-9_-]{40,}$")
        stored = AgentKey.objects.for_tenant(self.tenant).get(agent=agent)
        self.assertEqual(stored.digest, hashlib.sha256(key.encode()).hexdigest())
        self.assertEqual(stored.prefix, key[:12])

    def test_keys_are_unique(self):
        keys = {agent_create(tenant=self.tenant, name=f"w{i}")[1] for i in range(3)}
        self.assertEqual(len(keys), 3)

    def test_an_agent_has_at_most_two_active_keys(self):
        agent, _ = agent_create(tenant=self.tenant, name="worker-1")
        agent_key_issue(agent=agent)
        with self.assertRaises(TooManyAgentKeys):
            agent_key_issue(agent=agent)

    def test_revoked_agents_do_not_count_against_the_plan_limit(self):
        AgentFactory.create_batch(4, tenant=self.tenant)
        AgentFactory(tenant=self.tenant, status="revoked")
        agent_create(tenant=self.tenant, name="fifth")
        with self.assertRaises(AgentLimitReached):
            agent_create(tenant=self.tenant, name="sixth")

    def test_an_unlimited_plan_has_no_limit(self):
        tenant = TenantFactory(plan="enterprise")
        AgentFactory.create_batch(30, tenant=tenant)
        agent_create(tenant=tenant, name="thirty-first")
