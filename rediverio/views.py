"""The home page (the current team's numbers at a glance) and the team's audit log."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from agents.selectors import agents_by_health
from findings.selectors import asset_count, new_and_fixed_by_day, open_findings_by_severity
from rediverio.api_errors import error_body
from rediverio.audit import (
    AuditFilterInvalid,
    audit_actors,
    audit_event_lines,
    audit_events_page,
    audit_filters_from,
)
from rediverio.http import AppRequest, MiddlewareRequest, role_required, team_required
from rediverio.middleware import SESSION_TENANT_KEY
from rediverio.models import AuditAction, Role
from scans.models import ScanSession
from scans.selectors import scans_by_status


@team_required
def home(request: AppRequest) -> HttpResponse:
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
def tenant_switch(request: MiddlewareRequest) -> HttpResponse:
    """Make another of the user's teams the current one (for this session)."""
    wanted = request.POST.get("tenant", "")
    if any(str(m.tenant_id) == wanted for m in request.memberships):
        request.session[SESSION_TENANT_KEY] = wanted
    else:
        return HttpResponseForbidden("You are not a member of that team.")
    target = request.POST.get("next", "/")
    return redirect(target if url_has_allowed_host_and_scheme(target, None) else "/")


# Where a target of the log can be opened (scans have no page of their own: their list).
TARGET_PAGES = {
    "finding": "findings:detail",
    "agent": "agents:detail",
    "scanprofile": "profiles:detail",
    "scansession": "scans:session",
}


def _target_url(event) -> str:
    name = TARGET_PAGES.get(event.target_type)
    if name is None:
        return reverse("scans:list") if event.target_type == "scan" else ""
    try:
        return reverse(name, args=[event.target_id])
    except NoReverseMatch:
        return ""


@team_required
@role_required(Role.ADMIN, "Reading the audit log")
def audit_log(request: AppRequest) -> HttpResponse:
    """Who did what, when: the team's admins read the user actions on scans, agents
    and findings, newest first, filtered by action, person or target."""
    try:
        filters = audit_filters_from(request.GET)
    except AuditFilterInvalid as exc:
        return HttpResponseBadRequest(f"“{exc.field}”: {exc.message}.")
    try:
        page = audit_events_page(
            tenant=request.tenant, filters=filters, after=request.GET.get("after", "")
        )
    except ValueError:
        return HttpResponseBadRequest("“after” is not a page cursor of the audit log.")
    context = {
        "events": [(event, _target_url(event), audit_event_lines(event)) for event in page.events],
        "next_cursor": page.next_cursor,
        "filters": filters,
        "actions": AuditAction.choices,
        "families": sorted({value.split(".")[0] for value in AuditAction.values}),
        "actors": audit_actors(tenant=request.tenant),
    }
    return render(request, "audit/list.html", context)
