from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from findings.models import Finding
from ingest.parsers.credentials import MASK
from tests.factories import FindingFactory, MembershipFactory, TenantFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_filters_findings_opens_one_and_marks_it_a_false_positive(
    live_server, page, screenshot
):
    team = TenantFactory(name="Alpha Team")
    member = MembershipFactory(tenant=team, role="member").user
    FindingFactory(
        tenant=team,
        severity="critical",
        title="Hard-coded AWS secret key",
        tool_name="gitleaks",
        source_category="secrets",
        rule_id="aws-secret-access-key",
        file_path="deploy/settings.py",
        start_line=12,
        end_line=12,
        finding_type="secret",
        # As the secret policy stores it (ingest/secrets.py): the value masked.
        snippet=f'AWS_SECRET_ACCESS_KEY = "{MASK}"',
        cwe_ids=["CWE-798"],
    )
    FindingFactory(tenant=team, severity="critical", title="Use of eval in the loader")
    FindingFactory.create_batch(3, tenant=team, severity="medium", title="Weak hash (MD5)")
    FindingFactory(tenant=TenantFactory(name="Bravo Team"), severity="critical", title="Theirs")

    page.goto(f"{live_server.url}/findings/")
    page.get_by_label("Username").fill(member.username)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Findings").wait_for()
    rows = page.locator("#findings-results tbody tr")
    expect(rows).to_have_count(5)
    expect(page.get_by_text("Theirs")).to_have_count(0)

    # Ticking a severity refreshes the results in place (htmx) and keeps it in the URL.
    page.get_by_role("checkbox", name="Critical").check()
    expect(rows).to_have_count(2)
    expect(page).to_have_url(re.compile(r"/findings/\?.*severity=critical"))
    expect(page.get_by_text("Weak hash (MD5)")).to_have_count(0)
    screenshot("findings-list")

    page.get_by_role("link", name="Hard-coded AWS secret key").click()
    page.get_by_role("heading", name="Hard-coded AWS secret key").wait_for()
    expect(page.get_by_test_id("finding-location")).to_have_text("deploy/settings.py:12")
    expect(page.locator("pre.snippet")).to_contain_text("AWS_SECRET_ACCESS_KEY")
    status = page.get_by_test_id("finding-status")
    expect(status).to_have_text("New")

    page.get_by_label("New status").select_option(label="False positive")
    page.get_by_label("Note").fill("Documented example key from the AWS docs")
    page.get_by_role("button", name="Change status").click()
    expect(status).to_have_text("False positive")
    expect(page.get_by_role("status")).to_have_text("Status changed to false positive.")
    expect(page.locator(".triage-log")).to_contain_text("Documented example key")
    screenshot("finding-detail")

    finding = Finding.objects.get(title="Hard-coded AWS secret key")
    assert finding.status == "false_positive"
    assert finding.metadata["triage"][-1]["note"] == "Documented example key from the AWS docs"

    # The list, filtered by status, shows the decision after a reload.
    page.goto(f"{live_server.url}/findings/?status=false_positive")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("False positive")
