"""Schedule maths: when a scan runs next, in the scan's own time zone.

Pure functions over aware datetimes (no database). Times are computed on the scan's
local calendar, then returned in UTC:

- manual   — never on its own;
- daily    — every day at `time`;
- weekly   — on weekday `day` (Monday 0 … Sunday 6) at `time`;
- monthly  — on day `day` (1–31) at `time`; in a shorter month, on its last day;
- crontab  — a five-field cron expression (croniter), evaluated in local time.

Daylight-saving changes: a local time that does not exist that day (the spring-forward
gap) runs as soon as the clock has jumped — 02:30 becomes 03:30 —, and a local time that
happens twice (the autumn fold) runs once, at its first occurrence.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from rediverio.errors import InputInvalid

SCHEDULE_TYPES = ("manual", "daily", "weekly", "monthly", "crontab")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# The column's size (Scan.schedule_timezone); the longest IANA name is about 32.
TIMEZONE_MAX_LENGTH = 64
CRON_MAX_LENGTH = 120  # Scan.schedule_cron


class ScheduleError(InputInvalid):
    """A schedule that cannot run; `field` names the setting at fault."""


@dataclass(frozen=True)
class Schedule:
    """When a scan runs: the one value the model, the forms, the wizard and the API
    build (`from_fields`), check (`validate`), describe (`describe`) and compute
    (`next_after`, `upcoming`)."""

    type: str = "manual"
    time: time | None = None
    day: int | None = None
    cron: str = ""
    timezone: str = "UTC"

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Schedule:
        """The schedule named by a scan's `schedule_*` fields, from a model, a form's or
        serializer's cleaned data, or a wizard draft (whose time is ISO text)."""
        at = fields.get("schedule_time")
        if isinstance(at, str):
            at = time.fromisoformat(at) if at else None
        return cls(
            type=fields.get("schedule_type") or "manual",
            time=at,
            day=fields.get("schedule_day"),
            cron=(fields.get("schedule_cron") or "").strip(),
            timezone=fields.get("schedule_timezone") or "UTC",
        )

    def describe(self) -> str:
        """The schedule in words: "Every day at 02:00 (Europe/Paris)"."""
        at = self.time.strftime("%H:%M") if self.time else "?"
        zone = f"({self.timezone})"
        if self.type == "daily":
            return f"Every day at {at} {zone}"
        if self.type == "weekly":
            day = WEEKDAYS[self.day] if self.day is not None and 0 <= self.day <= 6 else "?"
            return f"Every {day} at {at} {zone}"
        if self.type == "monthly":
            return f"On day {self.day} of every month at {at} {zone}"
        if self.type == "crontab":
            return f"Cron “{self.cron.strip()}” {zone}"
        return "Manual: runs only when someone triggers it"

    def validate(self) -> Schedule:
        if self.type not in SCHEDULE_TYPES:
            raise ScheduleError("schedule_type", f"must be one of {', '.join(SCHEDULE_TYPES)}")
        zone(self.timezone)
        if self.type in ("daily", "weekly", "monthly") and self.time is None:
            raise ScheduleError("schedule_time", f"a {self.type} schedule needs a time of day")
        if self.type == "weekly" and (self.day is None or not 0 <= self.day <= 6):
            raise ScheduleError(
                "schedule_day", "a weekly schedule needs a weekday, 0 (Monday) to 6"
            )
        if self.type == "monthly" and (self.day is None or not 1 <= self.day <= 31):
            raise ScheduleError(
                "schedule_day", "a monthly schedule needs a day of the month, 1 to 31"
            )
        if self.type == "crontab":
            expression = self.cron.strip()
            if len(expression) > CRON_MAX_LENGTH:
                raise ScheduleError("schedule_cron", f"is longer than {CRON_MAX_LENGTH} characters")
            if len(expression.split()) != 5:
                raise ScheduleError(
                    "schedule_cron", "use five fields: minute hour day month weekday"
                )
            try:
                # A well-formed expression may still name a date that never comes
                # (`0 0 31 2 *`): asking for its next run is the only sure test, and
                # croniter gives up on it quickly (CroniterBadDateError).
                croniter(expression, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
            except CroniterBadDateError as exc:
                raise ScheduleError(
                    "schedule_cron", f"{expression!r} never runs (no date matches it)"
                ) from exc
            except (CroniterBadCronError, ValueError, KeyError) as exc:
                raise ScheduleError("schedule_cron", f"{expression!r} is not valid: {exc}") from exc
        return self

    def next_after(self, moment: datetime) -> datetime | None:
        """The first run strictly after `moment` (aware), in UTC; None for manual."""
        if moment.tzinfo is None:
            raise ValueError("moment must be timezone-aware")
        self.validate()
        if self.type == "manual":
            return None
        tz = zone(self.timezone)
        local = moment.astimezone(tz)
        if self.type == "crontab":
            return _cron_next(self.cron.strip(), local, tz)
        day = local.date()
        at = self.time
        assert at is not None  # validate(): daily, weekly and monthly schedules have one
        # Today's slot may still be ahead; otherwise the next matching day. A monthly
        # schedule needs at most two months of days to look through.
        for offset in range(0, 63):
            candidate_day = day + timedelta(days=offset)
            if not self._runs_on(candidate_day):
                continue
            run = _at(candidate_day, at, tz)
            if run > moment:
                return run
        raise AssertionError("unreachable: every schedule runs within two months")

    def upcoming(self, moment: datetime, count: int = 5) -> list[datetime]:
        runs: list[datetime] = []
        while len(runs) < count:
            nxt = self.next_after(runs[-1] if runs else moment)
            if nxt is None:
                break
            runs.append(nxt)
        return runs

    def _runs_on(self, day: date) -> bool:
        if self.type == "daily":
            return True
        if self.type == "weekly":
            return day.weekday() == self.day
        last = calendar.monthrange(day.year, day.month)[1]
        assert self.day is not None  # validate(): a monthly schedule has its day
        return day.day == min(self.day, last)


def zone(name: str) -> ZoneInfo:
    """The zone named `name`, which must be one of the IANA names: ZoneInfo() alone
    opens whatever path it is given, so a tzdata directory (`America`) or a very long
    name failed with an OSError (a 500) instead of this field error."""
    if not isinstance(name, str) or not name:
        raise ScheduleError("schedule_timezone", "is required")
    if len(name) > TIMEZONE_MAX_LENGTH:
        raise ScheduleError("schedule_timezone", f"is longer than {TIMEZONE_MAX_LENGTH} characters")
    if name not in _zone_names():
        raise ScheduleError("schedule_timezone", f"{name!r} is not a time zone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ScheduleError("schedule_timezone", f"{name!r} is not a time zone") from exc


@cache
def _zone_names() -> frozenset[str]:
    # Reading the tzdata listing walks the package: once per process.
    return frozenset(available_timezones())


def _at(day: date, at: time, tz: ZoneInfo) -> datetime:
    """`at` o'clock on `day` in `tz`, as a UTC instant. A time inside the spring-forward
    gap maps (fold 0) to the instant the clock shows it plus the gap; a time in the
    autumn fold maps (fold 0) to its first occurrence."""
    local = datetime.combine(day, at.replace(tzinfo=None), tzinfo=tz)
    return local.astimezone(UTC)


def _cron_next(expression: str, local: datetime, tz: ZoneInfo) -> datetime:
    # croniter walks local wall-clock time; starting from the naive local time and
    # placing each result back in the zone keeps "09:00" at 09:00 across DST changes.
    walker = croniter(expression, local.replace(tzinfo=None))
    while True:
        naive = walker.get_next(datetime)
        run = naive.replace(tzinfo=tz).astimezone(UTC)
        if run > local.astimezone(UTC):
            return run
