"""The new-scan wizard's forms, one per step. They check input only; the draft and the
scan are written by `scans.drafts`.

Field names are the Scan field names, so an error the scan service reports for a field
(`ScanInvalid.field`) lands next to the input that set it.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import available_timezones

from django import forms

from agents.models import CommandPriority
from findings.models import Asset
from rediverio.models import Tenant
from scans.models import Scan, ScanProfile, ScanType, ScheduleType
from scans.schedules import WEEKDAYS, Schedule, ScheduleError

KNOWN_TOOLS = ("semgrep", "bandit", "gitleaks", "trivy", "checkov", "detect-secrets", "nuclei")
MAX_STAGES = 5


@cache
def timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(available_timezones())]


class CommaSeparatedField(forms.CharField):
    """A list of words typed as "a, b, c"; shows a stored list the same way."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        # max_length bounds each item, not the whole line.
        attrs = super().widget_attrs(widget)
        attrs.pop("maxlength", None)
        return attrs

    # The value is the list; CharField's checks apply to each item (run_validators).
    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""  # empty_value is "": never None here
        items = [item.strip() for item in text.replace("\n", ",").split(",")]
        return list(dict.fromkeys(item for item in items if item))

    def validate(self, value: list[str]) -> None:
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")

    def run_validators(self, value: list[str]) -> None:
        for item in value:
            super().run_validators(item)


class BasicInfoForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    scan_type = forms.ChoiceField(
        choices=ScanType.choices,
        initial=ScanType.SINGLE,
        widget=forms.RadioSelect,
        help_text="One scanner, or a workflow of stages that run one after another.",
    )
    asset_group = forms.CharField(
        max_length=100,
        required=False,
        label="Asset group tag",
        help_text="Also scan every asset carrying this tag, now and later.",
    )

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if Scan.objects.for_tenant(self.tenant).filter(name=name).exists():
            raise forms.ValidationError("A scan of this team already has this name.")
        return name


class AssetChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Asset) -> str:
        return f"{obj.name} · {obj.get_type_display()} · {obj.identifier}"


class TargetsForm(forms.Form):
    targets = AssetChoiceField(
        queryset=Asset.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Assets",
    )

    def __init__(self, *args: Any, tenant: Tenant, asset_group: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asset_group = asset_group
        assets = Asset.objects.for_tenant(tenant)
        targets = self.fields["targets"]
        assert isinstance(targets, forms.ModelChoiceField)
        targets.queryset = assets.only("id", "name", "type", "identifier").order_by(
            "name", "identifier"
        )
        if self.initial.get("targets"):
            # Assets deleted since they were chosen are simply no longer chosen.
            chosen = assets.filter(pk__in=self.initial["targets"]).values_list("pk", flat=True)
            self.initial["targets"] = [str(pk) for pk in chosen]

    def clean_targets(self) -> list[Asset]:
        targets = list(self.cleaned_data["targets"])
        if not targets and not self.asset_group:
            raise forms.ValidationError(
                "Choose at least one asset, or go back and give an asset group tag."
            )
        return targets


class OptionsForm(forms.Form):
    known_tools = KNOWN_TOOLS

    scanner_name = forms.ChoiceField(
        choices=[("", "Choose a scanner")] + [(tool, tool) for tool in KNOWN_TOOLS],
        required=False,
        label="Scanner",
    )
    profile = forms.ModelChoiceField(
        queryset=ScanProfile.objects.none(),
        required=False,
        empty_label="No profile (tool defaults)",
        help_text="Tool settings, intensity and time limits to reuse.",
    )
    tags = CommaSeparatedField(
        required=False,
        max_length=100,
        label="Agent tags",
        help_text="Only agents carrying all these tags run the scan, e.g. region=eu, gpu.",
    )
    run_on_tenant_runner = forms.BooleanField(
        required=False, label="Run on the team's own runners only"
    )
    priority = forms.TypedChoiceField(
        choices=[(p.value, p.label.capitalize()) for p in CommandPriority],
        coerce=int,
        initial=CommandPriority.NORMAL,
    )

    def __init__(
        self, *args: Any, tenant: Tenant, scan_type: str = ScanType.SINGLE, **kwargs: Any
    ) -> None:
        initial = dict(kwargs.pop("initial", None) or {})
        for number, stage in enumerate(initial.get("pipeline") or [], start=1):
            initial[f"stage_{number}"] = stage.get("tools", [])
            initial[f"stage_{number}_continue"] = stage.get("continue_on_failure", False)
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        self.scan_type = scan_type
        profile = self.fields["profile"]
        assert isinstance(profile, forms.ModelChoiceField)
        profile.queryset = ScanProfile.objects.for_tenant(tenant)
        if scan_type == ScanType.WORKFLOW:
            del self.fields["scanner_name"]
            for number in range(1, MAX_STAGES + 1):
                self.fields[f"stage_{number}"] = CommaSeparatedField(
                    required=False, max_length=100, label=f"Stage {number}"
                )
                self.fields[f"stage_{number}_continue"] = forms.BooleanField(
                    required=False, label="Continue on failure"
                )
            self.order_fields(
                [
                    name
                    for number in range(1, MAX_STAGES + 1)
                    for name in (f"stage_{number}", f"stage_{number}_continue")
                ]
            )

    @property
    def stage_fields(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        if self.scan_type != ScanType.WORKFLOW:
            return []
        return [
            (self[f"stage_{number}"], self[f"stage_{number}_continue"])
            for number in range(1, MAX_STAGES + 1)
        ]

    def clean_scanner_name(self) -> str:
        scanner = self.cleaned_data["scanner_name"]
        if not scanner:
            raise forms.ValidationError("Choose the scanner to run.")
        return scanner

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.scan_type == ScanType.WORKFLOW:
            data["scanner_name"] = ""
            data["pipeline"] = self._pipeline(data)
        else:
            data["pipeline"] = []
        return data

    def _pipeline(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        pipeline = []
        for number in range(1, MAX_STAGES + 1):
            field = f"stage_{number}"
            tools = data.get(field) or []
            unknown = [tool for tool in tools if tool not in KNOWN_TOOLS]
            if unknown:
                self.add_error(
                    field,
                    f"Unknown tool {', '.join(unknown)}; use {', '.join(KNOWN_TOOLS)}.",
                )
            elif tools:
                pipeline.append(
                    {
                        "tools": tools,
                        "continue_on_failure": bool(data.get(f"{field}_continue")),
                    }
                )
        if not pipeline and not self.has_error("stage_1"):
            self.add_error("stage_1", "A workflow needs at least one stage with a tool.")
        return pipeline


class ScheduleForm(forms.Form):
    schedule_type = forms.ChoiceField(
        choices=ScheduleType.choices, initial=ScheduleType.MANUAL, label="Runs"
    )
    schedule_time = forms.TimeField(
        required=False,
        label="Time of day",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    schedule_weekday = forms.TypedChoiceField(
        choices=[("", "Choose a day")] + list(enumerate(WEEKDAYS)),
        coerce=int,
        empty_value=None,
        required=False,
        label="Day of the week",
    )
    schedule_monthday = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=31,
        label="Day of the month",
        help_text="In shorter months a day past the end runs on the last day.",
    )
    schedule_cron = forms.CharField(
        required=False,
        max_length=120,
        label="Cron expression",
        help_text="Five fields: minute hour day-of-month month day-of-week, e.g. 0 2 * * 1-5.",
    )
    schedule_timezone = forms.ChoiceField(
        choices=timezone_choices, initial="UTC", label="Time zone"
    )

    # Which inputs each schedule type uses (the page hides the others).
    USES = {
        "schedule_time": ("daily", "weekly", "monthly"),
        "schedule_weekday": ("weekly",),
        "schedule_monthday": ("monthly",),
        "schedule_cron": ("crontab",),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        initial = dict(kwargs.pop("initial", None) or {})
        day = initial.get("schedule_day")
        if initial.get("schedule_type") == ScheduleType.WEEKLY:
            initial.setdefault("schedule_weekday", day)
        elif initial.get("schedule_type") == ScheduleType.MONTHLY:
            initial.setdefault("schedule_monthday", day)
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        self.schedule: Schedule | None = None

    @classmethod
    def field_for(cls, scan_field: str, schedule_type: str) -> str:
        """The input that sets a Scan schedule field."""
        if scan_field == "schedule_day":
            return "schedule_monthday" if schedule_type == "monthly" else "schedule_weekday"
        return scan_field

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        kind = data["schedule_type"]
        for field, types in self.USES.items():
            if kind not in types:
                data[field] = "" if field == "schedule_cron" else None
        data["schedule_cron"] = data["schedule_cron"].strip()
        data["schedule_day"] = (
            data["schedule_weekday"] if kind == "weekly" else data["schedule_monthday"]
        )
        schedule = Schedule.from_fields(data)
        try:
            self.schedule = schedule.validate()
        except ScheduleError as exc:
            self.add_error(self.field_for(exc.field, kind), as_sentence(exc.message))
        return data


def as_sentence(message: str) -> str:
    """A service message ("a daily schedule needs…") as shown next to a field."""
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
