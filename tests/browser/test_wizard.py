from __future__ import annotations

import re

import pytest

from scans.models import Scan
from tests.factories import AssetFactory, MembershipFactory, ScanProfileFactory, TenantFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_creates_a_scheduled_scan_through_the_four_steps(live_server, page, screenshot):
    team = TenantFactory(name="Alpha Team")
    member = MembershipFactory(tenant=team, role="member").user
    api = AssetFactory(tenant=team, name="alpha/api", identifier="github.com/alpha/api")
    web = AssetFactory(tenant=team, name="alpha/web", identifier="github.com/alpha/web")
    ScanProfileFactory(tenant=team, name="Deep")

    page.goto(f"{live_server.url}/scans/new/")
    page.get_by_label("Username").fill(member.username)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()

    # Step 1: a missing name is refused next to the field.
    page.get_by_role("heading", name="Step 1 of 4 · Basic info").wait_for()
    page.get_by_label("Description").fill("semgrep on the services")
    page.get_by_role("button", name="Next").click()
    page.locator("#id_name_errors").get_by_text("This field is required.").wait_for()
    assert page.get_by_label("Description").input_value() == "semgrep on the services"
    screenshot("wizard-basic")
    page.get_by_label("Name").fill("Nightly services")
    page.get_by_role("button", name="Next").click()

    # Step 2: the filter box narrows the list.
    page.get_by_role("heading", name="Step 2 of 4 · Targets").wait_for()
    page.get_by_label("Filter assets").fill("web")
    assert page.get_by_label("alpha/api").is_hidden()
    page.get_by_label("alpha/web").check()
    page.get_by_label("Filter assets").fill("")
    page.get_by_label("alpha/api").check()
    screenshot("wizard-targets")
    page.get_by_role("button", name="Next").click()

    # Step 3.
    page.get_by_role("heading", name="Step 3 of 4 · Options").wait_for()
    page.get_by_label("Scanner").select_option("semgrep")
    page.get_by_label("Profile").select_option(label="Deep")
    page.get_by_label("Agent tags").fill("region=eu")
    screenshot("wizard-options")
    page.get_by_role("button", name="Next").click()

    # Step 4: a bad cron shows in the live preview and next to the field on Next.
    page.get_by_role("heading", name="Step 4 of 4 · Schedule").wait_for()
    preview = page.get_by_test_id("schedule-preview")
    preview.get_by_text("Manual: the scan runs only when someone triggers it.").wait_for()
    page.get_by_label("Runs").select_option("crontab")
    assert page.get_by_label("Time of day").is_hidden()
    page.get_by_label("Cron expression").fill("0 2 * *")
    preview.get_by_text("Fix the schedule to see its next runs").wait_for()
    page.locator("#id_schedule_cron_errors").get_by_text("Use five fields").wait_for()
    page.get_by_role("button", name="Next").click()
    page.locator("#id_schedule_cron_errors").get_by_text("Use five fields").wait_for()
    assert page.get_by_label("Cron expression").input_value() == "0 2 * *"

    page.get_by_label("Cron expression").fill("0 2 * * 1-5")
    page.get_by_label("Time zone").select_option("Europe/Paris")
    preview.locator("li").nth(4).wait_for()
    assert preview.locator("li").count() == 5
    assert page.locator("#id_schedule_cron_errors").inner_text() == ""

    # Back keeps what was entered, on this step and the one before.
    page.get_by_role("button", name="Back").click()
    page.get_by_role("heading", name="Step 3 of 4 · Options").wait_for()
    assert page.get_by_label("Scanner").input_value() == "semgrep"
    assert page.get_by_label("Agent tags").input_value() == "region=eu"
    page.get_by_role("button", name="Next").click()
    page.get_by_role("heading", name="Step 4 of 4 · Schedule").wait_for()
    assert page.get_by_label("Cron expression").input_value() == "0 2 * * 1-5"
    assert preview.locator("li").count() == 5
    screenshot("wizard-schedule")
    page.get_by_role("button", name="Next").click()

    # Review, then create.
    page.get_by_role("heading", name="Review").wait_for()
    assert page.get_by_test_id("review-name").inner_text() == "Nightly services"
    assert "0 2 * * 1-5" in page.get_by_test_id("review-schedule").inner_text()
    assert page.get_by_role("link", name="Edit targets").is_visible()
    screenshot("wizard-review")
    page.get_by_role("button", name="Create scan").click()

    page.wait_for_url(re.compile(r"/scans/$"))
    page.get_by_text("Scan “Nightly services” created.").wait_for()
    scan = Scan.objects.get(tenant=team, name="Nightly services")
    assert set(scan.targets.all()) == {api, web}
    assert (scan.schedule_type, scan.schedule_cron, scan.schedule_timezone) == (
        "crontab",
        "0 2 * * 1-5",
        "Europe/Paris",
    )
    assert scan.profile.name == "Deep"
    assert scan.next_run_at is not None
    assert page.locator("table").get_by_text("Nightly services", exact=True).is_visible()
