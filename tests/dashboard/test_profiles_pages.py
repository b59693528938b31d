"""Scan profiles pages: system and team profiles, tools and quality gate."""

from __future__ import annotations

from django.test import TestCase

from scans.services import system_profiles_install
from tests.factories import MembershipFactory, ScanProfileFactory, TenantFactory


class ProfilesPages(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        system_profiles_install(tenant=cls.tenant)
        cls.gated = ScanProfileFactory(
            tenant=cls.tenant,
            name="Release gate",
            tools_config={"semgrep": {"enabled": True, "severity": "high", "timeout": 600}},
            quality_gate={"enabled": True, "fail_on_critical": True, "max_high": 3},
        )
        cls.theirs = ScanProfileFactory(tenant=TenantFactory(), name="Their profile")
        cls.user = MembershipFactory(tenant=cls.tenant, role="viewer").user

    def setUp(self):
        self.client.force_login(self.user)

    def test_the_list_shows_system_and_team_profiles_only(self):
        response = self.client.get("/profiles/")
        self.assertContains(response, "Quick SAST")
        self.assertContains(response, "Release gate")
        self.assertNotContains(response, "Their profile")

    def test_a_profile_page_shows_its_tools_and_gate(self):
        response = self.client.get(f"/profiles/{self.gated.pk}/")
        self.assertContains(response, "semgrep")
        self.assertContains(response, "critical: at most 0")
        self.assertContains(response, "high: at most 3")
        self.assertNotContains(response, "at most -1")

    def test_another_teams_profile_is_404(self):
        self.assertEqual(self.client.get(f"/profiles/{self.theirs.pk}/").status_code, 404)

    def test_the_list_costs_the_same_queries_for_few_or_many_profiles(self):
        self.client.get("/profiles/")
        with self.assertNumQueries(4) as few:  # session, user, memberships, profiles
            self.client.get("/profiles/")
        ScanProfileFactory.create_batch(15, tenant=self.tenant)
        with self.assertNumQueries(len(few.captured_queries)):
            self.client.get("/profiles/")
