"""Assets by risk, and an asset's counts and SBOM."""

from __future__ import annotations

from django.test import TestCase

from ingest.pipeline import ingest_report
from protocol.report import Report, ReportDependency, ReportTarget
from tests.factories import AssetFactory, MembershipFactory, TenantFactory


class AssetsPages(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.user = MembershipFactory(tenant=cls.tenant, role="viewer").user
        ingest_report(
            tenant=cls.tenant,
            report=Report(
                tool_name="trivy",
                targets=[ReportTarget("github.com/acme/shop", "repository")],
                dependencies=[ReportDependency(name="lodash", version="4.17.21", ecosystem="npm")],
            ),
        )
        cls.risky = AssetFactory(tenant=cls.tenant, name="risky", risk_score=80, critical_count=2)
        cls.theirs = AssetFactory(tenant=TenantFactory(), name="their-asset")

    def setUp(self):
        self.client.force_login(self.user)

    def test_the_list_puts_the_riskiest_first_and_shows_only_the_team(self):
        response = self.client.get("/assets/")
        names = [a.name for a in response.context["page"]]
        self.assertEqual(names[0], "risky")
        self.assertNotIn("their-asset", names)

    def test_filters_narrow_the_list(self):
        response = self.client.get("/assets/", {"q": "acme/shop"})
        self.assertEqual([a.identifier for a in response.context["page"]], ["github.com/acme/shop"])

    def test_the_list_costs_the_same_queries_for_few_or_many_assets(self):
        self.client.get("/assets/")
        with self.assertNumQueries(5) as few:  # session, user, membership, count, page
            self.client.get("/assets/")
        AssetFactory.create_batch(20, tenant=self.tenant)
        with self.assertNumQueries(len(few.captured_queries)):
            self.client.get("/assets/")

    def test_an_asset_page_shows_its_sbom(self):
        from findings.models import Asset

        shop = Asset.objects.for_tenant(self.tenant).get(identifier="github.com/acme/shop")
        response = self.client.get(f"/assets/{shop.pk}/")
        self.assertContains(response, "lodash")
        self.assertContains(response, "4.17.21")

    def test_another_teams_asset_is_404(self):
        self.assertEqual(self.client.get(f"/assets/{self.theirs.pk}/").status_code, 404)
        self.assertEqual(self.client.get("/assets/nope/").status_code, 404)
