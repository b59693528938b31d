"""The home page: the current team's numbers at a glance."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from agents.selectors import agents_by_health
from findings.selectors import asset_count, new_and_fixed_by_day, open_findings_by_severity
from rediverio.api_errors import error_body
from rediverio.http import team_required
from rediverio.middleware import SESSION_TENANT_KEY
from scans.models import ScanSession
from scans.selectors import scans_by_status


@team_required
def home(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    findings = open_findings_by_severity(tenant=tenant)
    week = new_and_fixed_by_day(tenant=tenant, days=7)
    tallest = max([1, *(max(d["new"], d["fixed"]) for d in week)])
    context = {
        "week": [
            {
                **d,
                "new_pct": round(100 * d["new"] / tallest),
                "fixed_pct": round(100 * d["fixed"] / tallest),
            }
            for d in week
        ],
        "new_this_week": sum(d["new"] for d in week),
        "fixed_this_week": sum(d["fixed"] for d in week),
        "running_scans": ScanSession.objects.for_tenant(tenant).active().count(),
        "scans": scans_by_status(tenant=tenant),
        "agents": agents_by_health(tenant=tenant),
        "findings": findings,
        "open_findings": sum(findings.values()),
        "assets": asset_count(tenant=tenant),
    }
    return render(request, "home.html", context)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """API clients get the API's error shape; people get the page."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("NOT_FOUND", "No such endpoint or object."), status=404)
    return render(request, "404.html", status=404)


@login_required
@require_POST
def tenant_switch(request: HttpRequest) -> HttpResponse:
    """Make another of the user's teams the current one (for this session)."""
    wanted = request.POST.get("tenant", "")
    if any(str(m.tenant_id) == wanted for m in request.memberships):
        request.session[SESSION_TENANT_KEY] = wanted
    else:
        return HttpResponseForbidden("You are not a member of that team.")
    target = request.POST.get("next", "/")
    return redirect(target if url_has_allowed_host_and_scheme(target, None) else "/")
