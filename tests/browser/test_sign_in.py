from __future__ import annotations

import pytest

from tests.factories import FindingFactory, MembershipFactory, TenantFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_signs_in_sees_their_team_and_signs_out(live_server, page, screenshot):
    team = TenantFactory(name="Alpha Team")
    member = MembershipFactory(tenant=team, role="owner").user
    FindingFactory.create_batch(3, tenant=team, severity="critical")
    FindingFactory.create_batch(5, tenant=TenantFactory(name="Bravo Team"))

    page.goto(live_server.url)
    assert page.url.startswith(f"{live_server.url}/login/")
    screenshot("login")

    page.get_by_label("Username").fill(member.username)
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").is_visible()

    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Alpha Team").wait_for()
    assert page.get_by_test_id("open-findings").inner_text() == "3"
    assert "Bravo Team" not in page.content()
    screenshot("home")

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
