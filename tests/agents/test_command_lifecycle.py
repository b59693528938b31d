"""pending → acknowledged → running → completed | failed → retry with backoff | dead."""

from __future__ import annotations

from datetime import timedelta

from django.test import TestCase, override_settings
from django.utils import timezone

from agents.models import Command, CommandEvent
from agents.queue import (
    command_cancel,
    command_enqueue,
    lease_commands,
    retry_delay,
)
from agents.services import agent_create
from tests.agents.test_agent_auth import POLL, bearer
from tests.factories import TenantFactory


class Lifecycle(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.agent, cls.key = agent_create(tenant=cls.tenant, name="worker")
        cls.rival, cls.rival_key = agent_create(tenant=cls.tenant, name="rival")

    def setUp(self):
        self.command = command_enqueue(tenant=self.tenant, type="scan", max_attempts=3)
        (self.leased,) = lease_commands(agent=self.agent, limit=1)

    def call(self, action: str, body=None, key=None):
        return bearer(key or self.key).post(
            f"{POLL}/{self.command.pk}/{action}", body or {}, format="json"
        )

    def status(self) -> str:
        return Command.objects.get(pk=self.command.pk).status

    def transitions(self) -> list[tuple[str, str]]:
        return list(
            CommandEvent.objects.filter(command=self.command)
            .exclude(from_status="pending", to_status="pending")
            .values_list("from_status", "to_status")
        )

    def test_the_happy_path_records_every_transition_with_its_time(self):
        self.assertEqual(self.call("acknowledge").json()["status"], "acknowledged")
        self.assertEqual(self.call("start").json()["status"], "running")
        progress = self.call("progress", {"percent": 40, "message": "120 of 300 files"}).json()
        self.assertEqual((progress["progress"], progress["status"]), (40, "running"))
        result = {"status": "completed", "duration_ms": 5230, "exit_code": 0, "findings_count": 3}
        done = self.call("complete", {"result": result}).json()
        self.assertEqual(
            (done["status"], done["result"], done["progress"]), ("completed", result, 100)
        )
        command = Command.objects.get(pk=self.command.pk)
        self.assertTrue(command.acknowledged_at <= command.started_at <= command.completed_at)
        self.assertEqual(
            self.transitions(),
            [
                ("", "pending"),
                ("pending", "acknowledged"),
                ("acknowledged", "running"),
                ("running", "completed"),
            ],
        )
        self.assertTrue(all(e.at for e in CommandEvent.objects.filter(command=self.command)))

    def test_ack_is_also_spelled_ack_and_may_be_repeated(self):
        self.assertEqual(self.call("ack").status_code, 200)
        self.assertEqual(self.call("ack").status_code, 200)
        self.assertEqual(self.status(), "acknowledged")

    def test_the_reference_sdk_flow_ack_then_complete_works_without_start(self):
        self.call("acknowledge")
        self.assertEqual(self.call("complete", {"result": {"exit_code": 0}}).status_code, 200)
        self.assertEqual(self.status(), "completed")

    def test_a_repeated_completion_is_harmless(self):
        self.call("ack")
        self.call("complete")
        response = self.call("complete")
        self.assertEqual((response.status_code, response.json()["status"]), (200, "completed"))

    def test_only_the_lease_holder_may_move_a_command(self):
        for action in ("ack", "start", "progress", "complete", "fail"):
            with self.subTest(action=action):
                response = self.call(action, {"percent": 1}, key=self.rival_key)
                self.assertEqual(response.status_code, 409)
                self.assertEqual(response.json()["error"]["code"], "LEASE_CONFLICT")
        self.assertEqual(self.status(), "pending")

    def test_an_ack_after_the_lease_expired_is_refused(self):
        Command.objects.filter(pk=self.command.pk).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        response = self.call("ack")
        self.assertEqual(response.json()["error"]["code"], "LEASE_CONFLICT")

    def test_a_finished_command_cannot_move_again(self):
        self.call("ack")
        self.call("complete")
        response = self.call("fail", {"error_message": "late"})
        self.assertEqual(response.status_code, 409)
        self.assertEqual(response.json()["error"]["code"], "INVALID_TRANSITION")

    def test_progress_needs_a_percent_between_0_and_100(self):
        self.call("ack")
        for body in ({}, {"percent": 101}, {"percent": "half"}):
            with self.subTest(body=body):
                response = self.call("progress", body)
                self.assertEqual(response.status_code, 400)
                self.assertIn("percent", response.json()["error"]["message"])

    def test_a_failure_is_retried_after_a_backoff(self):
        self.call("ack")
        before = timezone.now()
        response = self.call("fail", {"error_message": "semgrep exited with 2"})
        self.assertEqual(response.status_code, 200)
        command = Command.objects.get(pk=self.command.pk)
        self.assertEqual((command.status, command.agent_id), ("pending", None))
        self.assertEqual(command.error_message, "semgrep exited with 2")
        self.assertGreaterEqual(command.available_at, before + timedelta(seconds=30))
        self.assertEqual(
            self.transitions()[-2:], [("acknowledged", "failed"), ("failed", "pending")]
        )
        # Not handed out again before the backoff is over...
        self.assertEqual(lease_commands(agent=self.agent, limit=1), [])
        # ...and handed out after it.
        later = command.available_at + timedelta(seconds=1)
        self.assertEqual(len(lease_commands(agent=self.agent, limit=1, now=later)), 1)

    def test_out_of_attempts_a_failed_command_is_dead(self):
        now = timezone.now()
        for attempt in range(1, 4):
            if attempt > 1:
                now = Command.objects.get(pk=self.command.pk).available_at + timedelta(seconds=1)
                (leased,) = lease_commands(agent=self.agent, limit=1, now=now)
                self.assertEqual(leased.attempts, attempt)
            self.call("fail", {"error": f"crash {attempt}"})
        command = Command.objects.get(pk=self.command.pk)
        self.assertEqual(command.status, "dead")
        self.assertEqual(command.attempts, 3)
        self.assertIsNotNone(command.completed_at)

    def test_a_canceled_command_tells_its_agent_to_stop(self):
        self.call("ack")
        command_cancel(command=self.command, reason="stopped by a user")
        response = self.call("complete")
        self.assertEqual(response.status_code, 409)
        self.assertEqual(response.json()["error"]["code"], "COMMAND_CANCELED")


@override_settings(COMMAND_RETRY_BASE_SECONDS=30, COMMAND_RETRY_CAP_SECONDS=600)
class RetryBackoff(TestCase):
    def test_it_doubles_per_attempt_with_at_most_ten_percent_jitter(self):
        for attempt, base in [(1, 30), (2, 60), (3, 120), (4, 240)]:
            with self.subTest(attempt=attempt):
                delay = retry_delay(attempt).total_seconds()
                self.assertGreaterEqual(delay, base)
                self.assertLessEqual(delay, base * 1.1)

    def test_it_is_capped(self):
        self.assertLessEqual(retry_delay(30).total_seconds(), 660)
        self.assertGreaterEqual(retry_delay(30).total_seconds(), 600)


class Cancel(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.agent, cls.key = agent_create(tenant=cls.tenant, name="busy", max_concurrent_jobs=1)

    def test_a_queued_command_is_simply_canceled(self):
        command = command_enqueue(tenant=self.tenant, type="scan")
        command_cancel(command=command)
        self.assertEqual(Command.objects.get(pk=command.pk).status, "canceled")
        self.assertFalse(Command.objects.filter(type="cancel").exists())
        self.assertEqual(lease_commands(agent=self.agent, limit=5), [])

    def test_a_running_command_sends_a_cancel_to_its_agent_even_when_it_is_full(self):
        command = command_enqueue(tenant=self.tenant, type="scan")
        lease_commands(agent=self.agent, limit=1)
        bearer(self.key).post(f"{POLL}/{command.pk}/start")
        command_cancel(command=command, reason="stopped by a user")

        polled = bearer(self.key).get(POLL).json()
        self.assertEqual(len(polled), 1)
        self.assertEqual(polled[0]["type"], "cancel")
        self.assertEqual(polled[0]["priority"], "critical")
        self.assertEqual(polled[0]["payload"]["command_id"], str(command.pk))
        # The cancel command itself completes like any other.
        cancel_id = polled[0]["id"]
        bearer(self.key).post(f"{POLL}/{cancel_id}/ack")
        self.assertEqual(bearer(self.key).post(f"{POLL}/{cancel_id}/complete").status_code, 200)

    def test_canceling_twice_or_after_the_end_changes_nothing(self):
        command = command_enqueue(tenant=self.tenant, type="scan")
        command_cancel(command=command)
        command_cancel(command=command)
        self.assertEqual(Command.objects.filter(type="cancel").count(), 0)
