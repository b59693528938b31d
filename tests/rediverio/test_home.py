from __future__ import annotations

from django.test import TestCase
from django.urls import reverse

from tests.factories import (
    AgentFactory,
    FindingFactory,
    MembershipFactory,
    ScanFactory,
    TenantFactory,
    UserFactory,
)


class SignIn(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.member = MembershipFactory(tenant=TenantFactory(name="Alpha Team")).user

    def test_anonymous_visitors_are_sent_to_the_login_page(self):
        response = self.client.get(reverse("home"))
        self.assertRedirects(response, f"{reverse('login')}?next=/")

    def test_the_login_page_renders(self):
        response = self.client.get(reverse("login"))
        self.assertContains(response, "Sign in")

    def test_a_member_signs_in_and_lands_on_the_home_page(self):
        response = self.client.post(
            reverse("login"),
            {"username": self.member.username, "password": "correct horse battery"},
            follow=True,
        )
        self.assertContains(response, "Alpha Team")
        self.assertContains(response, "Open findings")

    def test_a_wrong_password_is_refused_with_a_message(self):
        response = self.client.post(
            reverse("login"), {"username": self.member.username, "password": "nope"}
        )
        self.assertContains(response, "didn't match")

    def test_signing_out_needs_a_post(self):
        self.client.force_login(self.member)
        self.assertEqual(self.client.get(reverse("logout")).status_code, 405)
        self.assertRedirects(self.client.post(reverse("logout")), reverse("login"))


class HomePage(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.team_a, cls.team_b = TenantFactory(name="Alpha"), TenantFactory(name="Bravo")
        cls.alice = MembershipFactory(tenant=cls.team_a).user
        FindingFactory.create_batch(2, tenant=cls.team_a, severity="critical")
        FindingFactory(tenant=cls.team_a, severity="low")
        FindingFactory(tenant=cls.team_a, severity="high", status="false_positive")
        FindingFactory.create_batch(7, tenant=cls.team_b, severity="critical")
        ScanFactory(tenant=cls.team_a, status="paused")
        ScanFactory.create_batch(4, tenant=cls.team_b)
        AgentFactory(tenant=cls.team_a, health="online")
        AgentFactory.create_batch(3, tenant=cls.team_b, health="online")

    def test_it_counts_only_the_current_tenants_rows(self):
        self.client.force_login(self.alice)
        response = self.client.get(reverse("home"))
        context = response.context
        self.assertEqual(context["open_findings"], 3)
        self.assertEqual(context["findings"]["critical"], 2)
        self.assertEqual(context["findings"]["high"], 0)  # the false positive is not open
        self.assertEqual(context["scans"], {"active": 0, "paused": 1, "disabled": 0})
        self.assertEqual(context["agents"]["online"], 1)
        self.assertEqual(context["assets"], 4)  # one per finding
        self.assertNotContains(response, "Bravo")

    def test_its_query_count_does_not_grow_with_the_data(self):
        self.client.force_login(self.alice)
        self.client.get(reverse("home"))  # warm the session
        # session, user, memberships, then one aggregate each: open findings, new this
        # week, fixed this week, running scans, scans, agents, assets.
        with self.assertNumQueries(10):
            self.client.get(reverse("home"))
        FindingFactory.create_batch(20, tenant=self.team_a)
        with self.assertNumQueries(10):
            self.client.get(reverse("home"))

    def test_it_charts_new_and_fixed_findings_of_the_week(self):
        from django.utils import timezone

        from findings.models import Finding

        today = timezone.now()
        Finding.objects.for_tenant(self.team_a).filter(severity="low").update(
            status="resolved", resolved_at=today
        )
        self.client.force_login(self.alice)
        context = self.client.get(reverse("home")).context
        self.assertEqual(context["fixed_this_week"], 1)
        self.assertEqual(len(context["week"]), 7)
        self.assertEqual(context["week"][-1]["fixed"], 1)

    def test_a_user_without_a_team_is_told_so(self):
        self.client.force_login(UserFactory())
        response = self.client.get(reverse("home"))
        self.assertContains(response, "No team yet", status_code=403)


class TeamSwitch(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.alpha, cls.bravo = TenantFactory(name="Alpha"), TenantFactory(name="Bravo")
        cls.user = MembershipFactory(tenant=cls.alpha).user
        MembershipFactory(tenant=cls.bravo, user=cls.user)
        FindingFactory.create_batch(3, tenant=cls.bravo)

    def test_a_member_of_two_teams_switches_between_them(self):
        self.client.force_login(self.user)
        self.assertEqual(self.client.get(reverse("home")).context["current_tenant"], self.alpha)
        response = self.client.post(
            reverse("tenant-switch"), {"tenant": str(self.bravo.pk), "next": "/"}
        )
        self.assertRedirects(response, "/")
        page = self.client.get(reverse("home"))
        self.assertEqual(
            (page.context["current_tenant"], page.context["open_findings"]), (self.bravo, 3)
        )

    def test_a_team_the_user_is_not_in_cannot_be_chosen(self):
        self.client.force_login(self.user)
        outsider_team = TenantFactory()
        response = self.client.post(reverse("tenant-switch"), {"tenant": str(outsider_team.pk)})
        self.assertEqual(response.status_code, 403)
        self.assertEqual(self.client.get(reverse("home")).context["current_tenant"], self.alpha)
