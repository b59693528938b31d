"""One limit on manual triggers, whatever the path (dashboard button or API).

The reproduction: the dashboard's trigger was not throttled while the API's was, so a
user could start scans without limit through the page, or get twice the rate by
alternating.
"""

from __future__ import annotations

from django.test import TestCase, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from scans.models import ScanSession
from tests.factories import AssetFactory, MembershipFactory, ScanFactory, TenantFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@override_settings(SCAN_TRIGGER_RATE="2/min")
class TriggerThrottle(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.team = TenantFactory(plan="team")
        cls.member = MembershipFactory(tenant=cls.team, role="member").user
        cls.colleague = MembershipFactory(tenant=cls.team, role="member").user
        cls.scan = ScanFactory(tenant=cls.team, name="Nightly")
        cls.scan.targets.set([AssetFactory(tenant=cls.team)])

    def setUp(self):
        self.client.force_login(self.member)
        self.api = APIClient()
        self.api.force_login(self.member)

    def page_trigger(self, **extra):
        return self.client.post(reverse("scans:trigger", args=[self.scan.pk]), **extra)

    def api_trigger(self, api=None):
        return (api or self.api).post(f"/api/v1/scans/{self.scan.pk}/trigger")

    def test_the_dashboard_refuses_triggers_beyond_the_limit_with_a_message(self):
        self.page_trigger()
        self.page_trigger()
        response = self.client.post(reverse("scans:trigger", args=[self.scan.pk]), follow=True)
        self.assertContains(response, "Nightly did not start: too many manual runs")
        self.assertContains(response, "limit 2/min per user")
        self.assertEqual(ScanSession.objects.filter(scan=self.scan).count(), 2)

    def test_an_htmx_trigger_beyond_the_limit_gets_the_fragment_with_the_message(self):
        self.page_trigger(**HTMX)
        self.page_trigger(**HTMX)
        response = self.page_trigger(**HTMX)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'id="scans-body"')
        self.assertContains(response, "too many manual runs")

    def test_page_triggers_count_against_the_api_limit(self):
        self.page_trigger()
        self.page_trigger()
        refused = self.api_trigger()
        self.assertEqual(refused.status_code, 429)
        error = refused.json()["error"]
        self.assertEqual(
            (set(error), error["code"]), ({"code", "message", "details"}, "RATE_LIMITED")
        )
        self.assertTrue(refused.has_header("Retry-After"))

    def test_api_triggers_count_against_the_page_limit(self):
        self.assertEqual(self.api_trigger().status_code, 201)
        self.assertEqual(self.api_trigger().status_code, 201)
        response = self.client.post(reverse("scans:trigger", args=[self.scan.pk]), follow=True)
        self.assertContains(response, "too many manual runs")
        self.assertEqual(ScanSession.objects.filter(scan=self.scan).count(), 2)

    def test_each_user_has_a_limit_of_their_own(self):
        self.page_trigger()
        self.page_trigger()
        colleague = APIClient()
        colleague.force_login(self.colleague)
        self.assertEqual(self.api_trigger(colleague).status_code, 201)
