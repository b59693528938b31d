"""Scan profiles pages: the team's reusable configurations and their quality gates.
(Changes go through /api/v1/scan-profiles.)"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.views.decorators.http import require_GET

from rediverio.http import AppRequest, team_required
from scans.models import ScanProfile
from scans.quality_gate import QualityGate


@team_required
@require_GET
def profiles_page(request: AppRequest) -> HttpResponse:
    profiles = ScanProfile.objects.for_tenant(request.tenant).order_by("-is_default", "name")
    return render(request, "profiles/list.html", {"profiles": profiles})


@team_required
@require_GET
def profile_page(request: AppRequest, profile_id) -> HttpResponse:
    try:
        profile = get_object_or_404(ScanProfile.objects.for_tenant(request.tenant), pk=profile_id)
    except ValidationError as exc:
        raise Http404 from exc
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


app_name = "profiles"
urlpatterns = [
    path("", profiles_page, name="list"),
    path("<str:profile_id>/", profile_page, name="detail"),
]
