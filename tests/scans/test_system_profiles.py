from __future__ import annotations

from django.test import TestCase

from scans.models import ScanProfile
from scans.profiles import SYSTEM_PROFILES
from scans.services import system_profiles_install
from tests.factories import ScanProfileFactory, TenantFactory


class SystemProfiles(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()

    def profiles(self):
        return ScanProfile.objects.for_tenant(self.tenant)

    def test_installing_twice_gives_each_system_profile_once(self):
        system_profiles_install(tenant=self.tenant)
        system_profiles_install(tenant=self.tenant)
        self.assertEqual(self.profiles().filter(is_system=True).count(), len(SYSTEM_PROFILES))

    def test_quick_sast_becomes_the_default_of_a_tenant_without_one(self):
        system_profiles_install(tenant=self.tenant)
        self.assertEqual(self.profiles().get(is_default=True).name, "Quick SAST")

    def test_a_tenants_own_default_is_kept(self):
        own = ScanProfileFactory(tenant=self.tenant, name="Ours", is_default=True)
        system_profiles_install(tenant=self.tenant)
        self.assertEqual(self.profiles().get(is_default=True), own)

    def test_a_tenant_profile_with_a_system_name_is_left_alone(self):
        own = ScanProfileFactory(tenant=self.tenant, name="Full", intensity="low")
        system_profiles_install(tenant=self.tenant)
        own.refresh_from_db()
        self.assertEqual((own.is_system, own.intensity), (False, "low"))

    def test_another_tenants_profiles_are_untouched(self):
        other = TenantFactory()
        system_profiles_install(tenant=self.tenant)
        self.assertFalse(ScanProfile.objects.for_tenant(other).exists())
