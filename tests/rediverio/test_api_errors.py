from __future__ import annotations

from unittest import mock

from django.test import TestCase
from rest_framework import serializers
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from rediverio.api_errors import ApiError
from scans.schedules import Schedule
from tests.factories import MembershipFactory, TenantFactory


class _Finding(serializers.Serializer):
    severity = serializers.ChoiceField(choices=["high", "low"])


class _Report(serializers.Serializer):
    findings = _Finding(many=True)


class _Echo(APIView):
    permission_classes = []

    def post(self, request):
        _Report(data=request.data).is_valid(raise_exception=True)
        raise ApiError(409, "LEASE_CONFLICT", "Another agent holds this command.", {"id": 1})


class _Private(APIView):
    def get(self, request):  # pragma: no cover - never reached unauthenticated
        raise AssertionError


factory = APIRequestFactory()


class ErrorShape(TestCase):
    def test_validation_errors_name_the_field_and_index(self):
        body = {"findings": [{"severity": "high"}, {"severity": "bogus"}]}
        response = _Echo.as_view()(factory.post("/", body, format="json"))
        self.assertEqual(response.status_code, 400)
        error = response.data["error"]
        self.assertEqual(error["code"], "VALIDATION_ERROR")
        self.assertIn("findings[1].severity", error["message"])
        self.assertIn("bogus", error["message"])
        self.assertIn("findings", error["details"])

    def test_malformed_json_is_a_400(self):
        request = factory.post("/", b"{not json", content_type="application/json")
        response = _Echo.as_view()(request)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.data["error"]["code"], "INVALID_BODY")

    def test_our_own_errors_keep_their_code_and_details(self):
        response = _Echo.as_view()(factory.post("/", {"findings": []}, format="json"))
        self.assertEqual(response.status_code, 409)
        self.assertEqual(
            response.data,
            {
                "error": {
                    "code": "LEASE_CONFLICT",
                    "message": "Another agent holds this command.",
                    "details": {"id": 1},
                }
            },
        )

    def test_unauthenticated_requests_get_the_same_shape(self):
        response = _Private.as_view()(factory.get("/"))
        self.assertIn(response.status_code, (401, 403))
        self.assertEqual(set(response.data["error"]), {"code", "message", "details"})


class UnhandledErrors(TestCase):
    """A bug in an API view answers in the error shape; the dashboard keeps its page."""

    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory(plan="team")
        cls.member = MembershipFactory(tenant=cls.tenant, role="member").user

    def setUp(self):
        self.client.force_login(self.member)
        self.client.raise_request_exception = False  # as in production: no re-raise

    def test_an_exception_in_an_api_view_is_a_500_in_the_error_shape_with_the_request_id(self):
        with mock.patch.object(Schedule, "upcoming", side_effect=RuntimeError("a bug")):
            response = self.client.post(
                "/api/v1/scans/schedule-preview",
                {"schedule_type": "daily", "schedule_time": "09:00"},
                content_type="application/json",
            )
        self.assertEqual(response.status_code, 500)
        self.assertEqual(response["Content-Type"], "application/json")
        error = response.json()["error"]
        self.assertEqual(error["code"], "INTERNAL_ERROR")
        self.assertNotIn("a bug", error["message"])  # nothing of the exception leaks
        self.assertEqual(error["details"]["request_id"], response["X-Request-ID"])

    def test_an_exception_on_a_dashboard_page_keeps_the_html_500_page(self):
        with mock.patch("findings.views.pages.findings_page", side_effect=RuntimeError):
            response = self.client.get("/findings/")
        self.assertEqual(response.status_code, 500)
        self.assertIn("text/html", response["Content-Type"])
