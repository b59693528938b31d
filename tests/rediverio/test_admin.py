from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import TestCase
from django.urls import reverse

from rediverio.models import Membership, Tenant
from tests.factories import TENANT_OWNED_FACTORIES, MembershipFactory, TenantFactory, UserFactory


def changelist_url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change_url(obj) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


class AdminIsTenantScoped(TestCase):
    """A staff operator who belongs to team A sees none of team B in the admin."""

    @classmethod
    def setUpTestData(cls):
        cls.team_a = TenantFactory(name="Alpha Team")
        cls.team_b = TenantFactory(name="Bravo Team")
        cls.rows = {
            model: (factory(tenant=cls.team_a), factory(tenant=cls.team_b))
            for model, factory in TENANT_OWNED_FACTORIES.items()
        }
        cls.operator = UserFactory(is_staff=True)
        cls.operator.user_permissions.set(Permission.objects.all())
        MembershipFactory(user=cls.operator, tenant=cls.team_a, role="admin")
        MembershipFactory(tenant=cls.team_b)
        cls.superuser = UserFactory(is_staff=True, is_superuser=True)

    def test_every_tenant_owned_model_is_in_the_admin(self):
        for model in TENANT_OWNED_FACTORIES:
            with self.subTest(model=model.__name__):
                self.assertIn(model, admin.site._registry)

    def test_lists_show_only_the_operators_tenants(self):
        self.client.force_login(self.operator)
        for model, (row_a, row_b) in self.rows.items():
            with self.subTest(model=model.__name__):
                response = self.client.get(changelist_url(model))
                self.assertEqual(response.status_code, 200)
                listed = {obj.pk for obj in response.context["cl"].result_list}
                self.assertIn(row_a.pk, listed)
                self.assertNotIn(row_b.pk, listed)
                self.assertNotContains(response, "Bravo Team")

    def test_another_tenants_row_cannot_be_opened(self):
        self.client.force_login(self.operator)
        for model, (_row_a, row_b) in self.rows.items():
            with self.subTest(model=model.__name__):
                # The admin treats a row outside the queryset as missing.
                response = self.client.get(change_url(row_b))
                self.assertRedirects(
                    response, reverse("admin:index"), fetch_redirect_response=False
                )

    def test_tenants_and_memberships_are_scoped_too(self):
        self.client.force_login(self.operator)
        tenants = self.client.get(changelist_url(Tenant)).context["cl"].result_list
        self.assertEqual(list(tenants), [self.team_a])
        memberships = self.client.get(changelist_url(Membership)).context["cl"].result_list
        self.assertEqual({m.tenant for m in memberships}, {self.team_a})

    def test_the_tenant_choice_on_a_form_offers_only_the_operators_tenants(self):
        self.client.force_login(self.operator)
        model = next(iter(self.rows))
        form = self.client.get(change_url(self.rows[model][0])).context["adminform"].form
        self.assertEqual(list(form.fields["tenant"].queryset), [self.team_a])

    def test_a_superuser_sees_every_tenant(self):
        self.client.force_login(self.superuser)
        for model, (row_a, row_b) in self.rows.items():
            with self.subTest(model=model.__name__):
                listed = {
                    obj.pk
                    for obj in self.client.get(changelist_url(model)).context["cl"].result_list
                }
                self.assertTrue({row_a.pk, row_b.pk} <= listed)
