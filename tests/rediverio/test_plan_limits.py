"""Plan limits on members and assets: `max_members` and `max_assets` are checked wherever
those rows are created (rediverio/plans.py lists where). A limit of None or -1 is
unlimited, `limits_override` wins over the plan, what exists is never refused, and the
Django admin is exempt. Ingest has its own tests: tests/ingest/test_ingest_plan_limits.py."""

from __future__ import annotations

import os
import tempfile
from io import StringIO
from pathlib import Path
from unittest import mock

from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import TestCase, override_settings

from findings.models import Asset
from findings.services import AssetLimitReached, asset_get_or_create, assets_allowance
from rediverio.models import Membership, Role
from rediverio.plans import PLANS
from rediverio.services import MemberLimitReached, membership_grant
from tests.factories import AssetFactory, MembershipFactory, TenantFactory, UserFactory


class MemberLimit(TestCase):
    def test_the_plan_s_members_are_granted_and_the_next_one_refused(self):
        tenant = TenantFactory(plan="free")
        allowed = PLANS["free"]["limits"]["max_members"]
        for _ in range(allowed):
            membership_grant(tenant=tenant, user=UserFactory())
        with self.assertRaisesMessage(
            MemberLimitReached,
            f"The free plan of {tenant.name} allows {allowed} member(s) (max_members); "
            f"{allowed} already belong to it.",
        ):
            membership_grant(tenant=tenant, user=UserFactory())
        self.assertEqual(Membership.objects.for_tenant(tenant).count(), allowed)

    def test_a_member_already_there_may_change_role_at_the_limit(self):
        tenant = TenantFactory(limits_override={"max_members": 1})
        member = MembershipFactory(tenant=tenant, role=Role.VIEWER)
        membership_grant(tenant=tenant, user=member.user, role=Role.ADMIN)
        member.refresh_from_db()
        self.assertEqual(member.role, Role.ADMIN)

    def test_limits_override_wins_over_the_plan(self):
        tenant = TenantFactory(plan="enterprise", limits_override={"max_members": 1})
        membership_grant(tenant=tenant, user=UserFactory())
        with self.assertRaises(MemberLimitReached):
            membership_grant(tenant=tenant, user=UserFactory())
        roomy = TenantFactory(plan="free", limits_override={"max_members": 5})
        for _ in range(5):
            membership_grant(tenant=roomy, user=UserFactory())
        self.assertEqual(Membership.objects.for_tenant(roomy).count(), 5)

    def test_minus_one_and_none_are_unlimited(self):
        for unlimited in (-1, None):
            with self.subTest(limit=unlimited):
                tenant = TenantFactory(plan="free", limits_override={"max_members": unlimited})
                for _ in range(PLANS["free"]["limits"]["max_members"] + 2):
                    membership_grant(tenant=tenant, user=UserFactory())

    def test_a_limit_of_zero_refuses_even_the_first_member(self):
        tenant = TenantFactory(limits_override={"max_members": 0})
        with self.assertRaises(MemberLimitReached):
            membership_grant(tenant=tenant, user=UserFactory(), role=Role.OWNER)
        self.assertFalse(Membership.objects.for_tenant(tenant).exists())

    def test_other_teams_members_do_not_count(self):
        tenant = TenantFactory(limits_override={"max_members": 1})
        MembershipFactory.create_batch(3)
        membership_grant(tenant=tenant, user=UserFactory())


class AssetLimit(TestCase):
    def test_the_plan_s_assets_are_created_and_the_next_one_refused(self):
        tenant = TenantFactory(limits_override={"max_assets": 2})
        for name in ("shop", "api"):
            _, created = asset_get_or_create(tenant=tenant, identifier=f"github.com/acme/{name}")
            self.assertTrue(created)
        with self.assertRaisesMessage(
            AssetLimitReached,
            f"The business plan of {tenant.name} allows 2 asset(s) (max_assets); 2 already exist.",
        ):
            asset_get_or_create(tenant=tenant, identifier="github.com/acme/web")
        self.assertEqual(Asset.objects.for_tenant(tenant).count(), 2)

    def test_an_asset_that_exists_is_returned_at_the_limit_in_any_spelling(self):
        tenant = TenantFactory(limits_override={"max_assets": 1})
        shop, _ = asset_get_or_create(tenant=tenant, identifier="github.com/acme/shop")
        again, created = asset_get_or_create(
            tenant=tenant, identifier="git@github.com:Acme/Shop.git"
        )
        self.assertEqual((again, created), (shop, False))

    def test_a_limit_lowered_below_what_exists_refuses_new_ones_and_keeps_the_rest(self):
        tenant = TenantFactory()
        AssetFactory.create_batch(3, tenant=tenant)
        tenant.limits_override = {"max_assets": 1}
        tenant.save()
        self.assertEqual(assets_allowance(tenant).room, 0)
        with self.assertRaisesMessage(AssetLimitReached, "allows 1 asset(s) (max_assets); 3"):
            asset_get_or_create(tenant=tenant, identifier="github.com/acme/new")
        self.assertEqual(Asset.objects.for_tenant(tenant).count(), 3)

    def test_the_allowance_follows_the_plan_and_its_override(self):
        cases = [
            ("free", {}, PLANS["free"]["limits"]["max_assets"]),
            ("enterprise", {}, None),
            ("enterprise", {"max_assets": 4}, 4),
            ("free", {"max_assets": -1}, None),
            ("free", {"max_assets": None}, None),
        ]
        for plan, override, room in cases:
            with self.subTest(plan=plan, override=override):
                tenant = TenantFactory(plan=plan, limits_override=override)
                self.assertEqual(assets_allowance(tenant).room, room)

    def test_other_teams_assets_do_not_count(self):
        tenant = TenantFactory(limits_override={"max_assets": 1})
        AssetFactory.create_batch(2)
        _, created = asset_get_or_create(tenant=tenant, identifier="github.com/acme/shop")
        self.assertTrue(created)


class SeedDemoUnderLimits(TestCase):
    """`seed_demo` creates an asset and a member: a plan refusing either is a
    CommandError with the reason, and nothing of the demo is half made."""

    def setUp(self):
        var = Path(self.enterContext(tempfile.TemporaryDirectory()))
        self.enterContext(override_settings(VAR_DIR=var))
        self.enterContext(mock.patch.dict(os.environ, {"DEMO_PASSWORD": "demo-password-1"}))

    def run_seed(self):
        call_command("seed_demo", stdout=StringIO())

    def test_a_demo_team_with_no_room_for_its_asset_is_an_error(self):
        TenantFactory(slug="demo", limits_override={"max_assets": 0})
        with self.assertRaisesMessage(CommandError, "(max_assets)"):
            self.run_seed()
        self.assertFalse(User.objects.filter(username="demo").exists())

    def test_a_demo_team_with_no_room_for_its_user_is_an_error(self):
        demo = TenantFactory(slug="demo", limits_override={"max_members": 1})
        MembershipFactory(tenant=demo)
        with self.assertRaisesMessage(CommandError, "(max_members)"):
            self.run_seed()
        self.assertFalse(Asset.objects.for_tenant(demo).exists())


class AdminIsExempt(TestCase):
    """Operators grant what a plan does not: the admin adds members and assets beyond it."""

    def setUp(self):
        self.operator = User.objects.create_superuser("operator", "op@example.com", "pw-123456")
        self.client.force_login(self.operator)

    def test_an_operator_adds_a_member_beyond_the_plan(self):
        tenant = TenantFactory(limits_override={"max_members": 1})
        MembershipFactory(tenant=tenant)
        user = UserFactory()
        response = self.client.post(
            "/admin/rediverio/membership/add/",
            {"user": user.pk, "tenant": tenant.pk, "role": "member"},
        )
        self.assertEqual(response.status_code, 302, response.content[:2000])
        self.assertEqual(Membership.objects.for_tenant(tenant).count(), 2)
