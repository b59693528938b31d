"""Scan profiles for users of a tenant (the `scans` module of a plan).

    GET/POST             /api/v1/scan-profiles
    GET/PUT/PATCH/DELETE /api/v1/scan-profiles/{id}
    POST                 /api/v1/scan-profiles/{id}/clone
    PUT                  /api/v1/scan-profiles/{id}/quality-gate
    POST                 /api/v1/scan-profiles/{id}/evaluate-quality-gate

Reads need the viewer role, writes the admin role. Evaluating a quality gate writes
nothing, so it needs only the viewer role: a CI job's read-only token may ask it.
System profiles are read-only (403 SYSTEM_PROFILE) but may be cloned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings

from rediverio.api_auth import Pages, TenantApiView, TenantRequest
from rediverio.api_errors import ApiError, error_reply
from rediverio.models import Role
from rediverio.validators import no_null_characters
from scans.models import Intensity, ScanProfile
from scans.profile_services import (
    ScanProfileInUse,
    ScanProfileNameTaken,
    ToolsConfigRefused,
    scan_profile_clone,
    scan_profile_create,
    scan_profile_delete,
    scan_profile_update,
)
from scans.quality_gate import QualityGate, QualityGateError, evaluate

SLUG = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,63}$")
SEVERITIES = ("critical", "high", "medium", "low", "info")
TEMPLATE_MODES = ("default", "custom", "both")
MAX_TIMEOUT_SECONDS = 86_400
TAG = "scan profiles"

GATE_EXAMPLE = {
    "enabled": True,
    "fail_on_critical": True,
    "fail_on_high": False,
    "max_critical": -1,
    "max_high": 5,
    "max_medium": -1,
    "max_total": 50,
    "new_findings_only": False,
}
PROFILE_EXAMPLE = {
    "id": "0193a5f0-7c1e-7d2a-9f3b-1a2b3c4d5e6f",
    "name": "Nightly SAST",
    "description": "Semgrep and bandit on every repository, every night.",
    "tools_config": {
        "semgrep": {"enabled": True, "severity": "medium", "timeout": 1800, "options": {}},
        "bandit": {"enabled": True, "severity": "low", "timeout": 900, "options": {}},
    },
    "intensity": "medium",
    "max_concurrent_scans": 5,
    "timeout_seconds": 3600,
    "tags": ["python", "sast"],
    "quality_gate": GATE_EXAMPLE,
    "is_default": False,
    "is_system": False,
    "created_at": "2026-11-01T09:00:00Z",
    "updated_at": "2026-11-26T12:00:00Z",
}
NEW_PROFILE_EXAMPLE = {
    "name": "Nightly SAST",
    "description": "Semgrep and bandit on every repository, every night.",
    "tools_config": {
        "semgrep": {"enabled": True, "severity": "medium", "timeout": 1800},
        "bandit": {"enabled": True},
    },
    "intensity": "medium",
    "tags": ["python", "sast"],
    "quality_gate": {"enabled": True, "fail_on_critical": True, "max_total": 50},
}


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


@extend_schema_serializer(component_name="ScanProfileSeverityCounts")
class SeverityCountsSerializer(StrictSerializer):
    critical = serializers.IntegerField(min_value=0, required=False)
    high = serializers.IntegerField(min_value=0, required=False)
    medium = serializers.IntegerField(min_value=0, required=False)
    low = serializers.IntegerField(min_value=0, required=False)
    info = serializers.IntegerField(min_value=0, required=False)


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


def _profile(request: TenantRequest, profile_id: str) -> ScanProfile:
    try:
        return get_object_or_404(ScanProfile.objects.for_tenant(request.tenant), pk=profile_id)
    except DjangoValidationError as exc:  # not a UUID
        raise ApiError(404, "NOT_FOUND", "No such scan profile.") from exc


def _writable(request: TenantRequest, profile_id: str) -> ScanProfile:
    profile = _profile(request, profile_id)
    if profile.is_system:
        raise _read_only(profile)
    return profile


def _read_only(profile: ScanProfile) -> ApiError:
    return ApiError(
        403,
        "SYSTEM_PROFILE",
        f"{profile.name} is a system profile and read-only; clone it to change it.",
    )


def _name_taken(exc: ScanProfileNameTaken) -> serializers.ValidationError:
    return serializers.ValidationError({"name": [str(exc)]})


def _refused(exc: ToolsConfigRefused) -> serializers.ValidationError:
    return serializers.ValidationError({field: [why] for field, why in exc.refusals.items()})


class ScanProfilesApiView(TenantApiView):
    """Scan profiles are reusable scan settings: tools, intensity, limits, quality gate.
    Reading needs the viewer role and changing the admin role; system profiles are
    read-only but may be cloned."""

    required_module = "scans"


class ScanProfileListCreateApi(ScanProfilesApiView):
    @extend_schema(
        operation_id="scan_profiles_list",
        tags=[TAG],
        summary="List the team's scan profiles, the default first",
        parameters=[
            OpenApiParameter("is_system", bool, description="Only system (or only own) ones"),
            OpenApiParameter("search", str, description="In the name"),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses={200: ScanProfilePageSerializer},
        examples=[
            OpenApiExample(
                "Profiles",
                response_only=True,
                value={"count": 1, "next": None, "previous": None, "results": [PROFILE_EXAMPLE]},
            )
        ],
    )
    def get(self, request: TenantRequest) -> Response:
        profiles = ScanProfile.objects.for_tenant(request.tenant).order_by("-is_default", "name")
        if (is_system := request.query_params.get("is_system")) is not None:
            flag = serializers.BooleanField().run_validation
            try:
                profiles = profiles.filter(is_system=flag(is_system))
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"is_system": exc.detail}) from exc
        if search := request.query_params.get("search"):
            profiles = profiles.filter(name__icontains=search)
        paginator = Pages()
        page = paginator.paginate_queryset(profiles, request, view=self)
        return paginator.get_paginated_response(ScanProfileSerializer(page, many=True).data)

    @extend_schema(
        operation_id="scan_profiles_create",
        tags=[TAG],
        summary="Create a scan profile; is_default makes it the team's default",
        request=ScanProfileSerializer,
        responses={201: ScanProfileSerializer},
        examples=[
            OpenApiExample("New profile", request_only=True, value=NEW_PROFILE_EXAMPLE),
            OpenApiExample("Created", response_only=True, value=PROFILE_EXAMPLE),
        ],
    )
    def post(self, request: TenantRequest) -> Response:
        body = ScanProfileSerializer(data=request.data, context={"tenant": request.tenant})
        body.is_valid(raise_exception=True)
        try:
            profile = scan_profile_create(
                tenant=request.tenant, by=request.user, **body.validated_data
            )
        except ScanProfileNameTaken as exc:  # lost a race with another request
            raise _name_taken(exc) from exc
        except ToolsConfigRefused as exc:
            raise _refused(exc) from exc
        return Response(ScanProfileSerializer(profile).data, status=status.HTTP_201_CREATED)


class ScanProfileDetailApi(ScanProfilesApiView):
    @extend_schema(
        operation_id="scan_profiles_retrieve",
        tags=[TAG],
        summary="A scan profile",
        responses=ScanProfileSerializer,
        examples=[OpenApiExample("Profile", response_only=True, value=PROFILE_EXAMPLE)],
    )
    def get(self, request: TenantRequest, profile_id: str) -> Response:
        return Response(ScanProfileSerializer(_profile(request, profile_id)).data)

    @extend_schema(
        operation_id="scan_profiles_update",
        tags=[TAG],
        summary="Replace a profile's settings (not a system profile's)",
        request=ScanProfileSerializer,
        responses=ScanProfileSerializer,
        examples=[
            OpenApiExample("Replace", request_only=True, value=NEW_PROFILE_EXAMPLE),
            OpenApiExample("Replaced", response_only=True, value=PROFILE_EXAMPLE),
        ],
    )
    def put(self, request: TenantRequest, profile_id: str) -> Response:
        return self._update(request, profile_id, partial=False)

    @extend_schema(
        operation_id="scan_profiles_partial_update",
        tags=[TAG],
        summary="Change some of a profile's settings, e.g. make it the default",
        request=ScanProfileSerializer,
        responses=ScanProfileSerializer,
        examples=[
            OpenApiExample("Make default", request_only=True, value={"is_default": True}),
            OpenApiExample(
                "Changed", response_only=True, value={**PROFILE_EXAMPLE, "is_default": True}
            ),
        ],
    )
    def patch(self, request: TenantRequest, profile_id: str) -> Response:
        return self._update(request, profile_id, partial=True)

    def _update(self, request: TenantRequest, profile_id: str, *, partial: bool) -> Response:
        profile = _writable(request, profile_id)
        body = ScanProfileSerializer(
            profile, data=request.data, partial=partial, context={"tenant": request.tenant}
        )
        body.is_valid(raise_exception=True)
        try:
            profile = scan_profile_update(
                profile=profile, changes=body.validated_data, by=request.user
            )
        except ScanProfileNameTaken as exc:
            raise _name_taken(exc) from exc
        except ToolsConfigRefused as exc:
            raise _refused(exc) from exc
        return Response(ScanProfileSerializer(profile).data)

    @extend_schema(
        operation_id="scan_profiles_destroy",
        tags=[TAG],
        summary="Delete a profile no scan uses (not a system profile)",
        responses={204: None, 409: error_reply("Scans use it (PROFILE_IN_USE).")},
    )
    def delete(self, request: TenantRequest, profile_id: str) -> Response:
        profile = _writable(request, profile_id)
        try:
            scan_profile_delete(profile=profile, by=request.user)
        except ScanProfileInUse as exc:
            raise ApiError(409, "PROFILE_IN_USE", str(exc), {"scans": exc.scan_names}) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class ScanProfileCloneApi(ScanProfilesApiView):
    @extend_schema_serializer(component_name="ScanProfileCloneRequest")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(
            required=False,
            max_length=200,
            help_text='The copy\'s name; by default "<name> (copy)", numbered if taken.',
        )

    @extend_schema(
        operation_id="scan_profiles_clone",
        tags=[TAG],
        summary="Copy a profile, system ones included, into one the team owns",
        request=InputSerializer,
        responses={201: ScanProfileSerializer},
        examples=[
            OpenApiExample("Named copy", request_only=True, value={"name": "Full, weekly"}),
            OpenApiExample(
                "Copied",
                response_only=True,
                value={**PROFILE_EXAMPLE, "name": "Nightly SAST (copy)"},
            ),
        ],
    )
    def post(self, request: TenantRequest, profile_id: str) -> Response:
        profile = _profile(request, profile_id)
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            clone = scan_profile_clone(
                profile=profile, name=body.validated_data.get("name"), by=request.user
            )
        except ScanProfileNameTaken as exc:
            raise _name_taken(exc) from exc
        return Response(ScanProfileSerializer(clone).data, status=status.HTTP_201_CREATED)


class ScanProfileQualityGateApi(ScanProfilesApiView):
    InputSerializer = QualityGateSerializer

    @extend_schema(
        operation_id="scan_profiles_quality_gate_update",
        tags=[TAG],
        summary="Replace a profile's quality gate; fields left out take their defaults",
        request=QualityGateSerializer,
        responses=ScanProfileSerializer,
        examples=[
            OpenApiExample(
                "No critical, at most 5 high",
                request_only=True,
                value={"enabled": True, "fail_on_critical": True, "max_high": 5},
            ),
            OpenApiExample("Profile", response_only=True, value=PROFILE_EXAMPLE),
        ],
    )
    def put(self, request: TenantRequest, profile_id: str) -> Response:
        profile = _writable(request, profile_id)
        body = QualityGateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        profile = scan_profile_update(
            profile=profile, changes={"quality_gate": body.validated_data}, by=request.user
        )
        return Response(ScanProfileSerializer(profile).data)


class ScanProfileEvaluateQualityGateApi(ScanProfilesApiView):
    write_role = Role.VIEWER  # a POST that writes nothing

    @extend_schema_serializer(component_name="ScanProfileEvaluateRequest")
    class InputSerializer(StrictSerializer):
        """Finding counts per severity, as a scan session reports them."""

        by_severity = SeverityCountsSerializer(help_text="Findings of the scan per severity.")
        new_by_severity = SeverityCountsSerializer(
            required=False,
            help_text="The new ones among them; alone counted when the gate has new_findings_only.",
        )

    @extend_schema(
        operation_id="scan_profiles_quality_gate_evaluate",
        tags=[TAG],
        summary="Check finding counts against a profile's quality gate",
        request=InputSerializer,
        responses={
            200: GateResultSerializer,
            409: error_reply("The stored gate is invalid (INVALID_QUALITY_GATE)."),
        },
        examples=[
            OpenApiExample(
                "Counts",
                request_only=True,
                value={
                    "by_severity": {"critical": 1, "high": 2, "medium": 7, "low": 3},
                    "new_by_severity": {"critical": 1},
                },
            ),
            OpenApiExample(
                "Failed",
                response_only=True,
                value={
                    "passed": False,
                    "reason": "quality gate failed: 1 critical (limit 0)",
                    "breaches": [{"metric": "critical", "limit": 0, "actual": 1}],
                },
            ),
        ],
    )
    def post(self, request: TenantRequest, profile_id: str) -> Response:
        profile = _profile(request, profile_id)
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            gate = QualityGate.from_dict(profile.quality_gate)
        except QualityGateError as exc:  # only a hand edit in the admin gets here
            raise ApiError(
                409, "INVALID_QUALITY_GATE", f"The stored gate is invalid: {exc}"
            ) from exc
        result = evaluate(
            gate,
            by_severity=body.validated_data["by_severity"],
            new_by_severity=body.validated_data.get("new_by_severity"),
        )
        return Response(GateResultSerializer(result.to_dict()).data)
