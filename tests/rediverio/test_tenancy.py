from __future__ import annotations

from django.apps import apps
from django.db import models
from django.test import TestCase

from rediverio.models import Membership, Role, Tenant
from rediverio.tenancy import TenantOwned
from tests.factories import TENANT_OWNED_FACTORIES, MembershipFactory, TenantFactory

OUR_APPS = ("rediverio", "findings", "ingest", "agents", "scans")


def our_models() -> list[type[models.Model]]:
    return [m for m in apps.get_models() if m._meta.app_label in OUR_APPS]


class EveryTableBelongsToATenant(TestCase):
    def test_every_model_but_the_tenant_has_a_non_null_tenant_key(self):
        for model in our_models():
            if model is Tenant:
                continue
            with self.subTest(model=model.__name__):
                field = model._meta.get_field("tenant")
                self.assertIs(field.related_model, Tenant)
                self.assertFalse(field.null)

    def test_every_tenant_owned_model_has_a_factory_for_the_scoping_tests(self):
        owned = {m for m in our_models() if issubclass(m, TenantOwned)}
        self.assertEqual(owned, set(TENANT_OWNED_FACTORIES))
        self.assertEqual({m for m in our_models() if m not in owned}, {Tenant, Membership})


class TenantScopedQuerysets(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.team_a, cls.team_b = TenantFactory(), TenantFactory()
        cls.rows = {
            model: (factory(tenant=cls.team_a), factory(tenant=cls.team_b))
            for model, factory in TENANT_OWNED_FACTORIES.items()
        }
        cls.alice = MembershipFactory(tenant=cls.team_a).user

    def test_for_tenant_returns_only_that_tenants_rows(self):
        for model, (row_a, row_b) in self.rows.items():
            with self.subTest(model=model.__name__):
                visible = set(model.objects.for_tenant(self.team_a).values_list("pk", flat=True))
                self.assertIn(row_a.pk, visible)
                self.assertNotIn(row_b.pk, visible)

    def test_for_user_returns_only_rows_of_the_users_tenants(self):
        for model, (row_a, row_b) in self.rows.items():
            with self.subTest(model=model.__name__):
                visible = set(model.objects.for_user(self.alice).values_list("pk", flat=True))
                self.assertIn(row_a.pk, visible)
                self.assertNotIn(row_b.pk, visible)

    def test_a_missing_tenant_never_widens_a_query(self):
        for model in self.rows:
            with self.subTest(model=model.__name__), self.assertRaises(ValueError):
                model.objects.for_tenant(None)

    def test_factories_keep_related_rows_in_the_same_tenant(self):
        # Otherwise the scoping tests above would pass on rows that mix tenants.
        for _model, (row_a, _row_b) in self.rows.items():
            for field in row_a._meta.concrete_fields:
                related = getattr(row_a, field.name, None)
                if isinstance(related, TenantOwned):
                    self.assertEqual(related.tenant_id, self.team_a.pk)


class PlanLimitsAndModules(TestCase):
    def test_a_plan_gives_its_limits(self):
        self.assertEqual(Tenant(plan="team").limit("agent_limit"), 5)

    def test_an_override_wins_over_the_plan(self):
        tenant = Tenant(plan="team", limits_override={"agent_limit": 12})
        self.assertEqual(tenant.limit("agent_limit"), 12)

    def test_minus_one_means_unlimited(self):
        self.assertIsNone(Tenant(plan="enterprise").limit("agent_limit"))
        self.assertIsNone(Tenant(plan="team", limits_override={"max_scans": -1}).limit("max_scans"))

    def test_the_free_plan_has_no_scans_module(self):
        self.assertFalse(Tenant(plan="free").has_module("scans"))
        self.assertTrue(Tenant(plan="team").has_module("scans"))

    def test_modules_can_be_switched_per_tenant(self):
        tenant = Tenant(plan="team", modules_override={"scans": False, "audit": True})
        self.assertFalse(tenant.has_module("scans"))
        self.assertTrue(tenant.has_module("audit"))

    def test_unknown_modules_in_an_override_are_ignored(self):
        self.assertNotIn(
            "teleport", Tenant(plan="team", modules_override={"teleport": True}).modules
        )


class Roles(TestCase):
    def test_roles_are_ordered_owner_admin_member_viewer(self):
        admin = Membership(role=Role.ADMIN)
        self.assertTrue(admin.has_role(Role.MEMBER))
        self.assertTrue(admin.has_role(Role.ADMIN))
        self.assertFalse(admin.has_role(Role.OWNER))
        self.assertFalse(Membership(role=Role.VIEWER).has_role(Role.MEMBER))
