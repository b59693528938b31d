"""From a scan definition to sessions and commands; sessions follow their commands."""

from __future__ import annotations

import threading
from datetime import time

import pytest
from django.db import connection, transaction
from django.test import TestCase, TransactionTestCase
from django.utils import timezone

from agents.models import Command
from agents.queue import command_complete, lease_commands
from agents.services import agent_create, agent_heartbeat
from scans.models import Scan, ScanSession
from scans.services import (
    ConcurrencyLimitReached,
    RetryRefused,
    ScanInvalid,
    ScanLimitReached,
    scan_clone,
    scan_create,
    scan_set_status,
    scan_trigger,
    session_cancel,
    session_follow_command,
    session_retry,
)
from tests.agents.test_agent_auth import POLL, bearer
from tests.factories import AssetFactory, ScanProfileFactory, TenantFactory


class ScanDefinitions(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory(plan="team")
        cls.repo = AssetFactory(tenant=cls.tenant)

    def test_a_scheduled_scan_gets_its_next_run(self):
        scan = scan_create(
            tenant=self.tenant,
            name="nightly",
            scanner_name="semgrep",
            schedule_type="daily",
            schedule_time=time(2, 0),
            schedule_timezone="Europe/Paris",
            targets=[self.repo],
        )
        self.assertIsNotNone(scan.next_run_at)
        self.assertGreater(scan.next_run_at, timezone.now())
        self.assertEqual(list(scan.targets.all()), [self.repo])

    def test_manual_paused_and_disabled_scans_have_no_next_run(self):
        manual = scan_create(tenant=self.tenant, name="m", scanner_name="bandit")
        self.assertIsNone(manual.next_run_at)
        daily = scan_create(
            tenant=self.tenant,
            name="d",
            scanner_name="bandit",
            schedule_type="daily",
            schedule_time=time(1, 0),
        )
        self.assertIsNone(scan_set_status(scan=daily, status="paused").next_run_at)
        self.assertIsNotNone(scan_set_status(scan=daily, status="active").next_run_at)
        self.assertIsNone(scan_set_status(scan=daily, status="disabled").next_run_at)

    def test_a_bad_schedule_names_the_field(self):
        with self.assertRaises(ScanInvalid) as error:
            scan_create(
                tenant=self.tenant,
                name="bad",
                scanner_name="bandit",
                schedule_type="crontab",
                schedule_cron="nope",
            )
        self.assertEqual(error.exception.field, "schedule_cron")
        self.assertFalse(Scan.objects.exists())

    def test_a_workflow_needs_stages_with_tools(self):
        with self.assertRaises(ScanInvalid) as error:
            scan_create(tenant=self.tenant, name="wf", scan_type="workflow", pipeline=[[]])
        self.assertEqual(error.exception.field, "pipeline")

    def test_the_plan_caps_the_number_of_scans(self):
        self.tenant.limits_override = {"max_scans": 1}
        self.tenant.save()
        scan_create(tenant=self.tenant, name="one", scanner_name="bandit")
        with self.assertRaises(ScanLimitReached):
            scan_create(tenant=self.tenant, name="two", scanner_name="bandit")

    def test_a_clone_copies_the_definition_under_a_free_name(self):
        scan = scan_create(
            tenant=self.tenant,
            name="base",
            scanner_name="bandit",
            targets=[self.repo],
            tags=["pool=ci"],
        )
        first, second = scan_clone(scan=scan), scan_clone(scan=scan)
        self.assertEqual((first.name, second.name), ("base (copy)", "base (copy) 2"))
        self.assertEqual((first.tags, list(first.targets.all())), (["pool=ci"], [self.repo]))


class Triggering(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.repos = [AssetFactory(tenant=cls.tenant, name=f"repo-{i}") for i in range(2)]
        cls.agent, cls.key = agent_create(
            tenant=cls.tenant, name="worker", tools=["bandit", "semgrep"], capabilities=["sast"]
        )

    def scan(self, **fields):
        fields.setdefault("scanner_name", "bandit")
        return scan_create(
            tenant=self.tenant, name=fields.pop("name", "s"), targets=self.repos, **fields
        )

    def test_a_trigger_starts_a_session_and_a_command_per_target(self):
        scan = self.scan(priority=20, tags=[])
        run = scan_trigger(scan=scan)
        self.assertEqual(len(run.sessions), 2)
        self.assertEqual({s.asset_value for s in run.sessions}, {r.identifier for r in self.repos})
        command = Command.objects.get(scan_session=run.sessions[0])
        self.assertEqual(command.payload["scanner"], "bandit")
        self.assertEqual(command.payload["target"], run.sessions[0].asset_value)
        self.assertEqual(command.payload["scan_id"], str(run.sessions[0].pk))
        self.assertEqual((command.priority, command.required_tools), (20, ["bandit"]))
        scan.refresh_from_db()
        self.assertEqual(scan.total_runs, 1)

    def test_the_profiles_tool_settings_reach_the_command(self):
        profile = ScanProfileFactory(
            tenant=self.tenant,
            tools_config={
                "bandit": {
                    "enabled": True,
                    "severity": "medium",
                    "timeout": 120,
                    "options": {"skip": ["B101"]},
                }
            },
        )
        run = scan_trigger(scan=self.scan(profile=profile, scanner_config={"recursive": True}))
        payload = run.commands[0].payload
        self.assertEqual(payload["timeout_seconds"], 120)
        self.assertEqual(
            payload["config"], {"skip": ["B101"], "min_severity": "medium", "recursive": True}
        )

    def test_a_session_says_why_its_work_waits_when_no_agent_can_take_it(self):
        run = scan_trigger(scan=self.scan(scanner_name="semgrep"))
        self.assertIn("worker: agent is unknown, not online", run.sessions[0].error_message)
        agent_heartbeat(agent=self.agent, report={})
        run = scan_trigger(scan=self.scan(name="trivy", scanner_name="trivy"))
        self.assertIn("missing tools: trivy", run.sessions[0].error_message)
        run = scan_trigger(scan=self.scan(name="ok", scanner_name="semgrep"))
        self.assertEqual(run.sessions[0].error_message, "")

    def test_the_waiting_note_clears_once_an_agent_takes_the_work(self):
        run = scan_trigger(scan=self.scan(scanner_name="bandit"))
        self.assertIn("waiting for an agent", run.sessions[0].error_message)
        (command,) = lease_commands(agent=self.agent, limit=1)
        bearer(self.key).post(f"{POLL}/{command.pk}/ack")
        self.assertEqual(ScanSession.objects.get(pk=command.scan_session_id).error_message, "")

    def test_a_scan_without_targets_cannot_run(self):
        scan = scan_create(tenant=self.tenant, name="empty", scanner_name="bandit")
        with self.assertRaises(ScanInvalid):
            scan_trigger(scan=scan)

    def test_the_profiles_concurrency_limit_holds(self):
        profile = ScanProfileFactory(tenant=self.tenant, max_concurrent_scans=1)
        scan = self.scan(profile=profile)
        scan_trigger(scan=scan)
        with self.assertRaises(ConcurrencyLimitReached):
            scan_trigger(scan=scan)

    def test_a_session_follows_its_command_through_the_agent_api(self):
        run = scan_trigger(scan=self.scan())
        session = run.sessions[0]
        command = Command.objects.get(scan_session=session)
        lease_commands(agent=self.agent, limit=5)
        client = bearer(self.key)
        client.post(f"{POLL}/{command.pk}/ack")
        client.post(f"{POLL}/{command.pk}/progress", {"percent": 40}, format="json")
        session.refresh_from_db()
        self.assertEqual(
            (session.status, session.progress, session.agent), ("running", 40, self.agent)
        )
        client.post(f"{POLL}/{command.pk}/complete", {"result": {"exit_code": 0}}, format="json")
        session.refresh_from_db()
        self.assertEqual((session.status, session.progress), ("completed", 100))
        self.assertIsNotNone(session.duration_ms)

    def test_a_dead_command_fails_its_session(self):
        run = scan_trigger(scan=self.scan())
        command = Command.objects.get(scan_session=run.sessions[0])
        Command.objects.filter(pk=command.pk).update(max_attempts=1)
        lease_commands(agent=self.agent, limit=5)
        bearer(self.key).post(
            f"{POLL}/{command.pk}/fail", {"error_message": "bandit crashed"}, format="json"
        )
        session = ScanSession.objects.get(pk=run.sessions[0].pk)
        self.assertEqual(session.status, "failed")
        self.assertIn("bandit crashed", session.error_message)

    def test_stop_cancels_the_session_and_its_command(self):
        run = scan_trigger(scan=self.scan())
        session = session_cancel(session=run.sessions[0])
        self.assertEqual(session.status, "canceled")
        self.assertEqual(Command.objects.get(scan_session=session).status, "canceled")

    def test_retry_runs_the_same_tool_on_the_same_target_again(self):
        run = scan_trigger(scan=self.scan())
        with self.assertRaises(RetryRefused):
            session_retry(session=run.sessions[0])  # still running
        session_cancel(session=run.sessions[0])
        retried = session_retry(session=ScanSession.objects.get(pk=run.sessions[0].pk))
        self.assertEqual(
            (retried.trigger, retried.asset_value), ("retry", run.sessions[0].asset_value)
        )
        self.assertEqual(
            Command.objects.get(scan_session=retried).payload["scan_id"], str(retried.pk)
        )


class Workflows(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.repo = AssetFactory(tenant=cls.tenant)
        cls.agent, cls.key = agent_create(
            tenant=cls.tenant,
            name="w",
            tools=["bandit", "semgrep", "gitleaks"],
            capabilities=["sast", "secrets"],
            max_concurrent_jobs=10,
        )

    def finish(self, *, fail: str = ""):
        client = bearer(self.key)
        for command in lease_commands(agent=self.agent, limit=10):
            client.post(f"{POLL}/{command.pk}/ack")
            if command.payload["scanner"] == fail:
                Command.objects.filter(pk=command.pk).update(max_attempts=1)
                client.post(f"{POLL}/{command.pk}/fail", {"error_message": "boom"}, format="json")
            else:
                client.post(f"{POLL}/{command.pk}/complete", {"result": {}}, format="json")

    def workflow(self, pipeline):
        return scan_create(
            tenant=self.tenant,
            name="wf",
            scan_type="workflow",
            pipeline=pipeline,
            targets=[self.repo],
        )

    def tools_started(self):
        return sorted(ScanSession.objects.values_list("stage", "scanner_name"))

    def test_the_next_stage_starts_when_the_previous_one_completes(self):
        scan = self.workflow([["bandit", "semgrep"], ["gitleaks"]])
        scan_trigger(scan=scan)
        self.assertEqual(self.tools_started(), [(0, "bandit"), (0, "semgrep")])
        self.finish()
        self.assertEqual(self.tools_started(), [(0, "bandit"), (0, "semgrep"), (1, "gitleaks")])
        self.finish()
        scan.refresh_from_db()
        self.assertEqual((scan.successful_runs, scan.failed_runs), (1, 0))

    def test_a_failed_stage_stops_the_pipeline(self):
        scan = self.workflow([["bandit", "semgrep"], ["gitleaks"]])
        scan_trigger(scan=scan)
        self.finish(fail="semgrep")
        self.assertEqual(self.tools_started(), [(0, "bandit"), (0, "semgrep")])
        scan.refresh_from_db()
        self.assertEqual(scan.failed_runs, 1)

    def test_a_stage_may_continue_on_failure(self):
        scan = self.workflow([{"tools": ["bandit"], "continue_on_failure": True}, ["gitleaks"]])
        scan_trigger(scan=scan)
        self.finish(fail="bandit")
        self.assertIn((1, "gitleaks"), self.tools_started())


class QualityGateOnCompletion(TestCase):
    def test_a_completed_session_carries_its_profiles_gate_verdict(self):
        tenant = TenantFactory()
        repo = AssetFactory(tenant=tenant)
        agent, key = agent_create(tenant=tenant, name="w", tools=["bandit"], capabilities=["sast"])
        profile = ScanProfileFactory(
            tenant=tenant, quality_gate={"enabled": True, "fail_on_critical": True, "max_high": 1}
        )
        scan = scan_create(
            tenant=tenant, name="gated", scanner_name="bandit", profile=profile, targets=[repo]
        )
        run = scan_trigger(scan=scan)
        ScanSession.objects.filter(pk=run.sessions[0].pk).update(
            findings_by_severity={"critical": 1, "high": 3}
        )
        (command,) = lease_commands(agent=agent, limit=1)
        bearer(key).post(f"{POLL}/{command.pk}/complete", {"result": {}}, format="json")
        verdict = ScanSession.objects.get(pk=run.sessions[0].pk).quality_gate_result
        self.assertFalse(verdict["passed"])
        self.assertEqual(
            {(b["metric"], b["limit"], b["actual"]) for b in verdict["breaches"]},
            {("critical", 0, 1), ("high", 1, 3)},
        )


class DeletingAScan(TestCase):
    def test_its_live_runs_are_stopped_first(self):
        from scans.services import scan_delete

        tenant = TenantFactory()
        scan = scan_create(
            tenant=tenant,
            name="doomed",
            scanner_name="bandit",
            targets=[AssetFactory(tenant=tenant)],
        )
        run = scan_trigger(scan=scan)
        command = Command.objects.get(scan_session=run.sessions[0])
        scan_delete(scan=scan)
        self.assertFalse(Scan.objects.filter(pk=scan.pk).exists())
        command.refresh_from_db()
        self.assertEqual(command.status, "canceled")


@pytest.mark.postgres
class StagesFinishingTogether(TransactionTestCase):
    """The last two sessions of a stage complete at the same moment, in two workers: the
    next stage still starts, once."""

    def test_the_second_to_commit_sees_the_first_and_moves_the_run_on(self):
        tenant = TenantFactory()
        repo = AssetFactory(tenant=tenant)
        agent, _ = agent_create(
            tenant=tenant,
            name="w",
            tools=["bandit", "semgrep", "gitleaks"],
            capabilities=["sast", "secrets"],
        )
        scan = scan_create(
            tenant=tenant,
            name="wf",
            scan_type="workflow",
            pipeline=[["bandit", "semgrep"], ["gitleaks"]],
            targets=[repo],
        )
        scan_trigger(scan=scan)
        first, second = lease_commands(agent=agent, limit=2)
        first_done, release_first = threading.Event(), threading.Event()

        def complete(command, *, hold: bool):
            try:
                with transaction.atomic():
                    done = command_complete(agent=agent, command_id=command.pk, result={})
                    session_follow_command(command=done)
                    if hold:  # keep this completion uncommitted while the other runs
                        first_done.set()
                        release_first.wait(timeout=10)
            finally:
                connection.close()

        holder = threading.Thread(target=complete, args=(first,), kwargs={"hold": True})
        holder.start()
        self.assertTrue(first_done.wait(timeout=10))
        other = threading.Thread(target=complete, args=(second,), kwargs={"hold": False})
        other.start()
        other.join(timeout=1)  # with the fix it waits for the holder's commit
        release_first.set()
        holder.join()
        other.join()

        stages = sorted(ScanSession.objects.values_list("stage", "scanner_name"))
        self.assertEqual(stages, [(0, "bandit"), (0, "semgrep"), (1, "gitleaks")])
