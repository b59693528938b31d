"""Schedule maths in the scan's own time zone, across DST changes and month ends."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time

import pytest
from django.test import TestCase
from rest_framework.test import APIClient

from scans.forms import ScheduleForm
from scans.models import Scan
from scans.schedules import Schedule, ScheduleError
from tests.factories import AssetFactory, MembershipFactory, TenantFactory


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


class TestDaily:
    def test_it_runs_later_today_when_the_time_is_still_ahead(self):
        daily = Schedule("daily", time=time(14, 0))
        assert daily.next_after(utc(2026, 3, 2, 9, 0)) == utc(2026, 3, 2, 14, 0)

    def test_it_runs_tomorrow_once_the_time_has_passed(self):
        daily = Schedule("daily", time=time(14, 0))
        assert daily.next_after(utc(2026, 3, 2, 14, 0)) == utc(2026, 3, 3, 14, 0)

    def test_the_time_is_local_to_the_scans_zone(self):
        paris = Schedule("daily", time=time(9, 0), timezone="Europe/Paris")
        assert paris.next_after(utc(2026, 1, 10, 0, 0)) == utc(2026, 1, 10, 8, 0)  # CET
        assert paris.next_after(utc(2026, 7, 10, 0, 0)) == utc(2026, 7, 10, 7, 0)  # CEST

    def test_a_time_inside_the_spring_forward_gap_runs_when_the_clock_has_jumped(self):
        # Paris, 29 March 2026: 02:00 → 03:00. 02:30 does not exist that day.
        paris = Schedule("daily", time=time(2, 30), timezone="Europe/Paris")
        runs = paris.upcoming(utc(2026, 3, 28, 12, 0), 3)
        assert runs == [
            utc(2026, 3, 29, 1, 30),  # 03:30 CEST, right after the jump
            utc(2026, 3, 30, 0, 30),  # 02:30 CEST
            utc(2026, 3, 31, 0, 30),
        ]

    def test_a_time_inside_the_autumn_fold_runs_once(self):
        # Paris, 25 October 2026: 03:00 → 02:00. 02:30 happens twice.
        paris = Schedule("daily", time=time(2, 30), timezone="Europe/Paris")
        runs = paris.upcoming(utc(2026, 10, 24, 12, 0), 3)
        assert runs == [
            utc(2026, 10, 25, 0, 30),
            utc(2026, 10, 26, 1, 30),
            utc(2026, 10, 27, 1, 30),
        ]


class TestWeeklyAndMonthly:
    def test_weekly_runs_on_its_weekday(self):
        monday = Schedule("weekly", time=time(6, 0), day=0)
        assert monday.upcoming(utc(2026, 11, 26, 12, 0), 2) == [
            utc(2026, 11, 30, 6, 0),
            utc(2026, 12, 7, 6, 0),
        ]

    def test_the_31st_runs_on_the_last_day_of_shorter_months(self):
        month_end = Schedule("monthly", time=time(23, 0), day=31)
        assert month_end.upcoming(utc(2026, 1, 1), 4) == [
            utc(2026, 1, 31, 23, 0),
            utc(2026, 2, 28, 23, 0),
            utc(2026, 3, 31, 23, 0),
            utc(2026, 4, 30, 23, 0),
        ]

    def test_the_29th_of_february_in_a_leap_year(self):
        monthly = Schedule("monthly", time=time(0, 0), day=29)
        assert monthly.next_after(utc(2028, 2, 1)) == utc(2028, 2, 29, 0, 0)


class TestCrontab:
    def test_it_follows_the_expression_in_local_time(self):
        weekdays = Schedule("crontab", cron="0 9 * * 1-5", timezone="America/New_York")
        assert weekdays.upcoming(utc(2026, 11, 27, 15, 0), 2) == [
            utc(2026, 11, 30, 14, 0),  # Monday 09:00 EST
            utc(2026, 12, 1, 14, 0),
        ]

    def test_local_nine_oclock_stays_nine_oclock_across_dst(self):
        nine = Schedule("crontab", cron="0 9 * * *", timezone="Europe/Paris")
        assert nine.upcoming(utc(2026, 3, 28, 12, 0), 2) == [
            utc(2026, 3, 29, 7, 0),  # CEST from the 29th
            utc(2026, 3, 30, 7, 0),
        ]
        assert nine.next_after(utc(2026, 3, 27, 12, 0)) == utc(2026, 3, 28, 8, 0)  # CET


class TestManualAndValidation:
    def test_manual_scans_never_run_on_their_own(self):
        assert Schedule("manual").next_after(utc(2026, 1, 1)) is None
        assert Schedule("manual").upcoming(utc(2026, 1, 1)) == []

    @pytest.mark.parametrize(
        ("schedule", "field"),
        [
            (Schedule("hourly"), "schedule_type"),
            (Schedule("daily"), "schedule_time"),
            (Schedule("weekly", time=time(1, 0), day=7), "schedule_day"),
            (Schedule("monthly", time=time(1, 0)), "schedule_day"),
            (Schedule("monthly", time=time(1, 0), day=32), "schedule_day"),
            (Schedule("crontab", cron="61 * * * *"), "schedule_cron"),
            (Schedule("crontab", cron="* * *"), "schedule_cron"),
            (Schedule("crontab", cron="@reboot"), "schedule_cron"),
            (Schedule("daily", time=time(1, 0), timezone="Mars/Olympus"), "schedule_timezone"),
        ],
    )
    def test_a_bad_schedule_names_the_field(self, schedule, field):
        with pytest.raises(ScheduleError) as error:
            schedule.validate()
        assert error.value.field == field

    def test_it_needs_an_aware_moment(self):
        with pytest.raises(ValueError, match="aware"):
            Schedule("daily", time=time(1, 0)).next_after(datetime(2026, 1, 1))  # noqa: DTZ001


class TestSchedulesThatCanNeverRun:
    """Schedule.validate is the one place the API, the wizard and the preview ask."""

    @pytest.mark.parametrize("cron", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4 *"])
    def test_a_cron_naming_a_date_that_never_comes_is_refused(self, cron):
        with pytest.raises(ScheduleError) as error:
            Schedule("crontab", cron=cron).validate()
        assert error.value.field == "schedule_cron"
        assert "never runs" in error.value.message

    def test_a_cron_for_the_29th_of_february_is_rare_but_runs(self):
        leap = Schedule("crontab", cron="0 0 29 2 *")
        assert leap.next_after(utc(2026, 3, 1)) == utc(2028, 2, 29)

    @pytest.mark.parametrize(
        "name", ["America", "Europe", "Etc", "", "x" * 5000, "../../etc/passwd", "Europe/"]
    )
    def test_a_zone_must_be_one_of_the_iana_names(self, name):
        with pytest.raises(ScheduleError) as error:
            Schedule("daily", time=time(1, 0), timezone=name).validate()
        assert error.value.field == "schedule_timezone"

    def test_a_cron_longer_than_its_column_is_refused(self):
        with pytest.raises(ScheduleError) as error:
            Schedule("crontab", cron="0 0 * * " + "1," * 100 + "2").validate()
        assert error.value.field == "schedule_cron"


class SchedulesThatCanNeverRunOverHttp(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory(plan="team")
        cls.member = MembershipFactory(tenant=cls.tenant, role="member").user
        cls.repo = AssetFactory(tenant=cls.tenant)

    def setUp(self):
        self.api = APIClient()
        self.api.force_login(self.member)
        self.api.raise_request_exception = False  # a 500 must show as one

    def assert_400_naming(self, response, field: str) -> None:
        self.assertEqual(response.status_code, 400, response.content)
        error = response.json()["error"]
        self.assertIn(field, error["message"] + json.dumps(error["details"]))

    def test_the_preview_refuses_a_cron_that_never_fires_naming_the_field(self):
        reply = self.api.post(
            "/api/v1/scans/schedule-preview",
            {"schedule_type": "crontab", "schedule_cron": "0 0 31 2 *"},
            format="json",
        )
        self.assert_400_naming(reply, "schedule_cron")

    def test_the_preview_refuses_a_directory_or_a_huge_zone_naming_the_field(self):
        for name in ("America", "x" * 5000):
            reply = self.api.post(
                "/api/v1/scans/schedule-preview",
                {"schedule_type": "daily", "schedule_time": "09:00", "schedule_timezone": name},
                format="json",
            )
            self.assert_400_naming(reply, "schedule_timezone")

    def test_creating_a_scan_refuses_a_cron_that_never_fires_and_a_non_zone(self):
        base = {"name": "n", "scanner_name": "bandit", "targets": [str(self.repo.pk)]}
        cases = [
            ({"schedule_type": "crontab", "schedule_cron": "0 0 31 2 *"}, "schedule_cron"),
            (
                {
                    "schedule_type": "daily",
                    "schedule_time": "02:00",
                    "schedule_timezone": "America",
                },
                "schedule_timezone",
            ),
        ]
        for fields, field in cases:
            reply = self.api.post("/api/v1/scans", {**base, **fields}, format="json")
            self.assert_400_naming(reply, field)
        self.assertFalse(Scan.objects.exists())

    def test_the_wizard_schedule_step_shows_a_cron_that_never_fires_as_a_form_error(self):
        form = ScheduleForm(
            data={
                "schedule_type": "crontab",
                "schedule_cron": "0 0 31 2 *",
                "schedule_timezone": "UTC",
            }
        )
        self.assertFalse(form.is_valid())
        self.assertIn("never runs", form.errors["schedule_cron"][0])


class TestOneValueBuiltAndDescribed:
    """The schedule is one value: built from a scan's `schedule_*` fields wherever they
    come from, and describing itself in words."""

    def test_it_is_built_alike_from_a_model_a_form_and_a_wizard_draft(self):
        cleaned = {
            "schedule_type": "weekly",
            "schedule_time": time(2, 30),
            "schedule_day": 0,
            "schedule_cron": "",
            "schedule_timezone": "Europe/Paris",
        }
        draft = {**cleaned, "schedule_time": "02:30"}  # JSON keeps the time as text
        assert Schedule.from_fields(cleaned) == Schedule.from_fields(draft)
        assert Schedule.from_fields({}) == Schedule()  # manual, in UTC

    def test_it_describes_itself(self):
        paris = "Europe/Paris"
        cases = {
            Schedule(): "Manual: runs only when someone triggers it",
            Schedule("daily", time(2), timezone=paris): "Every day at 02:00 (Europe/Paris)",
            Schedule(
                "weekly", time(2, 30), 0, timezone=paris
            ): "Every Monday at 02:30 (Europe/Paris)",
            Schedule("monthly", time(6), 31): "On day 31 of every month at 06:00 (UTC)",
            Schedule("crontab", cron=" 0 9 * * 1-5 "): "Cron “0 9 * * 1-5” (UTC)",
        }
        for schedule, words in cases.items():
            assert schedule.describe() == words
