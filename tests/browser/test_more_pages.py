from __future__ import annotations

import pytest

from ingest.pipeline import ingest_report
from protocol.report import Report, ReportDependency, ReportTarget
from scans.services import system_profiles_install
from tests.factories import FindingFactory, MembershipFactory, TenantFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_assets_and_profiles_pages_render_for_a_member(live_server, page, screenshot):
    team = TenantFactory(name="Alpha Team")
    member = MembershipFactory(tenant=team, role="member").user
    system_profiles_install(tenant=team)
    ingest_report(
        tenant=team,
        report=Report(
            tool_name="trivy",
            targets=[ReportTarget("github.com/alpha/shop", "repository")],
            dependencies=[ReportDependency(name="lodash", version="4.17.21", ecosystem="npm")],
        ),
    )
    FindingFactory.create_batch(3, tenant=team, severity="high")

    page.goto(f"{live_server.url}/login/?next=/assets/")
    page.get_by_label("Username").fill(member.username)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Assets").wait_for()
    screenshot("assets")
    page.get_by_role("link", name="shop").click()
    page.get_by_test_id("components").get_by_text("lodash").wait_for()
    screenshot("asset-detail")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Profiles").click()
    page.get_by_role("link", name="Quick SAST").click()
    page.get_by_test_id("tools").get_by_text("semgrep").wait_for()
    screenshot("profile-detail")
