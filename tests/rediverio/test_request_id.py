"""A caller's X-Request-ID is kept only in a safe shape; anything else gets a new id.

The reproduction: a client-chosen id was stored in the audit log unchecked.
"""

from __future__ import annotations

from django.test import TestCase
from rest_framework.test import APIClient

from rediverio.models import AuditEvent
from tests.factories import AssetFactory, MembershipFactory, TenantFactory

GENERATED = r"^[0-9a-f]{32}$"


class RequestIdShape(TestCase):
    def echoed(self, given: str) -> str:
        return self.client.get("/healthz", HTTP_X_REQUEST_ID=given)["X-Request-ID"]

    def test_ids_of_letters_digits_dots_colons_dashes_and_underscores_are_kept(self):
        for given in ("a", "lb-7f3a9c21", "Root:1-5759e988.bd86_2e3f", "x" * 64):
            with self.subTest(given=given):
                self.assertEqual(self.echoed(given), given)

    def test_unsafe_or_overlong_ids_are_replaced_by_a_generated_one(self):
        for given in (
            "<script>alert(1)</script>",
            "two words",
            "lb-7f3a9c21\n",
            "abc\r\nSet-Cookie: x=1",
            "quote'\"",
            "x" * 65,
            "é" * 8,
            "id\x00nul",
        ):
            with self.subTest(given=given):
                echoed = self.echoed(given)
                self.assertNotEqual(echoed, given)
                self.assertRegex(echoed, GENERATED)

    def test_a_missing_id_is_generated(self):
        self.assertRegex(self.client.get("/healthz")["X-Request-ID"], GENERATED)


class AuditStoresOnlySafeRequestIds(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory(plan="business")
        cls.admin = MembershipFactory(tenant=cls.tenant, role="admin").user
        cls.repo = AssetFactory(tenant=cls.tenant)

    def test_an_unsafe_id_never_reaches_the_audit_log(self):
        api = APIClient()
        api.force_login(self.admin)
        # Safe characters, but longer than any id worth keeping (the column holds 128).
        hostile = "A" * 100
        response = api.post(
            "/api/v1/scans",
            {"name": "api", "scanner_name": "bandit", "targets": [str(self.repo.pk)]},
            format="json",
            HTTP_X_REQUEST_ID=hostile,
        )
        self.assertEqual(response.status_code, 201, response.content)
        event = AuditEvent.objects.for_tenant(self.tenant).get()
        self.assertRegex(event.request_id, GENERATED)
        self.assertEqual(event.request_id, response["X-Request-ID"])
