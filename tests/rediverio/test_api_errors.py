from __future__ import annotations

from django.test import TestCase
from rest_framework import serializers
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from rediverio.api_errors import ApiError


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
