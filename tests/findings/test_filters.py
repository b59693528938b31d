"""The findings list's date filters and page cursors at the edges of the calendar
(issue #13): a form error or the nearest sane bound, never a 500."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

from django.test import TestCase
from django.urls import reverse

from findings.selectors import (
    BadCursor,
    FindingFilters,
    decode_cursor,
    findings_filtered,
)
from tests.factories import FindingFactory, MembershipFactory, TenantFactory

LIST = reverse("findings:list")


class DateFiltersAtTheEdges(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.team = TenantFactory()
        cls.member = MembershipFactory(tenant=cls.team, role="member").user
        cls.finding = FindingFactory(tenant=cls.team, severity="high")

    def setUp(self):
        self.client.force_login(self.member)
        self.client.raise_request_exception = False  # a 500 must show as one

    def test_a_year_9999_date_is_a_form_error_and_the_other_filters_still_apply(self):
        for field in ("first_seen_from", "first_seen_to", "last_seen_from", "last_seen_to"):
            response = self.client.get(LIST, {"severity": "high", field: "9999-12-31"})
            self.assertEqual(response.status_code, 200, field)
            self.assertIn(field, response.context["form"].errors)
            self.assertEqual(response.context["page"].findings, [self.finding])

    def test_a_date_before_1970_is_a_form_error(self):
        response = self.client.get(LIST, {"first_seen_from": "0001-01-01"})
        self.assertEqual(response.status_code, 200)
        self.assertIn("first_seen_from", response.context["form"].errors)

    def test_a_cursor_before_year_1_in_utc_restarts_the_list_instead_of_failing(self):
        after = f"0001-01-01T00:00:00+14:00~{uuid4()}"
        response = self.client.get(LIST, {"after": after})
        self.assertEqual(response.status_code, 200)
        self.assertIn("after", response.context["form"].errors)


class DateFiltersInTheSelector(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.team = TenantFactory()
        cls.finding = FindingFactory(tenant=cls.team)

    def test_the_last_day_python_knows_is_clamped_rather_than_overflowing(self):
        filters = FindingFilters(first_seen_to=date.max, last_seen_to=date.max)
        self.assertEqual(list(findings_filtered(tenant=self.team, filters=filters)), [self.finding])

    def test_a_day_before_1970_is_clamped_to_the_epoch(self):
        filters = FindingFilters(first_seen_to=date.min)
        self.assertEqual(list(findings_filtered(tenant=self.team, filters=filters)), [])

    def test_a_cursor_that_overflows_in_utc_is_a_bad_cursor(self):
        with self.assertRaises(BadCursor):
            decode_cursor(f"0001-01-01T00:00:00+14:00~{uuid4()}", "-last_seen")
