"""The new-scan wizard: four steps and a review over one ScanDraft row."""

from __future__ import annotations

import re
from datetime import time

import time_machine
from django.contrib.messages import get_messages
from django.test import TestCase
from django.urls import reverse

from scans.models import Scan, ScanDraft
from tests.factories import (
    NOW,
    AssetFactory,
    MembershipFactory,
    ScanDraftFactory,
    ScanFactory,
    ScanProfileFactory,
    TenantFactory,
    UserFactory,
)

HTMX = {"HTTP_HX_REQUEST": "true"}

BASIC = {"name": "Nightly API", "description": "semgrep on the API", "scan_type": "single"}
SCHEDULE = {
    "schedule_type": "weekly",
    "schedule_time": "02:30",
    "schedule_weekday": "0",
    "schedule_timezone": "Europe/Paris",
}


def field_errors(response, field: str) -> list[str]:
    """The messages shown in the error slot next to an input."""
    html = response.content.decode()
    slot = re.search(rf'id="id_{field}_errors"[^>]*>(.*?)</div>', html, re.S)
    assert slot is not None, f"no error slot for {field}"
    return re.findall(r'<p class="field-error">(.*?)</p>', slot.group(1), re.S)


def checked_values(response, name: str) -> set[str]:
    html = response.content.decode()
    inputs = re.findall(rf'<input type="checkbox" name="{name}"[^>]*>', html)
    return {re.search(r'value="([^"]*)"', tag).group(1) for tag in inputs if " checked" in tag}


class WizardTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.team, cls.other_team = TenantFactory(name="Alpha"), TenantFactory(name="Bravo")
        cls.member = MembershipFactory(tenant=cls.team, role="member").user
        cls.viewer = MembershipFactory(tenant=cls.team, role="viewer").user
        cls.outsider = MembershipFactory(tenant=cls.other_team, role="owner").user
        cls.api = AssetFactory(tenant=cls.team, name="alpha/api", identifier="github.com/alpha/api")
        cls.web = AssetFactory(tenant=cls.team, name="alpha/web", identifier="github.com/alpha/web")
        cls.bravo_repo = AssetFactory(tenant=cls.other_team, name="bravo/secret")
        cls.standard = ScanProfileFactory(tenant=cls.team, name="Standard", is_default=True)
        cls.deep = ScanProfileFactory(tenant=cls.team, name="Deep", intensity="high")
        ScanProfileFactory(tenant=cls.other_team, name="Bravo profile")
        ScanFactory(tenant=cls.team, name="Existing scan")

    def setUp(self):
        self.client.force_login(self.member)

    def start(self) -> ScanDraft:
        response = self.client.get(reverse("scans:new"))
        draft = ScanDraft.objects.get(created_by=self.member)
        self.assertRedirects(response, self.url("basic", draft), fetch_redirect_response=False)
        return draft

    def url(self, step: str, draft: ScanDraft) -> str:
        return reverse(f"scans:wizard-{step}", args=[draft.pk])

    def post(self, step: str, draft: ScanDraft, data: dict, **extra):
        return self.client.post(self.url(step, draft), data, **extra)

    def draft_at(self, step: int, **data) -> ScanDraft:
        """A draft of the member's whose steps up to `step` are done."""
        values = {
            "name": "Nightly API",
            "description": "",
            "scan_type": "single",
            "asset_group": "",
            "targets": [str(self.api.pk)],
            "scanner_name": "semgrep",
            "pipeline": [],
            "profile": str(self.deep.pk),
            "tags": [],
            "run_on_tenant_runner": False,
            "priority": 10,
            "schedule_type": "daily",
            "schedule_time": "02:00",
            "schedule_day": None,
            "schedule_cron": "",
            "schedule_timezone": "Europe/Paris",
            **data,
        }
        return ScanDraftFactory(tenant=self.team, created_by=self.member, step=step, data=values)


class TheFullFlow(WizardTestCase):
    def test_it_creates_the_scan_with_the_chosen_targets_schedule_and_profile(self):
        draft = self.start()
        response = self.post("basic", draft, BASIC)
        self.assertRedirects(response, self.url("targets", draft), fetch_redirect_response=False)
        response = self.post("targets", draft, {"targets": [self.api.pk, self.web.pk]})
        self.assertRedirects(response, self.url("options", draft), fetch_redirect_response=False)
        options = {
            "scanner_name": "semgrep",
            "profile": self.deep.pk,
            "tags": "region=eu, gpu",
            "run_on_tenant_runner": "on",
            "priority": "20",
        }
        response = self.post("options", draft, options)
        self.assertRedirects(response, self.url("schedule", draft), fetch_redirect_response=False)
        response = self.post("schedule", draft, SCHEDULE)
        self.assertRedirects(response, self.url("review", draft), fetch_redirect_response=False)

        review = self.client.get(self.url("review", draft))
        self.assertContains(review, "Nightly API")
        self.assertContains(review, "alpha/web")
        self.assertContains(review, "Deep")
        self.assertContains(review, "Every Monday at 02:30 (Europe/Paris)")
        self.assertContains(review, self.url("targets", draft))

        response = self.post("review", draft, {})
        self.assertRedirects(response, reverse("scans:list"), fetch_redirect_response=False)
        scan = Scan.objects.get(tenant=self.team, name="Nightly API")
        self.assertEqual(set(scan.targets.all()), {self.api, self.web})
        self.assertEqual(scan.profile, self.deep)
        self.assertEqual(scan.scanner_name, "semgrep")
        self.assertEqual(scan.description, "semgrep on the API")
        self.assertEqual(scan.tags, ["region=eu", "gpu"])
        self.assertTrue(scan.run_on_tenant_runner)
        self.assertEqual(scan.priority, 20)
        self.assertEqual(
            (scan.schedule_type, scan.schedule_time, scan.schedule_day, scan.schedule_timezone),
            ("weekly", time(2, 30), 0, "Europe/Paris"),
        )
        self.assertIsNotNone(scan.next_run_at)
        self.assertEqual(scan.created_by, self.member)
        self.assertFalse(ScanDraft.objects.filter(pk=draft.pk).exists())
        self.assertEqual(
            [str(m) for m in get_messages(response.wsgi_request)], ["Scan “Nightly API” created."]
        )

    def test_a_workflow_keeps_its_stages_and_a_group_tag_may_stand_for_targets(self):
        draft = self.start()
        basic = {**BASIC, "scan_type": "workflow", "asset_group": "production"}
        self.post("basic", draft, basic)
        self.assertEqual(self.post("targets", draft, {}).status_code, 302)
        options = self.client.get(self.url("options", draft))
        self.assertNotContains(options, 'name="scanner_name"')
        self.assertContains(options, 'name="stage_5"')
        stages = {
            "stage_1": "semgrep, gitleaks",
            "stage_2": "",
            "stage_3": "trivy",
            "stage_3_continue": "on",
            "priority": "10",
        }
        self.assertEqual(self.post("options", draft, stages).status_code, 302)
        self.post("schedule", draft, {"schedule_type": "manual", "schedule_timezone": "UTC"})
        self.post("review", draft, {})

        scan = Scan.objects.get(tenant=self.team, name="Nightly API")
        self.assertEqual(
            scan.pipeline,
            [
                {"tools": ["semgrep", "gitleaks"], "continue_on_failure": False},
                {"tools": ["trivy"], "continue_on_failure": True},
            ],
        )
        self.assertEqual((scan.scanner_name, scan.asset_group), ("", "production"))
        self.assertEqual(list(scan.targets.all()), [])
        self.assertIsNone(scan.next_run_at)

    def test_every_step_shows_the_stepper_with_the_current_step(self):
        draft = self.draft_at(4)
        for number, step in enumerate(["basic", "targets", "options", "schedule", "review"], 1):
            with self.subTest(step=step):
                response = self.client.get(self.url(step, draft))
                self.assertEqual(response.status_code, 200)
                html = response.content.decode()
                current = re.findall(r'<li class="is-current" aria-current="step">', html)
                self.assertEqual(len(current), 1)
                self.assertEqual(html.count('class="step-num"'), 5)
                self.assertEqual(html.count('<li class="is-done">'), 4 if number == 5 else 3)

    def test_a_later_step_sends_back_to_the_first_unfinished_one(self):
        draft = self.draft_at(1)
        response = self.client.get(self.url("review", draft))
        self.assertRedirects(response, self.url("targets", draft), fetch_redirect_response=False)
        response = self.client.get(self.url("options", draft))
        self.assertRedirects(response, self.url("targets", draft), fetch_redirect_response=False)

    def test_changing_the_scan_type_asks_for_the_options_again(self):
        draft = self.draft_at(4)
        self.post("basic", draft, {**BASIC, "scan_type": "single"})
        draft.refresh_from_db()
        self.assertEqual(draft.step, 4)
        self.post("basic", draft, {**BASIC, "scan_type": "workflow"})
        draft.refresh_from_db()
        self.assertEqual(draft.step, 2)
        response = self.client.get(self.url("review", draft))
        self.assertRedirects(response, self.url("options", draft), fetch_redirect_response=False)

    def test_the_options_offer_the_teams_profiles_with_its_default_chosen(self):
        draft = self.draft_at(2, profile=None)
        del draft.data["profile"]
        draft.save()
        response = self.client.get(self.url("options", draft))
        self.assertContains(response, f'<option value="{self.standard.pk}" selected>Standard')
        self.assertContains(response, "Deep")
        self.assertNotContains(response, "Bravo profile")

    def test_the_targets_list_holds_only_the_teams_assets_with_a_filter_box(self):
        draft = self.draft_at(1)
        response = self.client.get(self.url("targets", draft))
        self.assertContains(response, "alpha/api")
        self.assertContains(response, 'id="asset-filter"')
        self.assertNotContains(response, "bravo/secret")


class EachStepValidates(WizardTestCase):
    def test_a_missing_name_shows_next_to_the_field_and_keeps_the_rest(self):
        draft = self.start()
        data = {**BASIC, "name": "", "asset_group": "production"}
        response = self.post("basic", draft, data)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(field_errors(response, "name"), ["This field is required."])
        self.assertContains(response, "semgrep on the API", status_code=400)
        self.assertContains(response, 'value="production"', status_code=400)
        draft.refresh_from_db()
        self.assertEqual(draft.step, 0)

    def test_a_name_already_used_in_the_team_is_refused_at_step_one(self):
        draft = self.start()
        response = self.post("basic", draft, {**BASIC, "name": "Existing scan"})
        self.assertEqual(
            field_errors(response, "name"), ["A scan of this team already has this name."]
        )
        ScanFactory(tenant=self.other_team, name="Bravo only")
        self.assertEqual(
            self.post("basic", draft, {**BASIC, "name": "Bravo only"}).status_code, 302
        )

    def test_targets_need_an_asset_or_a_group_tag(self):
        draft = self.draft_at(1)
        response = self.post("targets", draft, {})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(
            field_errors(response, "targets"),
            ["Choose at least one asset, or go back and give an asset group tag."],
        )

    def test_another_teams_asset_is_not_a_valid_target(self):
        draft = self.draft_at(1)
        response = self.post("targets", draft, {"targets": [self.api.pk, self.bravo_repo.pk]})
        self.assertEqual(response.status_code, 400)
        self.assertIn("is not one of the available choices", field_errors(response, "targets")[0])
        self.assertEqual(checked_values(response, "targets"), {str(self.api.pk)})

    def test_a_single_scan_needs_a_scanner(self):
        draft = self.draft_at(2)
        response = self.post("options", draft, {"tags": "gpu", "priority": "10"})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(field_errors(response, "scanner_name"), ["Choose the scanner to run."])
        self.assertContains(response, 'value="gpu"', status_code=400)

    def test_a_workflow_stage_names_known_tools_only(self):
        draft = self.draft_at(2, scan_type="workflow")
        response = self.post("options", draft, {"stage_1": "semgrep, zap", "priority": "10"})
        self.assertEqual(response.status_code, 400)
        self.assertIn("Unknown tool zap", field_errors(response, "stage_1")[0])
        self.assertContains(response, 'value="semgrep, zap"', status_code=400)
        response = self.post("options", draft, {"priority": "10"})
        self.assertEqual(
            field_errors(response, "stage_1"), ["A workflow needs at least one stage with a tool."]
        )

    def test_a_bad_cron_shows_next_to_the_cron_field_and_keeps_the_time_zone(self):
        draft = self.draft_at(3)
        data = {
            "schedule_type": "crontab",
            "schedule_cron": "61 * * *",
            "schedule_timezone": "Asia/Tokyo",
        }
        response = self.post("schedule", draft, data)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(
            field_errors(response, "schedule_cron"),
            ["Use five fields: minute hour day month weekday."],
        )
        self.assertContains(response, '<option value="Asia/Tokyo" selected>', status_code=400)
        self.assertContains(response, 'value="61 * * *"', status_code=400)

    def test_a_weekly_schedule_needs_its_day_and_time(self):
        draft = self.draft_at(3)
        response = self.post(
            "schedule",
            draft,
            {"schedule_type": "weekly", "schedule_time": "02:00", "schedule_timezone": "UTC"},
        )
        self.assertEqual(
            field_errors(response, "schedule_weekday"),
            ["A weekly schedule needs a weekday, 0 (Monday) to 6."],
        )
        response = self.post(
            "schedule", draft, {"schedule_type": "daily", "schedule_timezone": "UTC"}
        )
        self.assertEqual(
            field_errors(response, "schedule_time"), ["A daily schedule needs a time of day."]
        )

    def test_a_name_taken_meanwhile_sends_the_review_back_to_step_one(self):
        draft = self.draft_at(4)
        ScanFactory(tenant=self.team, name="Nightly API")
        response = self.post("review", draft, {})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(
            field_errors(response, "name"), ["A scan of this team already has this name."]
        )
        self.assertContains(response, f'action="{self.url("basic", draft)}"', status_code=400)
        self.assertEqual(Scan.objects.filter(name="Nightly API").count(), 1)
        self.assertTrue(ScanDraft.objects.filter(pk=draft.pk).exists())

    def test_a_service_error_lands_next_to_the_field_of_its_step(self):
        # A draft whose saved schedule no longer validates (as after a change of rules).
        draft = self.draft_at(4, schedule_type="crontab", schedule_cron="every night")
        response = self.post("review", draft, {})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(
            field_errors(response, "schedule_cron"),
            ["Use five fields: minute hour day month weekday."],
        )
        self.assertContains(response, f'action="{self.url("schedule", draft)}"', status_code=400)

    def test_targets_deleted_meanwhile_send_the_review_back_to_the_targets(self):
        gone = AssetFactory(tenant=self.team)
        draft = self.draft_at(4, targets=[str(gone.pk)])
        gone.delete()
        response = self.post("review", draft, {})
        self.assertEqual(
            field_errors(response, "targets"),
            ["Choose at least one asset, or go back and give an asset group tag."],
        )

    def test_the_plan_limit_is_reported_on_the_review(self):
        self.team.limits_override = {"max_scans": 1}
        self.team.save()
        draft = self.draft_at(4)
        response = self.post("review", draft, {})
        self.assertEqual(response.status_code, 403)
        self.assertContains(response, "allows 1 scan(s)", status_code=403)
        self.assertFalse(Scan.objects.filter(name="Nightly API").exists())


class BackKeepsTheData(WizardTestCase):
    def test_back_saves_the_step_and_shows_the_previous_one_as_entered(self):
        draft = self.start()
        self.post("basic", draft, {**BASIC, "asset_group": "production"})
        response = self.post("targets", draft, {"targets": [self.web.pk], "back": "1"})
        self.assertRedirects(response, self.url("basic", draft), fetch_redirect_response=False)

        basic = self.client.get(self.url("basic", draft))
        self.assertContains(basic, 'value="Nightly API"')
        self.assertContains(basic, 'value="production"')
        self.assertContains(basic, "semgrep on the API")

        self.post("basic", draft, {**BASIC, "asset_group": "production"})
        targets = self.client.get(self.url("targets", draft))
        self.assertEqual(checked_values(targets, "targets"), {str(self.web.pk)})

    def test_back_from_an_invalid_step_keeps_what_was_saved_before(self):
        draft = self.draft_at(4)
        response = self.post("schedule", draft, {"schedule_type": "crontab", "back": "1"})
        self.assertRedirects(response, self.url("options", draft), fetch_redirect_response=False)
        draft.refresh_from_db()
        self.assertEqual(draft.data["schedule_type"], "daily")
        schedule = self.client.get(self.url("schedule", draft))
        self.assertContains(schedule, '<option value="daily" selected>')
        self.assertContains(schedule, 'value="02:00"')

    def test_back_on_the_review_goes_to_the_schedule_without_creating(self):
        draft = self.draft_at(4)
        response = self.post("review", draft, {"back": "1"})
        self.assertRedirects(response, self.url("schedule", draft), fetch_redirect_response=False)
        self.assertFalse(Scan.objects.filter(name="Nightly API").exists())


@time_machine.travel(NOW, tick=False)
class SchedulePreview(WizardTestCase):
    def preview(self, draft: ScanDraft, data: dict):
        return self.client.get(
            reverse("scans:wizard-schedule-preview", args=[draft.pk]), data, **HTMX
        )

    def test_it_lists_the_next_five_runs_in_the_schedules_time_zone(self):
        draft = self.draft_at(3)
        data = {
            "schedule_type": "daily",
            "schedule_time": "02:00",
            "schedule_timezone": "Europe/Paris",
        }
        response = self.preview(draft, data)
        self.assertEqual(response.status_code, 200)
        runs = re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', response.content.decode())
        self.assertEqual(
            [label for _, label in runs],
            [f"{day} Nov 2026, 02:00" for day in ("Fri 27", "Sat 28", "Sun 29", "Mon 30")]
            + ["Tue 1 Dec 2026, 02:00"],
        )
        self.assertEqual(runs[0][0], "2026-11-27T02:00:00+01:00")
        self.assertNotContains(response, "<html")

    def test_a_schedule_error_shows_in_the_preview_and_next_to_its_field(self):
        draft = self.draft_at(3)
        response = self.preview(
            draft,
            {"schedule_type": "crontab", "schedule_cron": "0 25 * * *", "schedule_timezone": "UTC"},
        )
        self.assertContains(response, "Fix the schedule to see its next runs")
        self.assertNotContains(response, "<time")
        html = response.content.decode()
        oob = r'<div class="field-errors" id="id_schedule_cron_errors" hx-swap-oob="true">'
        slot = re.search(rf"{oob}(.*?)</div>", html, re.S)
        self.assertIn("is not valid", slot.group(1))

    def test_a_manual_schedule_has_no_runs(self):
        draft = self.draft_at(3)
        response = self.preview(draft, {"schedule_type": "manual", "schedule_timezone": "UTC"})
        self.assertContains(response, "runs only when someone triggers it")

    def test_the_schedule_page_previews_the_saved_schedule_and_asks_htmx_to_refresh(self):
        draft = self.draft_at(4)
        response = self.client.get(self.url("schedule", draft))
        self.assertEqual(response.content.decode().count("<time datetime="), 5)
        self.assertContains(
            response, f'hx-get="{reverse("scans:wizard-schedule-preview", args=[draft.pk])}"'
        )
        self.assertNotContains(response, "hx-swap-oob")


class WhoMayUseTheWizard(WizardTestCase):
    def test_anonymous_visitors_are_sent_to_the_login_page(self):
        self.client.logout()
        draft = self.draft_at(1)
        for url in (reverse("scans:new"), self.url("basic", draft), self.url("review", draft)):
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertRedirects(
                    response, f"{reverse('login')}?next={url}", fetch_redirect_response=False
                )

    def test_a_viewer_is_forbidden(self):
        self.client.force_login(self.viewer)
        draft = self.draft_at(1)
        for url in (reverse("scans:new"), self.url("basic", draft)):
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertContains(response, "needs the member role", status_code=403)
        self.assertFalse(ScanDraft.objects.filter(created_by=self.viewer).exists())

    def test_another_teams_draft_is_not_found(self):
        theirs = ScanDraftFactory(tenant=self.other_team, created_by=self.outsider)
        for step in ("basic", "targets", "options", "schedule", "review"):
            with self.subTest(step=step):
                self.assertEqual(self.client.get(self.url(step, theirs)).status_code, 404)
        self.assertEqual(self.post("review", theirs, {}).status_code, 404)
        preview = reverse("scans:wizard-schedule-preview", args=[theirs.pk])
        self.assertEqual(self.client.get(preview).status_code, 404)

    def test_a_teammates_draft_is_not_found_either(self):
        teammate = MembershipFactory(tenant=self.team, role="owner").user
        theirs = ScanDraftFactory(tenant=self.team, created_by=teammate)
        self.assertEqual(self.client.get(self.url("basic", theirs)).status_code, 404)

    def test_a_user_without_a_team_is_told_so(self):
        self.client.force_login(UserFactory())
        self.assertContains(self.client.get(reverse("scans:new")), "No team yet", status_code=403)

    def test_a_plan_without_scans_is_forbidden(self):
        self.team.plan = "free"
        self.team.save()
        self.assertContains(
            self.client.get(reverse("scans:new")), "not part of the free plan", status_code=403
        )

    def test_starting_a_draft_clears_the_authors_abandoned_ones(self):
        old = self.draft_at(2)
        ScanDraft.objects.filter(pk=old.pk).update(updated_at=NOW.replace(year=2020))
        recent = self.draft_at(1)
        self.client.get(reverse("scans:new"))
        self.assertFalse(ScanDraft.objects.filter(pk=old.pk).exists())
        self.assertTrue(ScanDraft.objects.filter(pk=recent.pk).exists())
