"""The validation boundary between parsers and the database (issue #13): whatever a
report holds, it is stored (values made to fit their columns, each change noted in the
reply's `errors`), never a 500."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

from django.test import SimpleTestCase, TestCase

from agents.services import agent_create
from findings.models import Finding
from findings.rules.severity import Severity
from ingest import boundary
from ingest.boundary import bound_report
from protocol.report import Report, ReportFinding
from scans.models import ScanSession
from tests.agents.test_agent_auth import bearer
from tests.factories import TenantFactory
from tests.ingest.test_ingest_api import INGEST, flat_report


def finding(**fields) -> ReportFinding:
    return ReportFinding(rule_id="r", title="t", severity=Severity.HIGH, **fields)


class BoundReport(SimpleTestCase):
    def test_lines_and_columns_beyond_an_integer_column_are_clamped_with_a_note(self):
        report = Report(tool_name="x", findings=[finding(start_line=2**40, end_column=2**31)])
        bound_report(report)
        self.assertEqual(report.findings[0].start_line, 2_147_483_647)
        self.assertEqual(report.findings[0].end_column, 2_147_483_647)
        self.assertEqual(len(report.warnings), 2)
        self.assertIn("findings[0].start_line", report.warnings[0])

    def test_confidence_cvss_and_epss_are_clamped_to_their_scales(self):
        report = Report(
            tool_name="x", findings=[finding(confidence=70_000, cvss_score=11.0, epss_score=-1)]
        )
        bound_report(report)
        f = report.findings[0]
        self.assertEqual((f.confidence, f.cvss_score, f.epss_score), (100, 10.0, 0.0))
        self.assertEqual(len(report.warnings), 3)

    def test_a_score_that_is_not_a_finite_number_is_dropped(self):
        report = Report(tool_name="x", findings=[finding(cvss_score=math.inf, epss_score=math.nan)])
        bound_report(report)
        self.assertIsNone(report.findings[0].cvss_score)
        self.assertIsNone(report.findings[0].epss_score)
        self.assertIn("findings[0].cvss_score", report.warnings[0])

    def test_nan_and_infinity_in_json_details_become_null_and_the_rest_is_kept(self):
        report = Report(
            tool_name="x",
            metadata={"ok": 1.5, "bad": math.nan},
            findings=[finding(metadata={"a": [1, math.inf], "b": {"c": -math.inf}, "d": "x"})],
        )
        bound_report(report)
        self.assertEqual(report.metadata, {"ok": 1.5, "bad": None})
        self.assertEqual(report.findings[0].metadata, {"a": [1, None], "b": {"c": None}, "d": "x"})
        self.assertEqual(len(report.warnings), 2)  # one note per document
        self.assertIn("findings[0].metadata.a[1]", report.warnings[1])
        json.dumps(report.findings[0].metadata, allow_nan=False)

    def test_values_within_their_columns_are_left_alone_without_notes(self):
        report = Report(
            tool_name="x",
            findings=[finding(start_line=1, confidence=100, cvss_score=0.0, epss_score=1.0)],
            started_at=datetime(2024, 5, 1, tzinfo=UTC),
            finished_at=datetime(2024, 5, 1, 0, 5, tzinfo=UTC),
        )
        bound_report(report)
        self.assertEqual(report.warnings, [])
        self.assertEqual(report.findings[0].start_line, 1)

    def test_times_before_1970_or_in_year_9999_are_ignored_with_a_note(self):
        report = Report(
            tool_name="x",
            started_at=datetime(1, 1, 1, tzinfo=UTC),
            finished_at=datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
        )
        bound_report(report)
        self.assertIsNone(report.started_at)
        self.assertIsNone(report.finished_at)
        self.assertEqual(len(report.warnings), 2)

    def test_a_time_past_year_9999_in_utc_is_ignored_rather_than_overflowing(self):
        moment = datetime.fromisoformat("9999-12-31T23:00:00-05:00")
        report = Report(tool_name="x", finished_at=moment)
        bound_report(report)
        self.assertIsNone(report.finished_at)

    def test_a_start_after_the_end_drops_the_end(self):
        report = Report(
            tool_name="x",
            started_at=datetime(2024, 5, 2, tzinfo=UTC),
            finished_at=datetime(2024, 5, 1, tzinfo=UTC),
        )
        bound_report(report)
        self.assertEqual(report.started_at, datetime(2024, 5, 2, tzinfo=UTC))
        self.assertIsNone(report.finished_at)
        self.assertIn("finished_at", report.warnings[0])

    def test_the_boundary_knows_the_column_sizes_of_the_finding_model(self):
        from django.db import connection

        for name in boundary.LINE_FIELDS:
            field = Finding._meta.get_field(name)
            low, high = connection.ops.integer_field_range(field.get_internal_type())
            self.assertLessEqual(boundary.INTEGER_MAX, high or boundary.INTEGER_MAX)
        confidence = Finding._meta.get_field("confidence")
        _, high = connection.ops.integer_field_range(confidence.get_internal_type())
        self.assertLessEqual(boundary.CONFIDENCE_RANGE[1], high or 100)
        cvss = Finding._meta.get_field("cvss_score")
        self.assertEqual((cvss.max_digits, cvss.decimal_places), (3, 1))  # 10.0 fits


class AgentIngestAtTheBoundary(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.agent, cls.key = agent_create(tenant=cls.tenant, name="worker")

    def post_raw(self, raw: str):
        client = bearer(self.key)
        client.raise_request_exception = False  # a 500 must show as one, not as a raise
        return client.post(INGEST, data=raw.encode(), content_type="application/json")

    def report_with(self, old: str, new: str) -> str:
        raw = json.dumps(flat_report("high"))
        self.assertIn(old, raw)
        return raw.replace(old, new, 1)

    def test_a_line_of_2_to_the_40_is_stored_clamped_and_noted(self):
        reply = self.post_raw(self.report_with('"start_line": 1,', f'"start_line": {2**40},'))
        self.assertEqual(reply.status_code, 201, reply.content)
        self.assertEqual(Finding.objects.get().start_line, 2_147_483_647)
        self.assertIn("findings[0].start_line", reply.json()["errors"][0])

    def test_nan_and_infinity_literals_in_finding_properties_are_stored_as_null(self):
        raw = self.report_with(
            '"start_line": 1,', '"start_line": 1, "metadata": {"a": NaN, "b": [Infinity]},'
        )
        reply = self.post_raw(raw)
        self.assertEqual(reply.status_code, 201, reply.content)
        self.assertEqual(Finding.objects.get().metadata, {"a": None, "b": [None]})
        self.assertIn("NaN and Infinity", reply.json()["errors"][0])

    def test_year_9999_and_year_1_report_times_are_ignored_and_the_run_still_recorded(self):
        raw = self.report_with(
            '"metadata": {',
            '"metadata": {"start_time": "0001-01-01T00:00:00Z", '
            '"end_time": "9999-12-31T23:59:59Z", ',
        )
        reply = self.post_raw(raw)
        self.assertEqual(reply.status_code, 201, reply.content)
        self.assertEqual(len(reply.json()["errors"]), 2)
        session = ScanSession.objects.get()
        self.assertLessEqual(session.started_at, session.completed_at)
        self.assertLess(session.duration_ms, 60_000)
