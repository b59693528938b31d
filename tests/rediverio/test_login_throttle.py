"""Sign-in throttling (django-axes): per account and per address, dashboard and admin.

The reproduction: sixty wrong passwords in 21 s, then the right one signed in.
Failure rows live in the database, so each test starts from none (its transaction
rolls back).
"""

from __future__ import annotations

from django.conf import settings
from django.test import RequestFactory, TestCase, override_settings
from django.urls import reverse

from rediverio.login_throttle import client_ip
from tests.factories import MembershipFactory, TenantFactory, UserFactory

RIGHT = "correct horse battery"


class DashboardSignInThrottle(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.member = MembershipFactory(tenant=TenantFactory(name="Alpha Team")).user

    def sign_in(self, username, password, address="203.0.113.7", path=None):
        return self.client.post(
            path or reverse("login"),
            {"username": username, "password": password},
            REMOTE_ADDR=address,
        )

    def fail(self, times, username=None, address="203.0.113.7"):
        for attempt in range(times):
            self.sign_in(username or self.member.username, f"wrong-{attempt}", address)

    def test_the_limit_is_five_failures_with_a_fifteen_minute_pause_by_default(self):
        self.assertEqual(settings.AXES_FAILURE_LIMIT, 5)
        self.assertEqual(settings.AXES_COOLOFF_TIME.total_seconds(), 15 * 60)

    def test_the_right_password_after_the_limit_of_failures_does_not_sign_in(self):
        self.fail(settings.AXES_FAILURE_LIMIT)
        response = self.sign_in(self.member.username, RIGHT)
        self.assertEqual(response.status_code, 429)
        self.assertContains(response, "Too many failed sign-ins", status_code=429)
        self.assertContains(response, "15 minutes", status_code=429)
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_failures_below_the_limit_still_let_the_right_password_in(self):
        self.fail(settings.AXES_FAILURE_LIMIT - 1)
        response = self.sign_in(self.member.username, RIGHT)
        self.assertRedirects(response, reverse("home"), fetch_redirect_response=False)

    def test_an_account_is_locked_whatever_address_the_guesses_come_from(self):
        for attempt in range(settings.AXES_FAILURE_LIMIT):
            self.sign_in(self.member.username, "wrong", address=f"198.51.100.{attempt + 1}")
        response = self.sign_in(self.member.username, RIGHT, address="192.0.2.99")
        self.assertEqual(response.status_code, 429)

    def test_an_address_is_locked_whatever_usernames_it_tries(self):
        for attempt in range(settings.AXES_FAILURE_LIMIT):
            self.sign_in(f"guess-{attempt}", "wrong")
        response = self.sign_in(self.member.username, RIGHT)
        self.assertEqual(response.status_code, 429)

    def test_another_account_from_another_address_is_not_affected(self):
        self.fail(settings.AXES_FAILURE_LIMIT)
        other = UserFactory()
        response = self.sign_in(other.username, RIGHT, address="192.0.2.50")
        self.assertEqual(response.status_code, 302)

    def test_a_forged_forwarded_for_header_does_not_give_a_fresh_address(self):
        for attempt in range(settings.AXES_FAILURE_LIMIT):
            self.client.post(
                reverse("login"),
                {"username": f"guess-{attempt}", "password": "wrong"},
                REMOTE_ADDR="203.0.113.7",
                HTTP_X_FORWARDED_FOR=f"10.0.0.{attempt}",
            )
        response = self.sign_in(UserFactory().username, RIGHT)
        self.assertEqual(response.status_code, 429)

    def test_the_admin_login_is_throttled_too(self):
        staff = UserFactory(is_staff=True, is_superuser=True)
        admin_login = reverse("admin:login")
        for attempt in range(settings.AXES_FAILURE_LIMIT):
            self.sign_in(staff.username, f"wrong-{attempt}", path=admin_login)
        response = self.sign_in(staff.username, RIGHT, path=admin_login)
        self.assertEqual(response.status_code, 429)
        self.assertContains(response, "Too many failed sign-ins", status_code=429)

    def test_dashboard_and_admin_failures_share_one_count(self):
        staff = UserFactory(is_staff=True, is_superuser=True)
        self.fail(settings.AXES_FAILURE_LIMIT - 1, username=staff.username)
        self.sign_in(staff.username, "wrong", path=reverse("admin:login"))
        self.assertEqual(self.sign_in(staff.username, RIGHT).status_code, 429)


class ClientAddress(TestCase):
    def request(self, forwarded=None):
        extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
        return RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", **extra)

    def test_without_trusted_proxies_it_is_the_peer_address(self):
        self.assertEqual(client_ip(self.request("203.0.113.7")), "10.0.0.2")

    @override_settings(TRUSTED_PROXY_COUNT=1)
    def test_behind_one_proxy_it_is_the_address_that_proxy_saw(self):
        # The client wrote "1.2.3.4" itself; the proxy appended the real peer.
        self.assertEqual(client_ip(self.request("1.2.3.4, 203.0.113.7")), "203.0.113.7")

    @override_settings(TRUSTED_PROXY_COUNT=2)
    def test_behind_two_proxies_it_skips_the_inner_proxy(self):
        chain = "1.2.3.4, 203.0.113.7, 10.0.0.1"
        self.assertEqual(client_ip(self.request(chain)), "203.0.113.7")

    @override_settings(TRUSTED_PROXY_COUNT=2)
    def test_too_short_a_chain_falls_back_to_the_peer(self):
        self.assertEqual(client_ip(self.request("203.0.113.7")), "10.0.0.2")
