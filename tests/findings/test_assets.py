from __future__ import annotations

from django.test import TestCase

from findings.models import Asset
from findings.services import asset_get_or_create
from tests.factories import TenantFactory


class OneAssetWhateverTheSpelling(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()

    def test_https_ssh_and_short_forms_of_a_repository_are_one_asset(self):
        spellings = [
            "https://github.com/Org/Repo.git",
            "git@github.com:org/repo.git",
            "github.com/org/repo",
        ]
        assets = {asset_get_or_create(tenant=self.tenant, identifier=s)[0] for s in spellings}
        self.assertEqual(len(assets), 1)
        asset = assets.pop()
        self.assertEqual(
            (asset.type, asset.identifier, asset.provider),
            ("repository", "github.com/org/repo", "github"),
        )

    def test_each_tenant_gets_its_own_asset(self):
        other = TenantFactory()
        mine, _ = asset_get_or_create(tenant=self.tenant, identifier="github.com/org/repo")
        theirs, created = asset_get_or_create(tenant=other, identifier="github.com/org/repo")
        self.assertTrue(created)
        self.assertNotEqual(mine.pk, theirs.pk)
        self.assertEqual(Asset.objects.for_tenant(self.tenant).get(), mine)

    def test_the_provider_and_type_are_detected(self):
        asset, _ = asset_get_or_create(
            tenant=self.tenant, identifier="arn:aws:iam::123456789012:root"
        )
        self.assertEqual(asset.provider, "aws")
