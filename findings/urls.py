"""The findings and assets pages' addresses; the project URLconf mounts the findings
under /findings/ and the assets under /assets/, each with its own namespace."""

from __future__ import annotations

from django.urls import path

from findings.views import assets, pages

app_name = "findings"

urlpatterns = [
    path("", pages.finding_list, name="list"),
    path("triage/", pages.findings_bulk_triage, name="bulk_triage"),
    path("<uuid:finding_id>/", pages.finding_detail, name="detail"),
    path("<uuid:finding_id>/triage/", pages.finding_triage_view, name="triage"),
]

asset_urlpatterns = [
    path("", assets.assets_page, name="list"),
    path("<uuid:asset_id>/", assets.asset_page, name="detail"),
]
