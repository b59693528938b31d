"""The home page: the current team's numbers at a glance."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from agents.selectors import agents_by_health
from findings.selectors import asset_count, open_findings_by_severity
from scans.selectors import scans_by_status


@login_required
def home(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    if tenant is None:
        return render(request, "no_tenant.html", status=403)
    findings = open_findings_by_severity(tenant=tenant)
    context = {
        "scans": scans_by_status(tenant=tenant),
        "agents": agents_by_health(tenant=tenant),
        "findings": findings,
        "open_findings": sum(findings.values()),
        "assets": asset_count(tenant=tenant),
    }
    return render(request, "home.html", context)
