"""The per-minute tick, with a frozen clock: exactly one run per slot."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import TestCase, TransactionTestCase
from django_q.models import Schedule as QSchedule

from agents.models import Command
from agents.queue import queue_sweep
from scans.models import Scan, ScanSession
from scans.scheduler import tick
from scans.services import scan_create
from scans.tasks import scheduler_tick
from tests.factories import AssetFactory, TenantFactory

MONDAY_NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def daily_scan(tenant, name="nightly", at=time(2, 0), zone="UTC", **fields):
    return scan_create(
        tenant=tenant,
        name=name,
        scanner_name="bandit",
        schedule_type="daily",
        schedule_time=at,
        schedule_timezone=zone,
        targets=[AssetFactory(tenant=tenant)],
        **fields,
    )


class Tick(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()

    def test_it_is_scheduled_every_minute_by_one_named_schedule(self):
        schedule = QSchedule.objects.get(name="scans-tick")
        self.assertEqual((schedule.func, schedule.minutes), ("scans.tasks.scheduler_tick", 1))

    def test_a_due_scan_runs_once_and_its_next_run_moves_on(self):
        with time_machine.travel(MONDAY_NOON, tick=False):
            scan = daily_scan(self.tenant)
        self.assertEqual(scan.next_run_at, datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
        with time_machine.travel(datetime(2026, 12, 1, 2, 0, 20, tzinfo=UTC), tick=False):
            first = tick()
            second = tick()  # django-q2 may fire twice in the same minute
        self.assertEqual((first.due, first.started, second.due), (1, 1, 0))
        session = ScanSession.objects.get()
        self.assertEqual((session.trigger, session.scheduled_for), ("scheduled", scan.next_run_at))
        scan.refresh_from_db()
        self.assertEqual(scan.next_run_at, datetime(2026, 12, 2, 2, 0, tzinfo=UTC))
        self.assertEqual(Command.objects.count(), 1)

    def test_nothing_runs_before_its_time(self):
        with time_machine.travel(MONDAY_NOON, tick=False):
            daily_scan(self.tenant)
        with time_machine.travel(datetime(2026, 12, 1, 1, 59, tzinfo=UTC), tick=False):
            self.assertEqual(tick().due, 0)

    def test_paused_and_disabled_scans_never_run(self):
        with time_machine.travel(MONDAY_NOON, tick=False):
            daily_scan(self.tenant, name="paused", status="paused")
            daily_scan(self.tenant, name="disabled", status="disabled")
        with time_machine.travel(MONDAY_NOON + timedelta(days=3), tick=False):
            self.assertEqual(tick().due, 0)
        self.assertFalse(ScanSession.objects.exists())

    def test_after_downtime_one_catch_up_run_stands_for_every_missed_slot(self):
        with time_machine.travel(MONDAY_NOON, tick=False):
            scan = daily_scan(self.tenant)
        back = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)  # four nights missed
        with time_machine.travel(back, tick=False):
            result = tick()
        self.assertEqual((result.started, result.caught_up), (1, 1))
        self.assertEqual(ScanSession.objects.get().trigger, "catch_up")
        scan.refresh_from_db()
        self.assertEqual(scan.next_run_at, datetime(2026, 12, 6, 2, 0, tzinfo=UTC))

    def test_local_times_hold_across_a_dst_change(self):
        with time_machine.travel(datetime(2026, 3, 27, 12, 0, tzinfo=UTC), tick=False):
            scan = daily_scan(self.tenant, at=time(9, 0), zone="Europe/Paris")
        self.assertEqual(scan.next_run_at, datetime(2026, 3, 28, 8, 0, tzinfo=UTC))  # CET
        with time_machine.travel(scan.next_run_at + timedelta(seconds=5), tick=False):
            tick()
        scan.refresh_from_db()
        self.assertEqual(scan.next_run_at, datetime(2026, 3, 29, 7, 0, tzinfo=UTC))  # CEST

    def test_the_task_reports_what_the_tick_did(self):
        self.assertEqual(
            set(scheduler_tick()), {"due", "started", "caught_up", "skipped", "sessions_reconciled"}
        )

    def test_sessions_of_commands_the_sweep_expired_are_failed(self):
        with time_machine.travel(MONDAY_NOON, tick=False):
            scan = daily_scan(self.tenant)
        with time_machine.travel(scan.next_run_at, tick=False):
            tick()
        expired = scan.next_run_at + timedelta(days=2)
        queue_sweep(now=expired)
        with time_machine.travel(expired, tick=False):
            self.assertEqual(tick().sessions_reconciled, 1)
        session = ScanSession.objects.filter(trigger="scheduled").first()
        self.assertEqual(session.status, "failed")


@pytest.mark.postgres  # SQLite's 999-variable limit makes Django split bulk inserts
class TickQueryBudget(TestCase):
    def test_a_tick_costs_a_fixed_number_of_queries_per_batch(self):
        from django.test.utils import CaptureQueriesContext

        tenant = TenantFactory(plan="enterprise")

        def queries_for(n: int) -> int:
            with time_machine.travel(MONDAY_NOON, tick=False):
                for i in range(n):
                    daily_scan(tenant, name=f"s{n}-{i}")
            due_time = datetime(2026, 12, 1, 2, 0, 30, tzinfo=UTC)
            with (
                time_machine.travel(due_time, tick=False),
                CaptureQueriesContext(connection) as queries,
            ):
                self.assertEqual(tick().started, n)
            Scan.objects.all().delete()
            return len(queries)

        self.assertEqual(queries_for(2), queries_for(40))


@pytest.mark.postgres
class RacingTicks(TransactionTestCase):
    """Two clusters tick at the same moment: each slot still runs exactly once."""

    def test_two_ticks_racing_start_each_due_scan_once(self):
        tenant = TenantFactory(plan="enterprise")
        with time_machine.travel(MONDAY_NOON, tick=False):
            for i in range(30):
                daily_scan(tenant, name=f"race-{i}")
        barrier = threading.Barrier(2)
        started = []

        def run():
            try:
                barrier.wait()
                started.append(tick(now=datetime(2026, 12, 1, 2, 0, 10, tzinfo=UTC)).started)
            finally:
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(sum(started), 30)
        self.assertEqual(ScanSession.objects.count(), 30)
        self.assertEqual(Command.objects.count(), 30)
