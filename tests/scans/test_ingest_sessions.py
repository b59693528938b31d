"""Sessions that come from a report (an upload, a one-shot CI agent), not from a scan.

The invariant, for every such session once its report is stored: it is completed at
100 %, and created_at ≤ started_at ≤ completed_at ≤ the time the report was stored —
whatever times the report claims — so the session's details sheet's timeline and the
Runs tab read in the order things happened.
"""

from __future__ import annotations

import json
from datetime import timedelta

import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from agents.services import agent_create
from scans.models import ScanSession
from tests.agents.test_agent_auth import bearer
from tests.factories import MembershipFactory, TenantFactory
from tests.ingest.test_ingest_api import INGEST, flat_report

NOW = timezone.now().replace(microsecond=0)


def stamp(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@time_machine.travel(NOW, tick=False)
class ReportRunsTellTheTruth(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.member = MembershipFactory(tenant=cls.tenant, role="member").user
        cls.agent, cls.key = agent_create(tenant=cls.tenant, name="ci-runner", type="runner")

    def send(self, **metadata) -> ScanSession:
        response = bearer(self.key).post(INGEST, flat_report("high", **metadata), format="json")
        self.assertEqual(response.status_code, 201, response.content)
        return ScanSession.objects.get(pk=response.json()["scan_id"])

    def assert_in_order(self, session: ScanSession) -> None:
        self.assertLessEqual(session.created_at, session.started_at)
        self.assertLessEqual(session.started_at, session.completed_at)
        self.assertLessEqual(session.completed_at, NOW)
        self.assertEqual(
            session.duration_ms,
            (session.completed_at - session.started_at) / timedelta(milliseconds=1),
        )

    def test_a_ci_session_is_complete_at_100_percent_with_the_reports_own_times(self):
        began, ended = NOW - timedelta(minutes=3), NOW - timedelta(minutes=1)
        session = self.send(start_time=stamp(began), end_time=stamp(ended))
        self.assertEqual((session.status, session.progress), ("completed", 100))
        self.assertEqual((session.started_at, session.completed_at), (began, ended))
        # The row was written when the report arrived; the session was created when it began.
        self.assertEqual(session.created_at, began)
        self.assertEqual(session.duration_ms, 120_000)
        self.assert_in_order(session)

    def test_a_report_without_times_is_a_session_that_began_and_ended_when_it_arrived(self):
        session = self.send()
        self.assertEqual((session.status, session.progress), ("completed", 100))
        self.assert_in_order(session)

    def test_times_from_a_clock_running_ahead_are_not_believed(self):
        ahead = NOW + timedelta(hours=1)
        session = self.send(start_time=stamp(ahead), end_time=stamp(ahead + timedelta(minutes=2)))
        self.assertEqual(session.completed_at, NOW)
        self.assert_in_order(session)

    def test_an_end_before_the_start_is_replaced_by_the_time_it_arrived(self):
        began = NOW - timedelta(minutes=3)
        session = self.send(start_time=stamp(began), end_time=stamp(began - timedelta(hours=1)))
        self.assertEqual((session.started_at, session.completed_at), (began, NOW))
        self.assert_in_order(session)

    def test_a_time_in_another_zone_is_stored_as_the_same_instant(self):
        began = NOW - timedelta(minutes=3)
        in_paris = began.astimezone(timezone.get_fixed_timezone(120)).isoformat()
        session = self.send(start_time=in_paris)
        self.assertEqual(session.started_at, began)
        self.assert_in_order(session)

    def test_an_upload_by_a_person_is_complete_and_in_order_too(self):
        client = APIClient()
        client.force_login(self.member)
        report = flat_report("low", start_time=stamp(NOW - timedelta(minutes=10)))
        upload = SimpleUploadedFile("report.json", json.dumps(report).encode())
        response = client.post(
            "/api/v1/ingest/upload", {"file": upload, "format": "flat"}, format="multipart"
        )
        self.assertEqual(response.status_code, 201, response.content)
        session = ScanSession.objects.get(pk=response.json()["scan_id"])
        self.assertEqual((session.trigger, session.progress), ("upload", 100))
        self.assert_in_order(session)

    def test_the_session_sheet_shows_100_percent_and_a_timeline_in_order(self):
        began, ended = NOW - timedelta(minutes=3), NOW - timedelta(minutes=1)
        session = self.send(start_time=stamp(began), end_time=stamp(ended))
        self.client.force_login(self.member)
        response = self.client.get(reverse("scans:session", args=[session.pk]))
        self.assertContains(response, '<p class="big" data-testid="session-progress">100%</p>')
        timeline = response.context["detail"].timeline
        self.assertEqual([entry.label for entry in timeline], ["Created", "Started", "Completed"])
        self.assertEqual([entry.at for entry in timeline], [began, began, ended])

    def test_the_runs_list_shows_100_percent(self):
        session = self.send()
        self.client.force_login(self.member)
        response = self.client.get(reverse("scans:runs"))
        self.assertContains(response, f'data-testid="progress-{session.pk}">100%</span>')
