"""Every authenticated agent call is a sign of life, written at most every 15 s.

The invariant: after any authenticated call, the agent's `last_seen_at` is within
LIVENESS_WRITE_SECONDS of the call, and its health is `online` unless it reported
`error` in a heartbeat (which only a heartbeat changes). An agent that never heartbeats
(`rediverio-agent run` in CI, ingests only) is therefore not "unknown, last seen never".
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import time_machine
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.auth import agent_seen
from agents.models import Agent, AgentHealth
from agents.queue import LIVENESS_WRITE_SECONDS
from agents.services import agent_create
from tests.agents.test_agent_auth import HEARTBEAT, POLL, bearer
from tests.factories import TenantFactory
from tests.ingest.test_ingest_api import INGEST, flat_report

NOW = timezone.now().replace(microsecond=0)


def agent_row_updates(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith("UPDATE") and '"agents"' in q["sql"]
    ]


@time_machine.travel(NOW, tick=False)
class AnyCallIsASignOfLife(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.agent, cls.key = agent_create(tenant=cls.tenant, name="ci-runner", type="runner")

    def set_agent(self, **fields) -> None:
        Agent.objects.filter(pk=self.agent.pk).update(**fields)

    def seen(self) -> tuple:
        return Agent.objects.values_list("health", "last_seen_at").get(pk=self.agent.pk)

    def test_an_agent_that_only_sends_reports_is_online_and_seen_after_its_first_one(self):
        self.assertEqual(self.seen(), (AgentHealth.UNKNOWN, None))
        response = bearer(self.key).post(INGEST, flat_report("high"), format="json")
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(self.seen(), (AgentHealth.ONLINE, NOW))

    def test_an_agent_offline_for_its_silence_comes_back_online_on_any_call(self):
        self.set_agent(health=AgentHealth.OFFLINE, last_seen_at=NOW - timedelta(hours=2))
        # Even a call answered 404 proves the agent is alive.
        response = bearer(self.key).post(f"{POLL}/{uuid.uuid4()}/acknowledge")
        self.assertEqual(response.status_code, 404)
        self.assertEqual(self.seen(), (AgentHealth.ONLINE, NOW))

    def test_an_agent_that_reported_an_error_stays_in_error_but_is_seen(self):
        self.set_agent(health=AgentHealth.ERROR, last_seen_at=NOW - timedelta(minutes=5))
        response = bearer(self.key).post(f"{INGEST}/check", {"fingerprints": []}, format="json")
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(self.seen(), (AgentHealth.ERROR, NOW))

    def test_only_a_heartbeat_takes_an_agent_out_of_error(self):
        self.set_agent(health=AgentHealth.ERROR, last_seen_at=NOW - timedelta(minutes=5))
        bearer(self.key).post(HEARTBEAT, {"status": "running"}, format="json")
        self.assertEqual(self.seen(), (AgentHealth.ONLINE, NOW))

    def test_a_heartbeat_still_writes_its_row_once(self):
        self.set_agent(last_seen_at=NOW - timedelta(minutes=5))
        with CaptureQueriesContext(connection) as queries:
            bearer(self.key).post(HEARTBEAT, {"status": "error"}, format="json")
        self.assertEqual(len(agent_row_updates(queries)), 1)
        self.assertEqual(self.seen(), (AgentHealth.ERROR, NOW))

    def test_a_refused_key_records_nothing(self):
        bearer("rdv_not-a-real-key").post(INGEST, flat_report("high"), format="json")
        self.assertEqual(self.seen(), (AgentHealth.UNKNOWN, None))


@time_machine.travel(NOW, tick=False)
class TheSightingIsCheap(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.agent, cls.key = agent_create(tenant=cls.tenant, name="worker")

    def agent_as_authenticated(self, **fields) -> Agent:
        Agent.objects.filter(pk=self.agent.pk).update(**fields)
        return Agent.objects.get(pk=self.agent.pk)

    def test_a_call_soon_after_the_last_sighting_writes_nothing(self):
        agent = self.agent_as_authenticated(
            health=AgentHealth.ONLINE,
            last_seen_at=NOW - timedelta(seconds=LIVENESS_WRITE_SECONDS),
        )
        with self.assertNumQueries(0):
            self.assertFalse(agent_seen(agent=agent))

    def test_a_stale_sighting_is_one_update(self):
        agent = self.agent_as_authenticated(
            health=AgentHealth.ONLINE,
            last_seen_at=NOW - timedelta(seconds=LIVENESS_WRITE_SECONDS + 1),
        )
        with self.assertNumQueries(1):
            self.assertTrue(agent_seen(agent=agent))
        self.assertEqual(Agent.objects.get(pk=agent.pk).last_seen_at, NOW)

    def test_a_recent_sighting_of_an_offline_agent_still_brings_it_online(self):
        agent = self.agent_as_authenticated(health=AgentHealth.OFFLINE, last_seen_at=NOW)
        with self.assertNumQueries(1):
            agent_seen(agent=agent)
        self.assertEqual(Agent.objects.get(pk=agent.pk).health, AgentHealth.ONLINE)

    def test_an_error_reported_after_authentication_read_the_row_is_kept(self):
        # Authentication read the agent offline; a heartbeat reporting an error lands
        # before the sighting's UPDATE. The UPDATE decides from the row, not the read.
        agent = self.agent_as_authenticated(health=AgentHealth.OFFLINE, last_seen_at=None)
        Agent.objects.filter(pk=agent.pk).update(health=AgentHealth.ERROR)
        agent_seen(agent=agent)
        self.assertEqual(Agent.objects.get(pk=agent.pk).health, AgentHealth.ERROR)

    def test_a_poll_writes_the_agent_row_only_when_the_last_sighting_is_stale(self):
        def poll() -> CaptureQueriesContext:
            with CaptureQueriesContext(connection) as queries:
                self.assertEqual(bearer(self.key).get(POLL).status_code, 200)
            return queries

        bearer(self.key).get(POLL)  # the first use of a key also records it
        fresh = poll()
        self.assertEqual(agent_row_updates(fresh), [])
        with time_machine.travel(NOW + timedelta(seconds=LIVENESS_WRITE_SECONDS + 1)):
            stale = poll()
        self.assertEqual(len(agent_row_updates(stale)), 1)
        # The sighting replaces the lease's own liveness write; it does not add one.
        self.assertEqual(len(stale), len(fresh) + 1)

    def test_a_poll_of_a_recently_seen_agent_costs_seven_queries(self):
        bearer(self.key).get(POLL)  # the first use of a key also records it
        # key, savepoint, agent row (locked), control claim, held work, work claim,
        # release: the sighting adds nothing while the agent was seen in the last 15 s.
        with self.assertNumQueries(7):
            self.assertEqual(bearer(self.key).get(POLL).json(), [])
