from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from scans.models import Scan, ScanSession
from tests.factories import AssetFactory, MembershipFactory, ScanFactory, TenantFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, user) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")


def test_a_member_triggers_a_scan_and_watches_its_run_live(live_server, page, screenshot):
    team = TenantFactory(name="Alpha Team")
    member = MembershipFactory(tenant=team, role="member").user
    repo = AssetFactory(tenant=team, identifier="github.com/alpha/api")
    nightly = ScanFactory(
        tenant=team,
        name="Nightly",
        schedule_type="daily",
        schedule_time=time(2, 0),
        schedule_timezone="Europe/Paris",
        next_run_at=timezone.now() + timedelta(hours=6),
    )
    nightly.targets.add(repo)
    ScanFactory(
        tenant=team,
        name="Weekday secrets",
        scanner_name="gitleaks",
        schedule_type="crontab",
        schedule_cron="0 9 * * 1-5",
        status="paused",
    )
    ScanFactory(tenant=TenantFactory(name="Bravo Team"), name="Bravo private scan")

    sign_in(page, live_server, member)
    page.goto(f"{live_server.url}/scans/")
    expect(page.get_by_role("heading", name="Scans")).to_be_visible()
    expect(page.get_by_role("row", name="Nightly")).to_contain_text(
        "Every day at 02:00 (Europe/Paris)"
    )
    expect(page.get_by_text("Cron “0 9 * * 1-5” (UTC)")).to_be_visible()
    assert "Bravo private scan" not in page.content()

    page.get_by_role("button", name="Trigger Nightly").click()
    expect(page.get_by_role("status")).to_contain_text("Nightly started: 1 session queued")
    screenshot("scans-configurations")
    session = ScanSession.objects.get(scan=nightly)

    page.get_by_role("link", name="Runs").click()
    page.wait_for_url(f"{live_server.url}/scans/runs/")
    progress = page.get_by_test_id(f"progress-{session.pk}")
    expect(progress).to_have_text("0%")
    expect(page.locator("#runs-live[data-polling]")).to_have_count(1)
    # A marker on the window survives htmx swaps but not a reload.
    page.evaluate("window.noReload = true")

    ScanSession.objects.filter(pk=session.pk).update(
        status="running", progress=60, started_at=timezone.now() - timedelta(seconds=30)
    )
    expect(progress).to_have_text("60%")
    expect(page.get_by_role("row").filter(has_text="semgrep")).to_contain_text("Running")
    expect(page.get_by_test_id("stat-active")).to_have_text("1")
    assert page.evaluate("window.noReload") is True
    screenshot("scans-runs")

    # When the run ends the poll answers 286 with a fragment that no longer polls.
    ScanSession.objects.filter(pk=session.pk).update(
        status="completed",
        progress=100,
        completed_at=timezone.now(),
        duration_ms=42_000,
        findings_total=3,
        findings_new=3,
        findings_by_severity={"high": 1, "low": 2},
    )
    Scan.objects.filter(pk=nightly.pk).update(successful_runs=1)  # as its end counts it
    expect(progress).to_have_text("100%")
    expect(page.locator("#runs-live[data-polling]")).to_have_count(0)
    expect(page.get_by_test_id("stat-completed")).to_have_text("1")
    assert page.evaluate("window.noReload") is True

    page.get_by_role("link", name="View session semgrep on github.com/alpha/api").click()
    page.wait_for_url(f"{live_server.url}/scans/sessions/{session.pk}/")
    expect(page.get_by_role("heading", name="semgrep on github.com/alpha/api")).to_be_visible()
    expect(page.get_by_test_id("session-progress")).to_have_text("100%")
    expect(page.locator(".timeline li").first).to_contain_text("Pending")
    screenshot("scans-session-details")

    tabs = page.get_by_role("navigation", name="Session details")
    tabs.get_by_role("link", name="Findings").click()
    expect(page.get_by_test_id("sev-high")).to_have_text("1")
    expect(page.get_by_role("link", name="See the findings of this session")).to_have_attribute(
        "href", f"/findings/?session={session.pk}"
    )

    tabs.get_by_role("link", name="Details").click()
    expect(page.get_by_role("heading", name="Command log")).to_be_visible()
    expect(page.get_by_role("heading", name="Danger zone")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Retry this session").click()
    expect(page.get_by_role("heading", name="semgrep on github.com/alpha/api")).to_be_visible()
    expect(page.get_by_text("queued again")).to_be_visible()
    assert ScanSession.objects.filter(scan=nightly, trigger="retry").count() == 1
    retried = ScanSession.objects.get(scan=nightly, trigger="retry")
    page.wait_for_url(f"{live_server.url}/scans/sessions/{retried.pk}/")

    # The Runs tab shows the run once, its first attempt and the retry under it.
    page.get_by_role("link", name="← Runs").click()
    run = page.locator(f"#run-{session.run_id}")
    expect(run.get_by_role("row")).to_have_count(3)  # the run's head, then two sessions
    expect(run.get_by_role("rowheader")).to_contain_text("Nightly")
    expect(run.get_by_role("rowheader")).to_contain_text("2 sessions")
    expect(page.get_by_test_id("stat-total")).to_have_text("1")
    screenshot("scans-runs-with-a-retry")

    # A bookmark of the sheet's former address lands on the session's page, same tab.
    page.goto(f"{live_server.url}/scans/runs/{session.pk}/?tab=details")
    page.wait_for_url(f"{live_server.url}/scans/sessions/{session.pk}/?tab=details")
    expect(page.get_by_role("heading", name="Command log")).to_be_visible()
