"""Request and response bodies of the scans API (scans/api/scans.py, scans/api/profiles.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.settings import api_settings

from agents.models import CommandPriority
from findings.models import Asset
from rediverio.validators import no_null_characters
from scans.models import Intensity, Scan, ScanProfile, ScanSession, ScheduleType
from scans.quality_gate import QualityGate, QualityGateError

PRIORITIES = {p.label: p.value for p in CommandPriority}


class PriorityField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=list(PRIORITIES), **kwargs)

    def to_representation(self, value):
        return CommandPriority(value).label

    def to_internal_value(self, data):
        return PRIORITIES[super().to_internal_value(data)]


# A wall-clock time in the schedule's zone, shown with no offset ("02:00:00"). Not
# `format: time`: that is RFC 3339's, which needs an offset.
@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
        "example": "02:00",
    }
)
class TimeOfDayField(serializers.TimeField):
    pass


TOOL_NAMES = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 100}}


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "oneOf": [
                TOOL_NAMES,
                {
                    "type": "object",
                    "properties": {
                        "tools": TOOL_NAMES,
                        "continue_on_failure": {"type": "boolean"},
                    },
                    "required": ["tools"],
                },
            ]
        },
        "description": "A workflow's stages, run in order: each a list of tools, or "
        '{"tools": […], "continue_on_failure": false}.',
    }
)
class PipelineField(serializers.JSONField):
    def to_internal_value(self, data):
        pipeline = super().to_internal_value(data)
        if not isinstance(pipeline, list) or not all(map(_is_stage, pipeline)):
            raise serializers.ValidationError(
                'a list of stages, each a list of tool names or {"tools": [...], '
                '"continue_on_failure": true|false}.'
            )
        return pipeline


def _is_stage(stage) -> bool:
    if isinstance(stage, dict):
        flag = stage.get("continue_on_failure", False)
        return _is_tool_list(stage.get("tools")) and isinstance(flag, bool)
    return _is_tool_list(stage)


def _is_tool_list(tools) -> bool:
    return isinstance(tools, list) and all(
        isinstance(tool, str) and 0 < len(tool) <= 100 and "\x00" not in tool for tool in tools
    )


class ScanSerializer(serializers.ModelSerializer):
    targets = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Asset.objects.none(), required=False
    )
    profile = serializers.PrimaryKeyRelatedField(
        queryset=ScanProfile.objects.none(), required=False, allow_null=True
    )
    priority = PriorityField(required=False)
    schedule_time = TimeOfDayField(required=False, allow_null=True)
    # A weekday (0 Monday) or a day of the month; any larger is never a schedule.
    schedule_day = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=31
    )
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    pipeline = PipelineField(required=False)
    scanner_config = serializers.DictField(
        required=False,
        validators=[no_null_characters],
        help_text="Settings handed to the scanner. Members may set only the keys that tune "
        "a scan (severity, excludes, a rule set the agents ship…); keys naming files on the "
        "agent's host (path, rule files) or passing flags are set by an admin.",
    )

    class Meta:
        model = Scan
        fields = [
            "id",
            "name",
            "description",
            "scan_type",
            "scanner_name",
            "scanner_config",
            "pipeline",
            "targets",
            "asset_group",
            "profile",
            "schedule_type",
            "schedule_cron",
            "schedule_day",
            "schedule_time",
            "schedule_timezone",
            "tags",
            "run_on_tenant_runner",
            "priority",
            "status",
            "next_run_at",
            "last_run_at",
            "total_runs",
            "successful_runs",
            "failed_runs",
            "canceled_runs",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "next_run_at",
            "last_run_at",
            "total_runs",
            "successful_runs",
            "failed_runs",
            "canceled_runs",
            "created_at",
            "updated_at",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        tenant = self.context.get("tenant")
        if tenant is not None:
            self.fields["targets"].child_relation.queryset = Asset.objects.for_tenant(tenant)
            self.fields["profile"].queryset = ScanProfile.objects.for_tenant(tenant)

    def validate_name(self, name: str) -> str:
        name = name.strip()
        clash = Scan.objects.for_tenant(self.context["tenant"]).filter(name=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError("A scan of this team already has this name.")
        return name


class ScanPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ScanSerializer(many=True)


class ScanSessionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScanSession
        fields = [
            "id",
            "scan",
            "run_id",
            "trigger",
            "stage",
            "scheduled_for",
            "agent",
            "status",
            "progress",
            "scanner_name",
            "scanner_version",
            "scanner_type",
            "asset",
            "asset_type",
            "asset_value",
            "findings_total",
            "findings_new",
            "findings_fixed",
            "findings_by_severity",
            "quality_gate_result",
            "error_message",
            "created_at",
            "started_at",
            "completed_at",
            "duration_ms",
        ]
        read_only_fields = fields


class RunStartedSerializer(serializers.Serializer):
    run_id = serializers.UUIDField()
    sessions = ScanSessionSerializer(many=True)


@extend_schema_serializer(component_name="ScanCloneRequest")
class ScanCloneInputSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=200)


# `runs_*` counted sessions under a name that says runs: kept for the clients that read
# them, equal to `sessions_*`, and marked deprecated in the schema.
DEPRECATED_STATS = {
    "runs_total": "sessions_total",
    "runs_active": "sessions_active",
    "runs_completed": "sessions_completed",
    "runs_failed": "sessions_failed",
}


@extend_schema_serializer(deprecate_fields=list(DEPRECATED_STATS))
class ScanStatsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    active = serializers.IntegerField()
    paused = serializers.IntegerField()
    disabled = serializers.IntegerField()
    sessions_total = serializers.IntegerField()
    sessions_active = serializers.IntegerField(help_text="Sessions pending or running.")
    sessions_completed = serializers.IntegerField()
    sessions_failed = serializers.IntegerField()
    runs_total = serializers.IntegerField(help_text="Deprecated: sessions_total.")
    runs_active = serializers.IntegerField(help_text="Deprecated: sessions_active.")
    runs_completed = serializers.IntegerField(help_text="Deprecated: sessions_completed.")
    runs_failed = serializers.IntegerField(help_text="Deprecated: sessions_failed.")


@extend_schema_serializer(component_name="SchedulePreviewRequest")
class SchedulePreviewInputSerializer(serializers.Serializer):
    schedule_type = serializers.ChoiceField(choices=ScheduleType.choices)
    schedule_time = TimeOfDayField(required=False, allow_null=True)
    schedule_day = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=31
    )
    schedule_cron = serializers.CharField(required=False, allow_blank=True)
    schedule_timezone = serializers.CharField(required=False, default="UTC")
    count = serializers.IntegerField(required=False, default=5, min_value=1, max_value=20)


SLUG = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,63}$")
SEVERITIES = ("critical", "high", "medium", "low", "info")
TEMPLATE_MODES = ("default", "custom", "both")
MAX_TIMEOUT_SECONDS = 86_400


class StrictSerializer(serializers.Serializer):
    # Refuses keys it does not know, naming each: a typo must not pass silently.

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError({key: ["unknown field."] for key in unknown})
        return super().to_internal_value(data)


@extend_schema_serializer(component_name="ScanProfileToolConfig")
class ToolConfigSerializer(StrictSerializer):
    """How one tool runs in a profile. Keys not listed here are refused."""

    enabled = serializers.BooleanField(default=True)
    severity = serializers.ChoiceField(
        choices=SEVERITIES, required=False, help_text="The lowest severity to report."
    )
    timeout = serializers.IntegerField(
        min_value=1, max_value=MAX_TIMEOUT_SECONDS, required=False, help_text="Seconds."
    )
    options = serializers.DictField(
        required=False,
        validators=[no_null_characters],
        help_text="Options of the tool, handed to it as they are. As in a scan's "
        "scanner_config, keys naming files on the agent's host (path, rule files) or "
        "passing flags are an admin's to set.",
    )
    template_mode = serializers.ChoiceField(
        choices=TEMPLATE_MODES,
        required=False,
        help_text="Templates to run (nuclei and the like): the tool's, yours, or both.",
    )
    custom_template_ids = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=500
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("template_mode") == "custom" and not attrs.get("custom_template_ids"):
            raise serializers.ValidationError(
                {"custom_template_ids": ["needed when template_mode is custom."]}
            )
        return attrs

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return dict(instance)  # stored validated; shown as stored


@extend_schema_serializer(component_name="ScanProfileQualityGate")
class QualityGateSerializer(serializers.Serializer):
    """When a scan fails its profile: limits per severity (-1: unlimited). Keys not
    listed here are refused."""

    # The fields document the shape; `QualityGate.from_dict` is the one validator.

    enabled = serializers.BooleanField(default=False)
    fail_on_critical = serializers.BooleanField(
        default=False, help_text="Fail on any critical finding (max_critical 0)."
    )
    fail_on_high = serializers.BooleanField(
        default=False, help_text="Fail on any high finding (max_high 0)."
    )
    max_critical = serializers.IntegerField(min_value=-1, default=-1, help_text="-1: unlimited.")
    max_high = serializers.IntegerField(min_value=-1, default=-1, help_text="-1: unlimited.")
    max_medium = serializers.IntegerField(min_value=-1, default=-1, help_text="-1: unlimited.")
    max_total = serializers.IntegerField(
        min_value=-1, default=-1, help_text="All severities together; -1: unlimited."
    )
    new_findings_only = serializers.BooleanField(
        default=False, help_text="Count only the findings new in the scan, when known."
    )

    def to_internal_value(self, data: Any) -> QualityGate:
        if not isinstance(data, Mapping):
            # Keyed like DRF's own: a top-level error must be a dict to reach the handler.
            message = f"Invalid data. Expected a dictionary, but got {type(data).__name__}."
            raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [message]})
        try:
            return QualityGate.from_dict(data)
        except QualityGateError as exc:
            raise serializers.ValidationError({exc.field: [exc.reason]}) from exc

    def to_representation(self, instance: Any) -> dict[str, Any]:
        if isinstance(instance, QualityGate):
            return instance.to_dict()
        try:
            return QualityGate.from_dict(instance).to_dict()
        except QualityGateError:  # edited by hand in the admin: show it as stored
            return {**QualityGate().to_dict(), **instance}


class ScanProfileSerializer(serializers.ModelSerializer):
    tools_config = serializers.DictField(
        child=ToolConfigSerializer(),
        required=False,
        help_text="Per tool name (e.g. semgrep): how to run it.",
    )
    intensity = serializers.ChoiceField(choices=Intensity.choices, required=False)
    max_concurrent_scans = serializers.IntegerField(min_value=1, max_value=100, required=False)
    timeout_seconds = serializers.IntegerField(
        min_value=1, max_value=MAX_TIMEOUT_SECONDS, required=False
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=50
    )
    quality_gate = QualityGateSerializer(required=False)
    is_default = serializers.BooleanField(
        required=False, help_text="Make this the team's default; the previous one stops being it."
    )

    class Meta:
        model = ScanProfile
        fields = [
            "id",
            "name",
            "description",
            "tools_config",
            "intensity",
            "max_concurrent_scans",
            "timeout_seconds",
            "tags",
            "quality_gate",
            "is_default",
            "is_system",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "is_system", "created_at", "updated_at"]

    def validate_name(self, name: str) -> str:
        name = name.strip()
        clash = ScanProfile.objects.for_tenant(self.context["tenant"]).filter(name=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError("A scan profile of this team already has this name.")
        return name

    def validate_tags(self, tags: list[str]) -> list[str]:
        bad = [tag for tag in tags if not SLUG.match(tag)]
        if bad:
            raise serializers.ValidationError(
                f"{', '.join(bad)}: use lower-case letters, digits, '.', '_', '+' or '-'."
            )
        return sorted(set(tags))

    def validate_tools_config(self, tools: dict[str, Any]) -> dict[str, Any]:
        bad = {
            name: ["not a tool name: use lower-case letters, digits, '.', '_', '+' or '-'."]
            for name in tools
            if not SLUG.match(name)
        }
        if bad:
            raise serializers.ValidationError(bad)
        if len(tools) > 100:
            raise serializers.ValidationError("at most 100 tools.")
        return tools


class ScanProfilePageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ScanProfileSerializer(many=True)


@extend_schema_serializer(component_name="ScanProfileCloneRequest")
class ScanProfileCloneInputSerializer(serializers.Serializer):
    name = serializers.CharField(
        required=False,
        max_length=200,
        help_text='The copy\'s name; by default "<name> (copy)", numbered if taken.',
    )


@extend_schema_serializer(component_name="ScanProfileSeverityCounts")
class SeverityCountsSerializer(StrictSerializer):
    critical = serializers.IntegerField(min_value=0, required=False)
    high = serializers.IntegerField(min_value=0, required=False)
    medium = serializers.IntegerField(min_value=0, required=False)
    low = serializers.IntegerField(min_value=0, required=False)
    info = serializers.IntegerField(min_value=0, required=False)


@extend_schema_serializer(component_name="ScanProfileEvaluateRequest")
class ScanProfileEvaluateInputSerializer(StrictSerializer):
    """Finding counts per severity, as a scan session reports them."""

    by_severity = SeverityCountsSerializer(help_text="Findings of the scan per severity.")
    new_by_severity = SeverityCountsSerializer(
        required=False,
        help_text="The new ones among them; alone counted when the gate has new_findings_only.",
    )


@extend_schema_serializer(component_name="ScanProfileGateBreach")
class GateBreachSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=["critical", "high", "medium", "total"])
    limit = serializers.IntegerField()
    actual = serializers.IntegerField()


@extend_schema_serializer(component_name="ScanProfileGateResult")
class GateResultSerializer(serializers.Serializer):
    passed = serializers.BooleanField()
    reason = serializers.CharField()
    breaches = GateBreachSerializer(many=True)
