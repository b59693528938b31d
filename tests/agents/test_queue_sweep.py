"""The per-minute sweep: offline agents, lost leases, TTL expiry, pruning."""

from __future__ import annotations

from datetime import timedelta

from django.test import TestCase, override_settings
from django.utils import timezone
from django_q.models import Schedule

from agents.models import Agent, Command, CommandEvent
from agents.queue import (
    command_acknowledge,
    command_complete,
    command_enqueue,
    lease_commands,
    queue_sweep,
)
from agents.services import agent_create, agent_heartbeat
from agents.tasks import sweep_queue
from tests.factories import TenantFactory


@override_settings(
    AGENT_OFFLINE_AFTER_SECONDS=90, COMMAND_ACK_TIMEOUT_SECONDS=120, COMMAND_RETENTION_DAYS=7
)
class QueueSweep(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.agent, _ = agent_create(tenant=cls.tenant, name="worker")

    def setUp(self):
        self.now = timezone.now()
        agent_heartbeat(agent=self.agent, report={}, now=self.now)

    def later(self, seconds: int):
        return self.now + timedelta(seconds=seconds)

    def test_it_is_scheduled_every_minute_by_one_named_schedule(self):
        schedule = Schedule.objects.get(name="agents-queue-sweep")
        self.assertEqual(
            (schedule.func, schedule.schedule_type, schedule.minutes),
            ("agents.tasks.sweep_queue", "I", 1),
        )

    def test_an_agent_silent_for_three_heartbeats_goes_offline(self):
        self.assertEqual(queue_sweep(now=self.later(89)).agents_offline, 0)
        self.assertEqual(queue_sweep(now=self.later(91)).agents_offline, 1)
        self.assertEqual(Agent.objects.get(pk=self.agent.pk).health, "offline")
        agent_heartbeat(agent=self.agent, report={}, now=self.later(95))
        self.assertEqual(Agent.objects.get(pk=self.agent.pk).health, "online")

    def test_a_lease_not_acknowledged_in_time_returns_to_the_queue(self):
        command = command_enqueue(tenant=self.tenant, type="scan", now=self.now)
        lease_commands(agent=self.agent, limit=1, now=self.now)
        agent_heartbeat(agent=self.agent, report={}, now=self.later(119))
        self.assertEqual(queue_sweep(now=self.later(119)).leases_requeued, 0)
        agent_heartbeat(agent=self.agent, report={}, now=self.later(121))
        self.assertEqual(queue_sweep(now=self.later(121)).leases_requeued, 1)
        command.refresh_from_db()
        self.assertEqual((command.status, command.agent_id), ("pending", None))
        self.assertIn("requeued", CommandEvent.objects.filter(command=command).last().message)
        other, _ = agent_create(tenant=self.tenant, name="other")
        self.assertEqual(len(lease_commands(agent=other, limit=1, now=self.later(122))), 1)

    def test_work_of_an_agent_that_stopped_heart_beating_returns_to_the_queue(self):
        command = command_enqueue(tenant=self.tenant, type="scan", now=self.now)
        lease_commands(agent=self.agent, limit=1, now=self.now)
        command_acknowledge(agent=self.agent, command_id=command.pk, now=self.now)
        self.assertEqual(queue_sweep(now=self.later(60)).leases_requeued, 0)
        result = queue_sweep(now=self.later(100))
        self.assertEqual((result.agents_offline, result.leases_requeued), (1, 1))
        command.refresh_from_db()
        self.assertEqual((command.status, command.agent_id), ("pending", None))

    def test_lost_work_out_of_attempts_is_dead(self):
        command = command_enqueue(tenant=self.tenant, type="scan", max_attempts=1, now=self.now)
        lease_commands(agent=self.agent, limit=1, now=self.now)
        agent_heartbeat(agent=self.agent, report={}, now=self.later(130))
        self.assertEqual(queue_sweep(now=self.later(130)).commands_dead, 1)
        self.assertEqual(Command.objects.get(pk=command.pk).status, "dead")

    def test_commands_past_their_time_to_live_expire(self):
        command = command_enqueue(tenant=self.tenant, type="scan", ttl_seconds=300, now=self.now)
        self.assertEqual(queue_sweep(now=self.later(299)).commands_expired, 0)
        self.assertEqual(queue_sweep(now=self.later(300)).commands_expired, 1)
        command.refresh_from_db()
        self.assertEqual(command.status, "expired")
        self.assertEqual(lease_commands(agent=self.agent, limit=1, now=self.later(301)), [])

    def test_finished_commands_are_pruned_after_the_retention(self):
        done = command_enqueue(tenant=self.tenant, type="scan", now=self.now)
        lease_commands(agent=self.agent, limit=1, now=self.now)
        command_complete(agent=self.agent, command_id=done.pk, now=self.now)
        waiting = command_enqueue(tenant=self.tenant, type="scan", ttl_seconds=30 * 86400)
        Command.objects.filter(pk__in=[done.pk, waiting.pk]).update(
            updated_at=self.now - timedelta(days=8)
        )
        agent_heartbeat(agent=self.agent, report={}, now=self.now)
        self.assertEqual(queue_sweep(now=self.now).commands_pruned, 1)
        self.assertFalse(Command.objects.filter(pk=done.pk).exists())
        self.assertFalse(CommandEvent.objects.filter(command_id=done.pk).exists())
        self.assertTrue(Command.objects.filter(pk=waiting.pk).exists())

    def test_the_scheduled_task_runs_the_sweep_and_reports_what_it_did(self):
        self.assertEqual(
            set(sweep_queue()),
            {
                "agents_offline",
                "leases_requeued",
                "commands_dead",
                "commands_expired",
                "commands_pruned",
            },
        )

    def test_a_sweep_with_nothing_to_do_finds_no_work(self):
        self.assertFalse(queue_sweep(now=self.now).found_work)
