"""The findings pages: the filtered list, one finding, and triage (one or a selection)."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from findings.forms import BulkTriageForm, FindingFilterForm, TriageForm
from findings.lifecycle import triage_targets
from findings.models import Finding, FindingStatus
from findings.selectors import (
    FINDING_PAGE_ROWS,
    asset_options,
    finding_sightings,
    findings_page,
    triage_log,
)
from findings.services import TRIAGE_BULK_MAX, TRIAGE_NOTE_MAX, finding_triage, findings_triage_bulk
from rediverio.http import AppRequest, team_required
from rediverio.models import Role
from rediverio.tenancy import get_for_tenant_or_404

tenant_required = team_required


def _can_triage(request: AppRequest) -> bool:
    return request.membership.has_role(Role.MEMBER)


def _wants_partial(request: AppRequest) -> bool:
    # A history restore (back button after hx-push-url) needs the whole page.
    return bool(request.htmx) and not request.htmx.history_restore_request


def _link(value: str) -> str | None:
    """A scanner-supplied URL, only when it is safe to put in an href."""
    return value if value.lower().startswith(("https://", "http://")) else None


def _status_choices(statuses) -> list[tuple[str, str]]:
    return [(s, FindingStatus(s).label) for s in statuses]


# --------------------------------------------------------------------------------- views


@require_GET
@tenant_required
def finding_list(request: AppRequest) -> HttpResponse:
    form = FindingFilterForm(request.GET)
    form.is_valid()  # errors are shown beside the fields; the valid filters still apply
    sort = form.cleaned_data["sort"]
    page = findings_page(
        tenant=request.tenant,
        filters=form.filters(),
        sort=sort,
        after=form.cleaned_data.get("after") or None,
    )
    next_query = None
    if page.next_cursor:
        query = request.GET.copy()
        query["after"] = page.next_cursor
        next_query = query.urlencode()
    first_query = request.GET.copy()
    first_query.pop("after", None)
    context = {
        "form": form,
        "page": page,
        "asset_options": asset_options(tenant=request.tenant),
        "selected_asset": form.cleaned_data.get("asset"),
        "session_id": form.cleaned_data.get("session"),
        "is_first_page": not form.cleaned_data.get("after"),
        "first_query": first_query.urlencode(),
        "next_query": next_query,
        "can_triage": _can_triage(request),
        "bulk_statuses": FindingStatus.choices,
        "bulk_max": TRIAGE_BULK_MAX,
    }
    name = "findings/list.html#results" if _wants_partial(request) else "findings/list.html"
    response = render(request, name, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _detail_context(request: AppRequest, finding: Finding, **extra) -> dict:
    return {
        "finding": finding,
        "url_href": _link(finding.url),
        "references": [(ref, _link(str(ref))) for ref in finding.references or []],
        "triage_log": triage_log(finding=finding),
        "sightings": finding_sightings(tenant=request.tenant, finding=finding),
        "triage_statuses": _status_choices(triage_targets(finding.status)),
        "can_triage": _can_triage(request),
        "note_max": TRIAGE_NOTE_MAX,
        **extra,
    }


def _finding_or_404(request: AppRequest, finding_id: UUID) -> Finding:
    return get_for_tenant_or_404(FINDING_PAGE_ROWS, request.tenant, finding_id)


@require_GET
@tenant_required
def finding_detail(request: AppRequest, finding_id: UUID) -> HttpResponse:
    finding = _finding_or_404(request, finding_id)
    return render(request, "findings/detail.html", _detail_context(request, finding))


@require_POST
@tenant_required
def finding_triage_view(request: AppRequest, finding_id: UUID) -> HttpResponse:
    if not _can_triage(request):
        raise PermissionDenied("Viewers cannot triage findings.")
    finding = _finding_or_404(request, finding_id)
    form = TriageForm(request.POST)
    error, changed = None, False
    if form.is_valid():
        try:
            finding_triage(
                finding=finding,
                status=form.cleaned_data["status"],
                note=form.cleaned_data["note"],
                by=request.user,
            )
            changed = True
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        # An ErrorList yields its messages as text (its stubs say ValidationError too).
        error = " ".join(
            f"{name}: {' '.join(str(e) for e in errs)}" for name, errs in form.errors.items()
        )
    if _wants_partial(request):
        # htmx swaps 2xx only, so a refusal is a 200 carrying the message in the partial.
        context = _detail_context(request, finding, triage_error=error, triage_changed=changed)
        return render(request, "findings/detail.html#triage", context)
    if error:
        context = _detail_context(request, finding, triage_error=error)
        return render(request, "findings/detail.html", context, status=400)
    messages.success(request, f"Status changed to {finding.get_status_display().lower()}.")
    return redirect("findings:detail", finding_id=finding.pk)


@require_POST
@tenant_required
def findings_bulk_triage(request: AppRequest) -> HttpResponse:
    if not _can_triage(request):
        raise PermissionDenied("Viewers cannot triage findings.")
    form = BulkTriageForm(request.POST)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = reverse("findings:list")
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect(back)
    try:
        result = findings_triage_bulk(
            tenant=request.tenant,
            ids=form.cleaned_data["ids"],
            status=form.cleaned_data["status"],
            note=form.cleaned_data["note"],
            by=request.user,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        level = messages.WARNING if result.skipped else messages.SUCCESS
        messages.add_message(request, level, result.summary())
    return redirect(back)
