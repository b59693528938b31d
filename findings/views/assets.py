"""Assets pages: the team's assets by risk, and one asset with its findings and SBOM."""

from __future__ import annotations

from uuid import UUID

from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from findings.models import Asset, AssetDependency, AssetType, Provider
from rediverio.http import AppRequest, team_required
from rediverio.tenancy import get_for_tenant_or_404

PAGE_SIZE = 50


@team_required
@require_GET
def assets_page(request: AppRequest) -> HttpResponse:
    assets = Asset.objects.for_tenant(request.tenant).order_by("-risk_score", "name")
    kind, provider, search = (request.GET.get(k, "") for k in ("type", "provider", "q"))
    if kind:
        assets = assets.filter(type=kind)
    if provider:
        assets = assets.filter(provider=provider)
    if search:
        assets = assets.filter(Q(name__icontains=search) | Q(identifier__icontains=search))
    page = Paginator(assets, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "types": AssetType.choices,
        "providers": Provider.choices,
        "filters": {"type": kind, "provider": provider, "q": search},
    }
    return render(request, "assets/list.html", context)


@team_required
@require_GET
def asset_page(request: AppRequest, asset_id: UUID) -> HttpResponse:
    asset = get_for_tenant_or_404(Asset.objects.all(), request.tenant, asset_id)
    components = (
        AssetDependency.objects.for_tenant(request.tenant)
        .filter(asset=asset)
        .select_related("component")
        .order_by("component__name", "component__version")
    )
    return render(
        request,
        "assets/detail.html",
        {"asset": asset, "components": components[:1000], "component_count": components.count()},
    )
