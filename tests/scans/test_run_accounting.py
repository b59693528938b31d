"""Run accounting (scans/runs.py): every scan's counters add up, whatever happens.

    total_runs = successful_runs + failed_runs + canceled_runs + active runs

The example tests pin each way the counters once drifted; the state machine drives
random sequences of trigger, tick, lease, complete, fail, stop, retry and expire, and
after every step compares the stored counters with a recount from the sessions, and
checks what the sessions themselves must satisfy.
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import transaction
from django.test import TestCase
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from agents import queue
from agents.models import FINAL_COMMAND_STATUSES, Command, CommandStatus
from agents.services import agent_create, agent_heartbeat
from scans.models import FINAL_SESSION_STATUSES, Scan, ScanSession, SessionStatus
from scans.runs import current_sessions, run_counts_from, run_counts_of
from scans.scheduler import tick
from scans.services import (
    ConcurrencyLimitReached,
    RetryRefused,
    scan_create,
    scan_trigger,
    session_cancel,
    session_follow_command,
    session_retry,
)
from tests.factories import AssetFactory, ScanProfileFactory, TenantFactory

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TOOLS = ["bandit", "semgrep", "gitleaks"]


def assert_runs_add_up(test, scan: Scan) -> None:
    scan.refresh_from_db()
    counts = run_counts_of(scan)
    stored = (scan.total_runs, scan.successful_runs, scan.failed_runs, scan.canceled_runs)
    recount = (counts.total_runs, counts.successful_runs, counts.failed_runs, counts.canceled_runs)
    test.assertEqual(stored, recount, f"{scan.name}: stored counters differ from the sessions")
    test.assertTrue(counts.adds_up)


class Team:
    """A team with two repositories, an agent running every tool, and four scans: a
    single scanner, a two-stage workflow, a workflow that continues on failure, and a
    scheduled scan whose profile runs one scan at a time."""

    def __init__(self):
        self.tenant = TenantFactory()
        self.repos = [AssetFactory(tenant=self.tenant, name=f"repo-{i}") for i in range(2)]
        self.agent, _ = agent_create(
            tenant=self.tenant,
            name="worker",
            tools=TOOLS,
            capabilities=["sast", "secrets"],
            max_concurrent_jobs=50,
        )
        self.one_at_a_time = ScanProfileFactory(tenant=self.tenant, max_concurrent_scans=1)
        self.scans = [
            scan_create(
                tenant=self.tenant, name="single", scanner_name="bandit", targets=self.repos
            ),
            scan_create(
                tenant=self.tenant,
                name="workflow",
                scan_type="workflow",
                pipeline=[["bandit", "semgrep"], ["gitleaks"]],
                targets=self.repos[:1],
            ),
            scan_create(
                tenant=self.tenant,
                name="lenient",
                scan_type="workflow",
                pipeline=[{"tools": ["semgrep"], "continue_on_failure": True}, ["gitleaks"]],
                targets=self.repos[:1],
            ),
            scan_create(
                tenant=self.tenant,
                name="hourly",
                scanner_name="gitleaks",
                schedule_type="crontab",
                schedule_cron="0 * * * *",
                profile=self.one_at_a_time,
                targets=self.repos,
            ),
        ]

    def heartbeat(self):
        agent_heartbeat(agent=self.agent, report={"status": "running"})

    def held(self) -> list[Command]:
        return list(
            Command.objects.filter(
                agent=self.agent,
                type="scan",
                status__in=[CommandStatus.ACKNOWLEDGED, CommandStatus.RUNNING],
            ).order_by("created_at", "id")
        )

    def lease(self, limit: int = 50) -> list[Command]:
        self.heartbeat()
        leased = queue.lease_commands(agent=self.agent, limit=limit)
        for command in leased:
            self.move(queue.command_acknowledge, command)
        return leased

    def move(self, step, command: Command, **kwargs) -> Command:
        """A lifecycle call as the agent API makes it: the command, then its session."""
        with transaction.atomic():
            moved = step(agent=self.agent, command_id=command.pk, **kwargs)
            session_follow_command(command=moved)
        return moved

    def complete(self, command: Command) -> None:
        self.move(queue.command_complete, command, result={})

    def fail(self, command: Command, *, for_good: bool = True) -> None:
        if for_good:
            Command.objects.filter(pk=command.pk).update(max_attempts=command.attempts)
        self.move(queue.command_fail, command, error_message="boom")


class RunAccountingExamples(TestCase):
    """Each way the counters drifted before, pinned."""

    def setUp(self):
        traveller = time_machine.travel(START, tick=False)
        self.clock = traveller.start()
        self.addCleanup(traveller.stop)
        self.team = Team()
        self.single, self.workflow, self.lenient, self.hourly = self.team.scans

    def test_stopping_a_pending_run_counts_it_as_canceled(self):
        run = scan_trigger(scan=self.single)
        for session in run.sessions:
            session_cancel(session=session)
        self.single.refresh_from_db()
        self.assertEqual((self.single.total_runs, self.single.canceled_runs), (1, 1))
        assert_runs_add_up(self, self.single)

    def test_a_run_is_canceled_only_once_all_its_sessions_are_done(self):
        run = scan_trigger(scan=self.single)
        session_cancel(session=run.sessions[0])
        self.single.refresh_from_db()
        self.assertEqual(self.single.canceled_runs, 0, "the other session still runs")
        (command,) = [c for c in self.team.lease() if c.scan_session_id == run.sessions[1].pk]
        self.team.complete(command)
        self.single.refresh_from_db()
        self.assertEqual((self.single.canceled_runs, self.single.successful_runs), (1, 0))

    def test_retrying_finished_sessions_never_counts_a_run_twice(self):
        run = scan_trigger(scan=self.single)
        for command in self.team.lease():
            self.team.complete(command)
        retried = session_retry(session=run.sessions[0])
        self.single.refresh_from_db()
        self.assertEqual((self.single.total_runs, self.single.successful_runs), (1, 0), "reopened")
        self.assertEqual((retried.run_id, retried.retry_of_id), (run.run_id, run.sessions[0].pk))
        for command in self.team.lease():
            self.team.complete(command)
        self.single.refresh_from_db()
        self.assertEqual((self.single.total_runs, self.single.successful_runs), (1, 1))
        assert_runs_add_up(self, self.single)

    def test_a_retried_attempt_decides_the_run_again(self):
        run = scan_trigger(scan=self.single)
        first, second = self.team.lease()
        self.team.complete(first)
        self.team.fail(second)
        self.single.refresh_from_db()
        self.assertEqual(self.single.failed_runs, 1)
        failed = ScanSession.objects.get(pk=second.scan_session_id)
        session_retry(session=failed)
        (again,) = self.team.lease()
        self.team.complete(again)
        self.single.refresh_from_db()
        self.assertEqual((self.single.successful_runs, self.single.failed_runs), (1, 0))
        self.assertEqual(len(run.sessions), 2)

    def test_an_attempt_is_retried_once_then_its_latest_attempt_is(self):
        run = scan_trigger(scan=self.single)
        for command in self.team.lease():
            self.team.complete(command)
        session_retry(session=run.sessions[0])
        with self.assertRaises(RetryRefused):
            session_retry(session=run.sessions[0])

    def test_retrying_a_first_stage_session_does_not_run_the_rest_again(self):
        scan_trigger(scan=self.workflow)
        for command in self.team.lease():
            self.team.complete(command)
        (gitleaks,) = self.team.lease()
        self.team.complete(gitleaks)
        bandit = ScanSession.objects.get(scan=self.workflow, scanner_name="bandit")
        session_retry(session=bandit)
        (again,) = self.team.lease()
        self.team.complete(again)
        self.assertEqual(
            ScanSession.objects.filter(scan=self.workflow, scanner_name="gitleaks").count(), 1
        )
        self.workflow.refresh_from_db()
        self.assertEqual((self.workflow.total_runs, self.workflow.successful_runs), (1, 1))

    def test_a_retry_that_fixes_a_failed_stage_lets_the_pipeline_go_on(self):
        scan_trigger(scan=self.workflow)
        for command in self.team.lease():
            if command.payload["scanner"] == "semgrep":
                self.team.fail(command)
            else:
                self.team.complete(command)
        self.workflow.refresh_from_db()
        self.assertEqual(self.workflow.failed_runs, 1)
        semgrep = ScanSession.objects.get(scan=self.workflow, scanner_name="semgrep")
        session_retry(session=semgrep)
        (again,) = self.team.lease()
        self.team.complete(again)
        (gitleaks,) = self.team.lease()
        self.assertEqual(gitleaks.payload["scanner"], "gitleaks")
        self.team.complete(gitleaks)
        self.workflow.refresh_from_db()
        self.assertEqual((self.workflow.successful_runs, self.workflow.failed_runs), (1, 0))

    def test_a_retry_respects_the_profiles_concurrency_limit(self):
        first = scan_trigger(scan=self.hourly)
        for command in self.team.lease():
            self.team.complete(command)
        scan_trigger(scan=self.hourly)  # the profile's one slot is taken again
        with self.assertRaises(ConcurrencyLimitReached):
            session_retry(session=ScanSession.objects.get(pk=first.sessions[0].pk))
        assert_runs_add_up(self, self.hourly)

    def test_a_slot_that_already_ran_is_not_counted_again(self):
        self.hourly.refresh_from_db()
        slot = self.hourly.next_run_at
        self.clock.move_to(slot + timedelta(seconds=5))
        self.assertEqual(tick().started, 1)
        for command in self.team.lease():
            self.team.complete(command)
        Scan.objects.filter(pk=self.hourly.pk).update(next_run_at=slot)  # moved back
        result = tick()
        self.assertEqual((result.started, result.caught_up), (0, 0))
        assert_runs_add_up(self, self.hourly)
        self.hourly.refresh_from_db()
        self.assertEqual(self.hourly.total_runs, 1)

    def test_a_tick_that_skips_a_scan_for_its_concurrency_limit_counts_nothing(self):
        scan_trigger(scan=self.hourly)
        self.hourly.refresh_from_db()
        self.clock.move_to(self.hourly.next_run_at + timedelta(seconds=5))
        result = tick()
        self.assertEqual((result.started, result.skipped), (0, 1))
        assert_runs_add_up(self, self.hourly)

    def test_the_scans_list_shows_each_scans_tally(self):
        first = scan_trigger(scan=self.single)
        for command in self.team.lease():
            self.team.complete(command)
        scan_trigger(scan=self.single)
        for session in first.sessions:  # finished already: stopping changes nothing
            session_cancel(session=session)
        second = scan_trigger(scan=self.lenient)
        session_cancel(session=second.sessions[0])
        self.single.refresh_from_db()
        self.lenient.refresh_from_db()
        self.assertEqual(self.single.run_tally, "2 runs: 1 passed · 1 running")
        self.assertEqual(self.lenient.run_tally, "1 run: 1 canceled")
        self.assertEqual(self.hourly.run_tally, "0 runs")

    def test_expired_work_fails_the_run_once(self):
        scan_trigger(scan=self.single)
        self.clock.shift(timedelta(seconds=django_settings.COMMAND_TTL_SECONDS + 60))
        queue.queue_sweep()
        tick()  # reconciles the sessions of commands the sweep expired
        self.single.refresh_from_db()
        self.assertEqual((self.single.total_runs, self.single.failed_runs), (1, 1))
        assert_runs_add_up(self, self.single)


class RunAccountingMachine(RuleBasedStateMachine):
    """Random sequences of what people, agents and the clock do to runs."""

    def __init__(self):
        super().__init__()
        self.traveller = time_machine.travel(START, tick=False)
        self.clock = self.traveller.start()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()  # every example is rolled back at its teardown
        self.final_status: dict = {}

    @initialize()
    def a_team_with_scans(self):
        self.team = Team()

    def sessions(self, **filters) -> list[ScanSession]:
        return list(
            ScanSession.objects.filter(tenant=self.team.tenant, **filters)
            .select_related("scan")
            .order_by("created_at", "id")
        )

    @rule(which=st.integers(0, 3))
    def trigger(self, which):
        with contextlib.suppress(ConcurrencyLimitReached):
            scan_trigger(scan=Scan.objects.get(pk=self.team.scans[which].pk))

    @rule(minutes=st.sampled_from([1, 30, 61, 24 * 60 + 5]))
    def tick(self, minutes):
        self.clock.shift(timedelta(minutes=minutes))
        tick()

    @rule(back=st.integers(0, 3))
    def move_the_next_run_back_onto_a_slot_that_ran(self, back):
        slots = list(
            ScanSession.objects.filter(scheduled_for__isnull=False)
            .values_list("scheduled_for", flat=True)
            .distinct()
            .order_by("-scheduled_for")
        )
        if slots:
            slot = slots[min(back, len(slots) - 1)]
            Scan.objects.filter(pk=self.team.scans[3].pk).update(next_run_at=slot)

    @rule(limit=st.integers(1, 4))
    def lease(self, limit):
        self.team.lease(limit)

    @rule(index=st.integers(0, 20))
    def complete(self, index):
        held = self.team.held()
        if held:
            self.team.complete(held[index % len(held)])

    @rule(index=st.integers(0, 20), for_good=st.booleans())
    def fail(self, index, for_good):
        held = self.team.held()
        if held:
            self.team.fail(held[index % len(held)], for_good=for_good)

    @rule(index=st.integers(0, 20))
    def stop(self, index):
        active = [s for s in self.sessions() if not s.is_finished]
        if active:
            session_cancel(session=active[index % len(active)])

    @rule(index=st.integers(0, 20))
    def retry(self, index):
        finished = [s for s in self.sessions(scan__isnull=False) if s.is_finished]
        if finished:
            with contextlib.suppress(RetryRefused, ConcurrencyLimitReached):
                session_retry(session=finished[index % len(finished)])

    @rule(seconds=st.sampled_from([django_settings.COMMAND_ACK_TIMEOUT_SECONDS + 1, 86_460]))
    def expire(self, seconds):
        self.clock.shift(timedelta(seconds=seconds))
        queue.queue_sweep()
        tick()

    @invariant()
    @precondition(lambda self: hasattr(self, "team"))
    def runs_add_up_and_sessions_follow_the_rules(self):
        # Only what the rules read: this runs after every step of every example.
        sessions = list(
            ScanSession.objects.filter(tenant=self.team.tenant, scan__isnull=False).only(
                *("id", "scan_id", "run_id", "status", "retry_of_id", "stage"),
                *("scanner_name", "asset_id"),
            )
        )
        scans = {scan.pk: scan for scan in Scan.objects.filter(tenant=self.team.tenant)}
        by_scan: dict = {}
        for session in sessions:
            by_scan.setdefault(session.scan_id, []).append(session)
        for scan in scans.values():
            counts = run_counts_from(by_scan.get(scan.pk, []))
            stored = (scan.total_runs, scan.successful_runs, scan.failed_runs, scan.canceled_runs)
            assert stored == (
                counts.total_runs,
                counts.successful_runs,
                counts.failed_runs,
                counts.canceled_runs,
            ), f"{scan.name}: stored {stored}, sessions say {counts}"
            assert counts.adds_up

        runs: dict = {}
        for session in sessions:
            runs.setdefault(session.run_id, []).append(session)
            # A finished session stays as it finished.
            if session.pk in self.final_status:
                assert session.status == self.final_status[session.pk], session
            elif session.is_finished:
                self.final_status[session.pk] = session.status
        for run in runs.values():
            scan = scans[run[0].scan_id]
            # Each (stage, tool, target) of a run starts once; retries are attempts of it.
            keys = [(s.stage, s.scanner_name, s.asset_id) for s in run if s.retry_of_id is None]
            assert len(keys) == len(set(keys)), f"a stage ran twice in {scan.name}"
            current = current_sessions(run)
            for stage in {s.stage for s in run} - {0}:
                assert stage < len(scan.stages)
                if any(s.retry_of_id for s in run):
                    continue  # a retry may reopen an earlier stage after this one began
                before = [s for s in current if s.stage == stage - 1]
                assert before and all(s.is_finished for s in before), (
                    f"stage {stage} of {scan.name} started before stage {stage - 1} ended"
                )
        commands = {
            c.scan_session_id: c.status
            for c in Command.objects.filter(tenant=self.team.tenant, type="scan")
        }
        for session in sessions:
            command = commands.get(session.pk)
            if session.status == SessionStatus.COMPLETED:
                assert command == CommandStatus.COMPLETED, (session, command)
            if session.status not in FINAL_SESSION_STATUSES:
                # A live session has live work; a finished command's session was
                # brought up to date (by the agent API, the stop, or the tick).
                assert command not in FINAL_COMMAND_STATUSES, (session, command)

    def teardown(self):
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)
        self.traveller.stop()


@pytest.mark.django_db(transaction=False)
def test_run_counters_add_up_after_any_sequence_of_events():
    run_state_machine_as_test(
        RunAccountingMachine,
        settings=settings(
            max_examples=int(os.environ.get("RUN_EXAMPLES", 200)),
            stateful_step_count=20,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
