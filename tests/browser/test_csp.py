"""The Content-Security-Policy holds in a real browser: every page works under it and
none of them asks chromium for anything it refuses (an inline script, handler or style,
eval, a foreign origin). Chromium reports each refusal twice: a console message ("Refused
to …", or "… violates the following Content Security Policy directive …" in newer
versions) and a `securitypolicyviolation` event; both are collected and any one of them
fails the test."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from agents.models import Agent
from findings.models import Finding
from scans.models import Scan
from tests.factories import (
    AgentFactory,
    AgentKeyFactory,
    AssetFactory,
    AuditEventFactory,
    FindingFactory,
    MembershipFactory,
    ScanFactory,
    ScanProfileFactory,
    ScanSessionFactory,
    TenantFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Runs in every document before its own scripts (Playwright injects it outside the
# page's policy); the page cannot remove the listener before it is in place.
LISTEN_FOR_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation(
    `${event.effectiveDirective} refused ${event.blockedURI || "inline"} ` +
    `at ${event.sourceFile || document.location.href}:${event.lineNumber} ` +
    `(${event.sample || "no sample"})`
  );
});
"""


class CspWatch:
    """What chromium refused on this page, from its console and from the DOM events."""

    def __init__(self, page):
        self.page = page
        self.refusals: list[str] = []
        page.expose_function("reportCspViolation", self._event)
        page.add_init_script(LISTEN_FOR_VIOLATIONS)
        page.on("console", self._console)

    def _event(self, description: str) -> None:
        self.refusals.append(f"event: {description}")

    def _console(self, message) -> None:
        text = message.text
        if text.startswith("Refused to") or "Content Security Policy" in text:
            self.refusals.append(f"console: {text}")

    def assert_none(self, where: str) -> None:
        # The event is delivered through a binding: let pending ones arrive first.
        self.page.wait_for_timeout(100)
        assert self.refusals == [], f"CSP refusals on {where}: {self.refusals}"

    def expect_refusal(self, fragment: str) -> None:
        self.page.wait_for_timeout(100)
        assert any(fragment in refusal for refusal in self.refusals), self.refusals
        self.refusals.clear()


@pytest.fixture
def csp(page):
    return CspWatch(page)


def sign_in(page, live_server, user, then: str = "/") -> None:
    page.goto(f"{live_server.url}/login/?next={then}")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}{then}")


def test_the_policy_is_enforced_and_the_watch_sees_what_it_refuses(live_server, page, csp):
    """Guards the walks below: were the header missing or relaxed, nothing would be
    refused and they would pass for nothing."""
    team = TenantFactory(name="Alpha Team")
    member = MembershipFactory(tenant=team, role="member").user
    sign_in(page, live_server, member)
    csp.assert_none("the home page")

    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.injected = true";
          document.head.append(script);
        }"""
    )
    csp.expect_refusal("script-src-elem refused inline")
    assert page.evaluate("window.injected === undefined")

    page.evaluate("() => document.body.setAttribute('style', 'display: none')")
    csp.expect_refusal("style-src-attr refused inline")
    expect(page.get_by_role("heading", name="Alpha Team")).to_be_visible()

    page.evaluate(
        """() => {
          const button = document.createElement("button");
          button.setAttribute("onclick", "window.clicked = true");
          document.body.append(button);
          button.click();
        }"""
    )
    csp.expect_refusal("script-src-attr refused inline")
    assert page.evaluate("window.clicked === undefined")

    # Code run by page.evaluate() may eval; a listener the page runs later may not.
    page.evaluate(
        """() => {
          const button = document.createElement("button");
          button.textContent = "Evaluate";
          button.addEventListener("click", () => {
            try {
              window.evaluated = eval("1 + 1");
            } catch (error) {
              window.evaluated = error.name;
            }
          });
          document.body.append(button);
        }"""
    )
    page.get_by_role("button", name="Evaluate").click()
    assert page.evaluate("window.evaluated") == "EvalError"
    csp.expect_refusal("script-src refused eval")
    assert page.evaluate("htmx.config.allowEval") is False

    page.evaluate(
        """() => {
          const image = document.createElement("img");
          image.src = "http://127.0.0.2:9/pixel.png";
          document.body.append(image);
        }"""
    )
    csp.expect_refusal("img-src refused http://127.0.0.2:9/pixel.png")


def test_every_dashboard_page_works_under_the_policy(live_server, page, csp):
    team = TenantFactory(name="Alpha Team", plan="team")
    other = TenantFactory(name="Bravo Team")
    admin = MembershipFactory(tenant=team, role="admin").user
    MembershipFactory(tenant=other, user=admin, role="member")
    api = AssetFactory(tenant=team, name="alpha/api", identifier="github.com/alpha/api")
    AssetFactory(tenant=team, name="alpha/web", identifier="github.com/alpha/web")
    ScanProfileFactory(tenant=team, name="Deep")
    finding = FindingFactory(tenant=team, asset=api, severity="critical", title="SQL injection")
    FindingFactory.create_batch(2, tenant=team, asset=api, severity="medium")
    nightly = ScanFactory(tenant=team, name="Nightly")
    nightly.targets.add(api)
    session = ScanSessionFactory(
        tenant=team,
        scan=nightly,
        asset_value="github.com/alpha/api",
        status="running",
        progress=40,
        started_at=timezone.now() - timedelta(seconds=30),
    )
    agent = AgentFactory(tenant=team, name="build-7")
    AgentKeyFactory(tenant=team, agent=agent)
    AuditEventFactory(tenant=team, actor=admin)

    sign_in(page, live_server, admin)
    expect(page.get_by_role("heading", name="Alpha Team")).to_be_visible()
    csp.assert_none("the dashboard")

    # Findings: the filters refresh the results through htmx; "select every finding"
    # ticks the whole page.
    page.goto(f"{live_server.url}/findings/")
    rows = page.locator("#findings-results tbody tr")
    expect(rows).to_have_count(3)
    page.get_by_role("checkbox", name="Critical").check()
    expect(rows).to_have_count(1)
    page.get_by_role("checkbox", name="Critical").uncheck()
    expect(rows).to_have_count(3)
    page.get_by_role("checkbox", name="Select every finding on this page").check()
    expect(page.locator("input[name=ids]:checked")).to_have_count(3)
    page.get_by_role("checkbox", name="Select every finding on this page").uncheck()
    expect(page.locator("input[name=ids]:checked")).to_have_count(0)
    csp.assert_none("the findings list")
    page.get_by_role("link", name="SQL injection").click()
    page.get_by_role("heading", name="SQL injection").wait_for()
    page.get_by_label("New status").select_option(label="Confirmed")
    page.get_by_role("button", name="Change status").click()
    expect(page.get_by_test_id("finding-status")).to_have_text("Confirmed")
    csp.assert_none("a finding")
    assert Finding.objects.get(pk=finding.pk).status == "confirmed"

    # Scans, and the runs page polling (an htmx swap every 3 s) with its progress bar.
    page.goto(f"{live_server.url}/scans/")
    expect(page.get_by_role("row", name="Nightly")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Delete Nightly").click()
    expect(page.get_by_role("row", name="Nightly")).to_be_visible()
    assert Scan.objects.filter(pk=nightly.pk).exists()
    csp.assert_none("the scans list")
    page.goto(f"{live_server.url}/scans/runs/")
    expect(page.get_by_test_id(f"progress-{session.pk}")).to_have_text("40%")
    type(session).objects.filter(pk=session.pk).update(progress=70)
    expect(page.get_by_test_id(f"progress-{session.pk}")).to_have_text("70%")
    bar = page.get_by_role("progressbar").first.locator("rect")
    assert bar.get_attribute("width") == "70"
    csp.assert_none("the runs page, after a poll")
    page.goto(f"{live_server.url}/scans/sessions/{session.pk}/")
    expect(page.get_by_test_id("session-progress")).to_have_text("70%")
    csp.assert_none("a session")

    # The wizard's four steps: the target filter and the schedule's fields are script.
    page.goto(f"{live_server.url}/scans/new/")
    page.get_by_role("heading", name="Step 1 of 4 · Basic info").wait_for()
    page.get_by_label("Name").fill("Weekly services")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("heading", name="Step 2 of 4 · Targets").wait_for()
    page.get_by_label("Filter assets").fill("web")
    expect(page.get_by_label("alpha/api")).to_be_hidden()
    page.get_by_label("Filter assets").press("Enter")  # filters, never submits
    page.get_by_label("alpha/web").check()
    page.get_by_label("Filter assets").fill("")
    expect(page.get_by_label("alpha/api")).to_be_visible()
    page.get_by_role("button", name="Next").click()
    page.get_by_role("heading", name="Step 3 of 4 · Options").wait_for()
    page.get_by_label("Scanner").select_option("semgrep")
    page.get_by_label("Profile").select_option(label="Deep")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("heading", name="Step 4 of 4 · Schedule").wait_for()
    expect(page.get_by_label("Time of day")).to_be_hidden()
    page.get_by_label("Runs").select_option("weekly")
    expect(page.get_by_label("Time of day")).to_be_visible()
    expect(page.get_by_label("Cron expression")).to_be_hidden()
    expect(page.get_by_label("Day of the month")).to_be_hidden()
    page.get_by_label("Time of day").fill("03:30")
    page.get_by_label("Day of the week").select_option(label="Tuesday")
    page.get_by_test_id("schedule-preview").locator("li").nth(4).wait_for()
    csp.assert_none("the wizard's schedule step")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("heading", name="Review").wait_for()
    page.get_by_role("button", name="Create scan").click()
    page.wait_for_url(re.compile(r"/scans/$"))
    page.get_by_text("Scan “Weekly services” created.").wait_for()
    assert Scan.objects.get(tenant=team, name="Weekly services").schedule_type == "weekly"
    csp.assert_none("the wizard")

    # Agents: the eligibility select submits itself; revoking asks first.
    page.goto(f"{live_server.url}/agents/")
    expect(page.get_by_role("link", name="build-7")).to_be_visible()
    csp.assert_none("the agents list")
    page.get_by_role("link", name="build-7").click()
    page.get_by_label("Scan", exact=True).select_option(label="Nightly")
    expect(page.get_by_test_id("eligibility")).to_be_visible()
    assert f"scan={nightly.pk}" in page.url
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Revoke").click()
    page.wait_for_timeout(300)
    assert Agent.objects.get(pk=agent.pk).status != "revoked"
    dialogs: list[str] = []

    def accept(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("button", name="Revoke")).to_have_count(0)
    assert dialogs == ["Revoke build-7? Its keys stop working for good."]
    assert Agent.objects.get(pk=agent.pk).status == "revoked"
    csp.assert_none("an agent")

    for path, heading in [
        ("/assets/", "Assets"),
        (f"/assets/{api.pk}/", "alpha/api"),
        ("/profiles/", "Scan profiles"),
        ("/audit/", "Audit log"),
    ]:
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        csp.assert_none(path)

    # The team switcher submits itself too.
    page.goto(live_server.url)
    page.get_by_label("Team").select_option(label="Bravo Team")
    expect(page.get_by_role("heading", name="Bravo Team")).to_be_visible()
    csp.assert_none("the team switcher")


def test_an_agent_name_in_the_revoke_question_stays_text(live_server, page, csp):
    """The question was once JavaScript in an onsubmit handler: a quote in the name
    ended the string."""
    team = TenantFactory(name="Alpha Team", plan="team")
    admin = MembershipFactory(tenant=team, role="admin").user
    agent = AgentFactory(tenant=team, name='it\'s "quoted" </form>')
    sign_in(page, live_server, admin, then=f"/agents/{agent.pk}/")
    dialogs: list[str] = []

    def dismiss(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("button", name="Revoke").click()
    page.wait_for_timeout(300)
    assert dialogs == ['Revoke it\'s "quoted" </form>? Its keys stop working for good.']
    assert Agent.objects.get(pk=agent.pk).status != "revoked"
    csp.assert_none("an agent with quotes in its name")


def test_the_admin_and_the_api_docs_work_under_the_policy(live_server, page, csp):
    operator = UserFactory(is_staff=True, is_superuser=True)
    team = TenantFactory(name="Alpha Team")
    MembershipFactory(tenant=team, user=operator, role="owner")
    FindingFactory(tenant=team, title="SQL injection")

    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.get_by_label("Username").fill(operator.username)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Site administration").wait_for()
    csp.assert_none("the admin index")
    page.goto(f"{live_server.url}/admin/findings/finding/")
    page.get_by_role("link", name="SQL injection").click()
    page.get_by_role("button", name="Save", exact=True).wait_for()
    csp.assert_none("an admin change form")

    page.goto(f"{live_server.url}/api/docs/")
    page.locator(".swagger-ui .opblock").first.wait_for()
    csp.assert_none("the API docs")
