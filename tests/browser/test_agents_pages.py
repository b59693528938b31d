from __future__ import annotations

import pytest

from agents.models import AgentKey
from tests.factories import MembershipFactory, TenantFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_registers_an_agent_and_sees_its_key_once(live_server, page, screenshot):
    team = TenantFactory(name="Alpha Team", plan="team")
    admin = MembershipFactory(tenant=team, role="admin").user

    page.goto(f"{live_server.url}/login/?next=/agents/")
    page.get_by_label("Username").fill(admin.username)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Agents").wait_for()
    screenshot("agents")

    page.get_by_label("Name").fill("build-7")
    page.get_by_label("Tools").fill("bandit, semgrep")
    page.get_by_role("button", name="Register").click()
    key = page.get_by_test_id("agent-key").inner_text().strip()
    assert key.startswith("rdv_")
    screenshot("agent-registered")
    assert AgentKey.objects.filter(agent__name="build-7").count() == 1

    page.get_by_role("link", name="Go to the agent").click()
    page.get_by_role("heading", name="build-7").wait_for()
    assert key not in page.content()
    assert key[:12] in page.content()  # the visible prefix, only
