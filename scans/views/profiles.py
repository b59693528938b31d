"""Scan profiles pages: the team's reusable configurations and their quality gates.
(Changes go through /api/v1/scan-profiles.)"""

from __future__ import annotations

from uuid import UUID

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from rediverio.http import AppRequest, team_required
from rediverio.tenancy import get_for_tenant_or_404
from scans.models import ScanProfile
from scans.quality_gate import QualityGate


@team_required
@require_GET
def profiles_page(request: AppRequest) -> HttpResponse:
    profiles = ScanProfile.objects.for_tenant(request.tenant).order_by("-is_default", "name")
    return render(request, "profiles/list.html", {"profiles": profiles})


@team_required
@require_GET
def profile_page(request: AppRequest, profile_id: UUID) -> HttpResponse:
    profile = get_for_tenant_or_404(ScanProfile.objects.all(), request.tenant, profile_id)
    gate = QualityGate.from_dict(profile.quality_gate or {})
    return render(
        request,
        "profiles/detail.html",
        {
            "profile": profile,
            "gate": gate,
            "gate_limits": {m: n for m, n in gate.limits().items() if n >= 0},
            "scans": profile.scans.all(),
        },
    )
