"""Background ingests: a job that is gone gets a new one from the per-minute sweep, and a
report stored after its command completed leaves the session as the command left it.

A job is "lost" here by never running the on-commit callback that queues it (what a
cluster killed while holding the task amounts to), and a worker "dies" midway by leaving
its ingest in `processing`, as the first of the job's two transactions commits it.
"""

from __future__ import annotations

import hashlib
import json
import pydoc
import threading
import zlib
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test import TestCase, TransactionTestCase, override_settings
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from agents.queue import lease_commands
from agents.services import agent_create
from findings.models import Finding
from findings.services import asset_get_or_create
from ingest.models import Ingest, IngestStatus
from ingest.services import ingest_submit
from ingest.tasks import MAX_INTERRUPTIONS, ingests_requeue, process_ingest, sweep_ingests
from scans.models import ScanSession
from scans.services import scan_create, scan_trigger
from tests.agents.test_agent_auth import bearer
from tests.factories import TenantFactory
from tests.ingest.test_ingest_api import flat_report

PATIENCE = 300
FINDINGS = 30


def _large_report() -> bytes:
    return json.dumps(flat_report(*["medium"] * FINDINGS)).encode()


@override_settings(INGEST_ASYNC_THRESHOLD_BYTES=1024, INGEST_REQUEUE_AFTER_SECONDS=PATIENCE)
class IngestSweep(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.agent, cls.key = agent_create(tenant=cls.tenant, name="worker")

    def setUp(self):
        self.now = timezone.now()

    def submit_and_lose_its_job(self) -> Ingest:
        # Outside captureOnCommitCallbacks the job is never queued: it is lost.
        ingest = ingest_submit(
            tenant=self.tenant, raw=_large_report(), format="flat", agent=self.agent
        )
        self.assertEqual(ingest.status, IngestStatus.QUEUED)
        return ingest

    def sweep(self, seconds: int, *, run_new_jobs: bool = True):
        if not run_new_jobs:  # the new job is lost too
            return ingests_requeue(now=self.now + timedelta(seconds=seconds))
        with self.captureOnCommitCallbacks(execute=True):
            return ingests_requeue(now=self.now + timedelta(seconds=seconds))

    def worker_dies_midway(self, ingest: Ingest) -> None:
        Ingest.objects.filter(pk=ingest.pk).update(status=IngestStatus.PROCESSING)

    def test_it_is_scheduled_every_minute_by_one_named_schedule(self):
        schedule = Schedule.objects.get(name="ingests-sweep")
        self.assertEqual(
            (schedule.func, schedule.schedule_type, schedule.minutes),
            ("ingest.tasks.sweep_ingests", "I", 1),
        )
        self.assertFalse(Schedule.objects.filter(name="ingest-runs-sweep").exists())

    def test_jobs_queued_before_the_rename_still_run_under_their_old_names(self):
        # A queued task names its function by its dotted path (ingest/migrations/0009).
        ingest = self.submit_and_lose_its_job()
        async_task("ingest.tasks.process_ingest_run", str(ingest.pk))  # run at once in tests
        ingest.refresh_from_db()
        self.assertEqual(ingest.status, IngestStatus.COMPLETED)
        self.assertIs(pydoc.locate("ingest.tasks.sweep_ingest_runs"), sweep_ingests)

    def test_an_ingest_whose_job_was_lost_gets_a_new_job_that_stores_it(self):
        ingest = self.submit_and_lose_its_job()
        self.assertFalse(self.sweep(PATIENCE - 1).found_work)
        with self.assertLogs("ingest.tasks", "WARNING") as logs:
            self.assertEqual(self.sweep(PATIENCE + 1).requeued, 1)
        self.assertIn("queued again", logs.output[0])
        ingest.refresh_from_db()
        self.assertEqual(ingest.status, IngestStatus.COMPLETED)
        self.assertIsNone(ingest.error)
        self.assertIsNone(ingest.payload)
        self.assertEqual(Finding.objects.for_tenant(self.tenant).count(), FINDINGS)

    def test_an_ingest_whose_worker_died_midway_is_done_again(self):
        ingest = self.submit_and_lose_its_job()
        self.worker_dies_midway(ingest)
        self.assertEqual(self.sweep(PATIENCE + 1).requeued, 1)
        ingest.refresh_from_db()
        self.assertEqual(ingest.status, IngestStatus.COMPLETED)
        session = ScanSession.objects.get(pk=ingest.scan_session_id)
        self.assertEqual(session.findings_total, FINDINGS)

    def test_it_waits_its_patience_again_before_queueing_the_same_ingest_twice(self):
        ingest = self.submit_and_lose_its_job()
        self.assertEqual(self.sweep(PATIENCE + 1, run_new_jobs=False).requeued, 1)
        # The new job may still be waiting behind a long queue.
        self.assertEqual(self.sweep(PATIENCE + 100, run_new_jobs=False).requeued, 0)
        self.assertEqual(self.sweep(2 * PATIENCE + 2, run_new_jobs=False).requeued, 1)
        ingest.refresh_from_db()
        self.assertEqual(ingest.status, IngestStatus.QUEUED)
        self.assertEqual((ingest.requeues, ingest.interruptions, ingest.error), (2, 0, None))

    def test_a_report_that_kills_its_worker_again_and_again_is_abandoned(self):
        ingest = self.submit_and_lose_its_job()
        for attempt in range(1, MAX_INTERRUPTIONS + 1):
            self.worker_dies_midway(ingest)
            result = self.sweep(attempt * (PATIENCE + 1), run_new_jobs=False)
            expected = (0, 1) if attempt == MAX_INTERRUPTIONS else (1, 0)
            self.assertEqual((result.requeued, result.abandoned), expected)
        ingest.refresh_from_db()
        self.assertEqual(ingest.status, IngestStatus.FAILED)
        self.assertEqual(ingest.error["code"], "INGEST_ABANDONED")
        self.assertIsNone(ingest.payload)
        status = bearer(self.key).get(f"/api/v1/agent/ingest/{ingest.pk}")
        self.assertEqual(status.status_code, 400)
        self.assertEqual(status.json()["error"]["code"], "INGEST_ABANDONED")

    def test_an_ingest_waiting_behind_a_long_queue_is_never_abandoned(self):
        ingest = self.submit_and_lose_its_job()
        for round_ in range(1, 2 * MAX_INTERRUPTIONS + 1):
            result = self.sweep(round_ * (PATIENCE + 1), run_new_jobs=False)
            self.assertEqual((result.requeued, result.abandoned), (1, 0))
        ingest.refresh_from_db()
        self.assertEqual(ingest.status, IngestStatus.QUEUED)

    def test_a_second_job_for_the_same_ingest_changes_nothing(self):
        ingest = self.submit_and_lose_its_job()
        self.assertEqual(process_ingest(str(ingest.pk)), IngestStatus.COMPLETED)
        self.assertEqual(process_ingest(str(ingest.pk)), "gone")
        ingest.refresh_from_db()
        self.assertEqual(
            ScanSession.objects.get(pk=ingest.scan_session_id).findings_total, FINDINGS
        )
        finding = Finding.objects.for_tenant(self.tenant).get(rule_id="rule.0")
        self.assertEqual(finding.occurrence_count, 1)

    def test_reports_stored_in_the_request_and_finished_ingests_are_left_alone(self):
        small = ingest_submit(
            tenant=self.tenant, raw=json.dumps(flat_report("high")).encode(), format="flat"
        )
        self.assertEqual(small.status, IngestStatus.COMPLETED)
        with self.captureOnCommitCallbacks(execute=True):
            done = ingest_submit(tenant=self.tenant, raw=_large_report(), format="flat")
        done.refresh_from_db()
        self.assertEqual(done.status, IngestStatus.COMPLETED)
        self.assertFalse(self.sweep(10 * PATIENCE).found_work)


@pytest.mark.postgres
@override_settings(INGEST_ASYNC_THRESHOLD_BYTES=1024, INGEST_REQUEUE_AFTER_SECONDS=PATIENCE)
class IngestSweepAndLiveJobs(TransactionTestCase):
    """A live job holds its ingest's row lock; the sweep skips what is locked (SKIP LOCKED
    is PostgreSQL's: the rows must be committed, hence a TransactionTestCase)."""

    def test_an_ingest_that_a_live_job_holds_is_skipped(self):
        tenant = TenantFactory()
        raw = _large_report()
        # What a job's first transaction leaves: the ingest begun, the report kept. (Through
        # ingest_submit the job would ingest at once: no transaction here defers it.)
        ingest = Ingest.objects.create(
            tenant=tenant,
            format="flat",
            digest=hashlib.sha256(raw).hexdigest(),
            size_bytes=len(raw),
            payload=zlib.compress(raw),
            status=IngestStatus.PROCESSING,
        )
        Ingest.objects.filter(pk=ingest.pk).update(created_at=timezone.now() - timedelta(hours=1))
        locked, release = threading.Event(), threading.Event()

        def live_job() -> None:
            try:
                with transaction.atomic():
                    Ingest.objects.select_for_update().get(pk=ingest.pk)
                    locked.set()
                    release.wait(30)
            finally:
                connection.close()

        holder = threading.Thread(target=live_job)
        holder.start()
        try:
            self.assertTrue(locked.wait(30))
            self.assertFalse(ingests_requeue().found_work)
        finally:
            release.set()
            holder.join(30)
        # Its worker is gone now: the next sweep gives it a new job (ingest at once here,
        # test settings ingest django-q2 tasks synchronously).
        self.assertEqual(ingests_requeue().requeued, 1)
        ingest.refresh_from_db()
        self.assertEqual(ingest.status, IngestStatus.COMPLETED)
        self.assertEqual(Finding.objects.for_tenant(tenant).count(), FINDINGS)


@override_settings(INGEST_ASYNC_THRESHOLD_BYTES=1024)
class BackgroundIngestAfterItsCommand(TestCase):
    """An agent completes its command as soon as the server queued its report (202);
    the background job stores the report later, into a session that has moved on."""

    def test_a_report_stored_after_its_command_completed_leaves_the_session_completed(self):
        tenant = TenantFactory()
        asset, _ = asset_get_or_create(tenant=tenant, identifier="github.com/acme/shop")
        agent, key = agent_create(
            tenant=tenant, name="worker", tools=["semgrep"], capabilities=["sast"]
        )
        scan = scan_create(tenant=tenant, name="nightly", scanner_name="semgrep", targets=[asset])
        (session,) = scan_trigger(scan=scan).sessions
        (command,) = lease_commands(agent=agent, limit=1)
        raw = json.dumps(flat_report(*["medium"] * FINDINGS, scan_id=str(session.pk))).encode()
        ingest = ingest_submit(tenant=tenant, raw=raw, format="flat", agent=agent)
        # The job reads the session first (still running), then the agent's completion
        # commits, then the job stores the report. The read is pinned to before the
        # completion: two threads could not be made to interleave so reliably.
        read_before_completion = ScanSession.objects.get(pk=session.pk)
        for action in ("acknowledge", "start", "complete"):
            reply = bearer(key).post(f"/api/v1/agent/commands/{command.pk}/{action}")
            self.assertEqual(reply.status_code, 200, reply.content)
        self.assertEqual(ScanSession.objects.get(pk=session.pk).status, "completed")
        with mock.patch("ingest.services.session_for_ingest", return_value=read_before_completion):
            self.assertEqual(process_ingest(str(ingest.pk)), IngestStatus.COMPLETED)
        session.refresh_from_db()
        self.assertEqual(session.status, "completed")
        self.assertEqual((session.findings_total, session.findings_new), (FINDINGS, FINDINGS))
