from __future__ import annotations

import pytest

from tests.factories import AgentFactory, MembershipFactory, TenantFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admins_action_shows_in_the_audit_log(live_server, page, screenshot):
    team = TenantFactory(name="Alpha Team", plan="team")
    admin = MembershipFactory(tenant=team, role="admin").user
    agent = AgentFactory(tenant=team, name="build-7")

    page.goto(f"{live_server.url}/login/?next=/agents/{agent.pk}/")
    page.get_by_label("Username").fill(admin.username)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Disable").click()
    page.get_by_role("button", name="Enable").wait_for()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    page.get_by_role("heading", name="Audit log").wait_for()
    rows = page.get_by_test_id("audit-events").locator("tbody tr")
    assert rows.count() == 1
    row = rows.first.inner_text()
    assert admin.username in row and "Agent changed" in row and "build-7" in row
    assert "status: active → disabled" in row
    screenshot("audit-log")

    page.get_by_label("Action").select_option("scan")
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("Nothing recorded for these filters").wait_for()
    assert "action=scan" in page.url
