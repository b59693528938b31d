"""Polling leases the most urgent commands the agent qualifies for, within its slots."""

from __future__ import annotations

import json
from datetime import timedelta

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from agents.models import Command, CommandEvent, CommandPriority
from agents.queue import command_acknowledge, command_enqueue, lease_commands
from agents.services import agent_create
from tests.agents.test_agent_auth import POLL, bearer
from tests.factories import TenantFactory

P = CommandPriority


class PollOverHttp(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.agent, cls.key = agent_create(tenant=cls.tenant, name="worker")

    def test_it_returns_a_bare_array_of_commands_in_the_reference_shape(self):
        command = command_enqueue(
            tenant=self.tenant,
            type="scan",
            priority=P.HIGH,
            payload={"scanner": "semgrep", "target": "github.com/acme/api", "config": {}},
        )
        response = bearer(self.key).get(POLL, {"limit": 10})
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertIsInstance(body, list)
        self.assertEqual(len(body), 1)
        wire = body[0]
        self.assertEqual(wire["id"], str(command.pk))
        self.assertEqual(wire["tenant_id"], str(self.tenant.pk))
        self.assertEqual(wire["type"], "scan")
        self.assertEqual(wire["priority"], "high")
        self.assertEqual(wire["payload"]["scanner"], "semgrep")
        self.assertEqual(wire["status"], "pending")
        for field in ("created_at", "expires_at", "acknowledged_at", "started_at", "result"):
            self.assertIn(field, wire)

    def test_an_empty_queue_gives_an_empty_array(self):
        self.assertEqual(bearer(self.key).get(POLL).json(), [])

    def test_a_bad_limit_is_a_400(self):
        for limit in ("0", "-3", "ten"):
            with self.subTest(limit=limit):
                response = bearer(self.key).get(POLL, {"limit": limit})
                self.assertEqual(response.status_code, 400)
                self.assertIn("limit", response.json()["error"]["message"])

    def test_the_poll_runs_a_fixed_number_of_queries_whatever_the_queue_length(self):
        def queries_for_one_poll() -> int:
            with CaptureQueriesContext(connection) as queries:
                self.assertEqual(len(bearer(self.key).get(POLL, {"limit": 3}).json()), 3)
            # Hand the three back so the agent's free slots are the same each time.
            Command.objects.filter(agent=self.agent).update(agent=None, lease_expires_at=None)
            return len(queries)

        bearer(self.key).get(POLL)  # the first use of a key also records it
        Command.objects.bulk_create(
            Command(tenant=self.tenant, type="scan", available_at=timezone.now()) for _ in range(10)
        )
        short_queue = queries_for_one_poll()
        Command.objects.bulk_create(
            Command(tenant=self.tenant, type="scan", available_at=timezone.now())
            for _ in range(1000)
        )
        self.assertEqual(queries_for_one_poll(), short_queue)
        # key, agent row, control claim, held work, work claim, events (+ savepoints)
        self.assertLessEqual(short_queue, 8)


class LeaseOrderAndEligibility(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.agent, _ = agent_create(
            tenant=cls.tenant,
            name="worker",
            capabilities=["sast", "secrets"],
            tools=["bandit", "semgrep"],
            labels={"region": "eu", "pool": "ci"},
            max_concurrent_jobs=3,
        )

    def enqueue(self, **kwargs):
        return command_enqueue(tenant=self.tenant, type=kwargs.pop("type", "scan"), **kwargs)

    def test_most_urgent_first_then_oldest(self):
        start = timezone.now()
        low = self.enqueue(priority=P.LOW, now=start)
        old_normal = self.enqueue(priority=P.NORMAL, now=start)
        critical = self.enqueue(priority=P.CRITICAL, now=start)
        new_normal = self.enqueue(priority=P.NORMAL, now=start)
        high = self.enqueue(priority=P.HIGH, now=start)
        Command.objects.filter(pk=new_normal.pk).update(created_at=start + timedelta(seconds=5))
        Command.objects.filter(pk=old_normal.pk).update(created_at=start - timedelta(seconds=5))
        self.agent.max_concurrent_jobs = 10
        leased = lease_commands(agent=self.agent, limit=10)
        self.assertEqual(
            [c.pk for c in leased], [critical.pk, high.pk, old_normal.pk, new_normal.pk, low.pk]
        )

    def test_a_lease_is_recorded_with_the_agent_and_counts_an_attempt(self):
        command = self.enqueue()
        (leased,) = lease_commands(agent=self.agent, limit=1)
        self.assertEqual((leased.agent_id, leased.attempts), (self.agent.pk, 1))
        self.assertGreater(leased.lease_expires_at, timezone.now())
        event = CommandEvent.objects.filter(command=command).last()
        self.assertEqual((event.agent_id, event.to_status), (self.agent.pk, "pending"))
        self.assertIn("leased", event.message)

    def test_a_leased_command_is_not_handed_out_again_while_the_lease_holds(self):
        self.enqueue()
        other, _ = agent_create(tenant=self.tenant, name="other", capabilities=["sast"])
        self.assertEqual(len(lease_commands(agent=self.agent, limit=5)), 1)
        self.assertEqual(lease_commands(agent=other, limit=5), [])
        self.assertEqual(lease_commands(agent=self.agent, limit=5), [])

    def test_never_more_work_than_free_slots(self):
        for _ in range(5):
            self.enqueue()
        self.assertEqual(len(lease_commands(agent=self.agent, limit=10)), 3)
        self.assertEqual(lease_commands(agent=self.agent, limit=10), [])

    def test_running_work_takes_slots(self):
        for _ in range(4):
            self.enqueue()
        first, second = lease_commands(agent=self.agent, limit=2)
        command_acknowledge(agent=self.agent, command_id=first.pk)
        self.assertEqual(len(lease_commands(agent=self.agent, limit=10)), 1)

    def test_control_commands_need_no_slot(self):
        for _ in range(3):
            self.enqueue()
        lease_commands(agent=self.agent, limit=10)  # all slots busy
        cancel = self.enqueue(type="cancel", target_agent=self.agent, priority=P.CRITICAL)
        health = self.enqueue(type="health_check")
        self.enqueue()  # more work: must wait for a slot
        self.assertEqual(
            {c.pk for c in lease_commands(agent=self.agent, limit=10)}, {cancel.pk, health.pk}
        )

    def test_the_limit_caps_the_batch(self):
        for _ in range(3):
            self.enqueue()
        self.assertEqual(len(lease_commands(agent=self.agent, limit=2)), 2)

    def test_expired_and_not_yet_available_commands_are_not_handed_out(self):
        now = timezone.now()
        self.enqueue(ttl_seconds=60, now=now - timedelta(minutes=5))
        later = self.enqueue()
        Command.objects.filter(pk=later.pk).update(available_at=now + timedelta(minutes=1))
        self.assertEqual(lease_commands(agent=self.agent, limit=10, now=now), [])

    def test_it_hands_out_only_what_the_agent_qualifies_for(self):
        other_agent, _ = agent_create(tenant=self.tenant, name="other")
        fits = [
            self.enqueue(required_capabilities=["sast"], required_tools=["semgrep"]),
            self.enqueue(tags=["region=eu", "pool"]),
            self.enqueue(target_agent=self.agent),
        ]
        self.enqueue(required_capabilities=["dast"])
        self.enqueue(required_tools=["trivy"])
        self.enqueue(tags=["region=us"])
        self.enqueue(tags=["gpu"])
        self.enqueue(target_agent=other_agent)
        self.enqueue(run_on_tenant_runner=True)  # only for runner agents
        self.enqueue(type="collect")  # only for collectors
        self.agent.max_concurrent_jobs = 20
        self.assertEqual(
            {c.pk for c in lease_commands(agent=self.agent, limit=20)}, {c.pk for c in fits}
        )

    def test_runners_take_only_scans_that_ask_for_tenant_runners(self):
        runner, _ = agent_create(tenant=self.tenant, name="ci", type="runner")
        self.enqueue()
        wanted = self.enqueue(run_on_tenant_runner=True)
        self.assertEqual([c.pk for c in lease_commands(agent=runner, limit=10)], [wanted.pk])

    def test_collectors_take_collect_commands(self):
        collector, _ = agent_create(tenant=self.tenant, name="importer", type="collector")
        self.enqueue()
        wanted = self.enqueue(type="collect")
        self.assertEqual([c.pk for c in lease_commands(agent=collector, limit=10)], [wanted.pk])

    def test_an_agent_never_receives_another_tenants_commands(self):
        other_tenant = TenantFactory()
        for _ in range(3):
            command_enqueue(tenant=other_tenant, type="scan")
        self.assertEqual(lease_commands(agent=self.agent, limit=10), [])

    def test_a_poll_is_a_sign_of_life(self):
        lease_commands(agent=self.agent, limit=1)
        self.agent.refresh_from_db()
        self.assertEqual(self.agent.health, "online")
        self.assertIsNotNone(self.agent.last_seen_at)


class WireShape(TestCase):
    def test_the_hand_built_wire_shape_equals_the_documented_serializer(self):
        from agents.api.serializers import CommandSerializer, command_wire

        tenant = TenantFactory()
        agent, _ = agent_create(tenant=tenant, name="w")
        command_enqueue(tenant=tenant, type="scan", payload={"scanner": "bandit"}, priority=P.HIGH)
        (leased,) = lease_commands(agent=agent, limit=1)
        command_acknowledge(agent=agent, command_id=leased.pk)

        def rendered(data) -> dict:
            return json.loads(JSONRenderer().render(data))

        for command in (leased, Command.objects.get(pk=leased.pk)):
            self.assertEqual(
                rendered(command_wire(command)), rendered(CommandSerializer(command).data)
            )
