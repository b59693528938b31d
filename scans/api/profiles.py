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

from uuid import UUID

from rest_framework import serializers, status
from rest_framework.response import Response

from rediverio.api_auth import Pages, TenantApiView, TenantRequest
from rediverio.api_errors import ApiError
from rediverio.models import Role
from rediverio.tenancy import get_for_tenant_or_404
from scans.api import openapi
from scans.api.serializers import (
    GateResultSerializer,
    QualityGateSerializer,
    ScanProfileCloneInputSerializer,
    ScanProfileEvaluateInputSerializer,
    ScanProfileSerializer,
)
from scans.models import ScanProfile
from scans.profile_services import (
    SystemProfileReadOnly,
    scan_profile_clone,
    scan_profile_create,
    scan_profile_delete,
    scan_profile_update,
)
from scans.quality_gate import QualityGate, QualityGateError, evaluate


def _profile(request: TenantRequest, profile_id: UUID) -> ScanProfile:
    return get_for_tenant_or_404(ScanProfile.objects.all(), request.tenant, profile_id)


def _writable(request: TenantRequest, profile_id: UUID) -> ScanProfile:
    # Refused before the body is read: a system profile is read-only whatever it says.
    profile = _profile(request, profile_id)
    if profile.is_system:
        raise SystemProfileReadOnly(profile)
    return profile


class ScanProfilesApiView(TenantApiView):
    """Scan profiles are reusable scan settings: tools, intensity, limits, quality gate.
    Reading needs the viewer role and changing the admin role; system profiles are
    read-only but may be cloned."""

    required_module = "scans"


class ScanProfileListCreateApi(ScanProfilesApiView):
    @openapi.scan_profiles_list
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

    @openapi.scan_profiles_create
    def post(self, request: TenantRequest) -> Response:
        body = ScanProfileSerializer(data=request.data, context={"tenant": request.tenant})
        body.is_valid(raise_exception=True)
        profile = scan_profile_create(tenant=request.tenant, by=request.user, **body.validated_data)
        return Response(ScanProfileSerializer(profile).data, status=status.HTTP_201_CREATED)


class ScanProfileDetailApi(ScanProfilesApiView):
    @openapi.scan_profiles_retrieve
    def get(self, request: TenantRequest, profile_id: UUID) -> Response:
        return Response(ScanProfileSerializer(_profile(request, profile_id)).data)

    @openapi.scan_profiles_update
    def put(self, request: TenantRequest, profile_id: UUID) -> Response:
        return self._update(request, profile_id, partial=False)

    @openapi.scan_profiles_partial_update
    def patch(self, request: TenantRequest, profile_id: UUID) -> Response:
        return self._update(request, profile_id, partial=True)

    def _update(self, request: TenantRequest, profile_id: UUID, *, partial: bool) -> Response:
        profile = _writable(request, profile_id)
        body = ScanProfileSerializer(
            profile, data=request.data, partial=partial, context={"tenant": request.tenant}
        )
        body.is_valid(raise_exception=True)
        profile = scan_profile_update(profile=profile, changes=body.validated_data, by=request.user)
        return Response(ScanProfileSerializer(profile).data)

    @openapi.scan_profiles_destroy
    def delete(self, request: TenantRequest, profile_id: UUID) -> Response:
        profile = _writable(request, profile_id)
        scan_profile_delete(profile=profile, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ScanProfileCloneApi(ScanProfilesApiView):
    InputSerializer = ScanProfileCloneInputSerializer

    @openapi.scan_profiles_clone
    def post(self, request: TenantRequest, profile_id: UUID) -> Response:
        profile = _profile(request, profile_id)
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        clone = scan_profile_clone(
            profile=profile, name=body.validated_data.get("name"), by=request.user
        )
        return Response(ScanProfileSerializer(clone).data, status=status.HTTP_201_CREATED)


class ScanProfileQualityGateApi(ScanProfilesApiView):
    InputSerializer = QualityGateSerializer

    @openapi.scan_profiles_quality_gate_update
    def put(self, request: TenantRequest, profile_id: UUID) -> Response:
        profile = _writable(request, profile_id)
        body = QualityGateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        profile = scan_profile_update(
            profile=profile, changes={"quality_gate": body.validated_data}, by=request.user
        )
        return Response(ScanProfileSerializer(profile).data)


class ScanProfileEvaluateQualityGateApi(ScanProfilesApiView):
    write_role = Role.VIEWER  # a POST that writes nothing

    InputSerializer = ScanProfileEvaluateInputSerializer

    @openapi.scan_profiles_quality_gate_evaluate
    def post(self, request: TenantRequest, profile_id: UUID) -> Response:
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
