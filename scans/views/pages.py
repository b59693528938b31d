"""The scans pages: Configurations and Runs tabs, and a session's details sheet.

The words of README "Scans": a *run* is one trigger of a scan, a *session* one tool on one
target within it. The Runs tab (the specification's name) lists the newest sessions under
their runs; the sheet shows one session, at /scans/sessions/<id>/.

Each page is one template whose live part is an inline partial: the page renders it in
place, htmx requests (polling, actions) get the fragment alone.
"""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HTMX_STOP_POLLING

from rediverio.errors import ServiceError
from rediverio.http import AppRequest, role_required, team_required
from rediverio.models import Role
from rediverio.tenancy import get_for_tenant_or_404
from scans.models import Scan, ScanSession, ScanStatus
from scans.selectors import (
    SESSION_LIST_LIMIT,
    SESSION_SHEET_ROWS,
    run_list,
    run_stats,
    scan_list,
    scan_stats,
    session_detail,
)
from scans.services import (
    ConcurrencyLimitReached,
    ScanInvalid,
    scan_delete,
    scan_set_status,
    scan_trigger,
    session_cancel,
    session_retry,
)
from scans.throttle import trigger_wait

SESSION_SHEET_TABS = ("overview", "findings", "details")
member_required = role_required(Role.MEMBER, "Changing scans")


def _fragment(request: AppRequest) -> bool:
    """An htmx request that wants a fragment (a boosted one wants the whole page)."""
    return bool(request.htmx) and not request.htmx.boosted


def _url_or(name: str, fallback: str) -> str:
    # The wizard and the findings pages are built beside these pages; link by name
    # when their URL exists, by path until then.
    try:
        return reverse(name)
    except NoReverseMatch:
        return fallback


def _page_context(request: AppRequest, tab: str) -> dict:
    return {
        "tab": tab,
        # A fragment shows its own messages; a whole page shows them in the layout.
        "fragment": _fragment(request),
        "can_act": request.membership is not None and request.membership.has_role(Role.MEMBER),
        "new_scan_url": _url_or("scans:new", "/scans/new/"),
    }


# ------------------------------------------------------------------- configurations


def _scans_context(request: AppRequest) -> dict:
    return {
        **_page_context(request, "configurations"),
        "stats": scan_stats(tenant=request.tenant),
        "rows": scan_list(tenant=request.tenant),
    }


@login_required
@team_required
@require_GET
def scans_page(request: AppRequest) -> HttpResponse:
    name = "scans/scans.html#scans-body" if _fragment(request) else "scans/scans.html"
    return render(request, name, _scans_context(request))


def _after_scan_action(request: AppRequest) -> HttpResponse:
    if _fragment(request):
        return render(request, "scans/scans.html#scans-body", _scans_context(request))
    return redirect("scans:list")


def _scan_or_404(request: AppRequest, scan_id: UUID) -> Scan:
    return get_for_tenant_or_404(Scan.objects.select_related("profile"), request.tenant, scan_id)


@login_required
@team_required
@member_required
@require_POST
def scan_trigger_view(request: AppRequest, scan_id: UUID) -> HttpResponse:
    scan = _scan_or_404(request, scan_id)
    # The API's limit, counted in the same bucket (scans/throttle.py).
    wait = trigger_wait(request)
    if wait is not None:
        messages.error(
            request,
            f"{scan.name} did not start: too many manual runs in a short time "
            f"(limit {settings.SCAN_TRIGGER_RATE} per user). Try again in {wait} s.",
        )
        return _after_scan_action(request)
    try:
        run = scan_trigger(scan=scan, by=request.user)
    except ScanInvalid as exc:
        messages.error(request, f"{scan.name} did not start: {exc.message}.")
    except ConcurrencyLimitReached as exc:
        messages.error(request, f"{scan.name} did not start: {exc}")
    else:
        n = len(run.sessions)
        messages.success(
            request, f"{scan.name} started: {n} session{'s' if n != 1 else ''} queued (see Runs)."
        )
    return _after_scan_action(request)


@login_required
@team_required
@member_required
@require_POST
def scan_pause_view(request: AppRequest, scan_id: UUID) -> HttpResponse:
    return _set_status(request, scan_id, ScanStatus.PAUSED, "paused")


@login_required
@team_required
@member_required
@require_POST
def scan_activate_view(request: AppRequest, scan_id: UUID) -> HttpResponse:
    return _set_status(request, scan_id, ScanStatus.ACTIVE, "activated")


def _set_status(request: AppRequest, scan_id: UUID, status: str, done: str) -> HttpResponse:
    scan = _scan_or_404(request, scan_id)
    try:
        scan_set_status(scan=scan, status=status, by=request.user)
    except ScanInvalid as exc:
        messages.error(request, f"{scan.name} was not {done}: {exc.message}.")
    else:
        messages.success(request, f"{scan.name} {done}.")
    return _after_scan_action(request)


@login_required
@team_required
@member_required
@require_POST
def scan_delete_view(request: AppRequest, scan_id: UUID) -> HttpResponse:
    scan = _scan_or_404(request, scan_id)
    name = scan.name
    scan_delete(scan=scan, by=request.user)
    messages.success(request, f"{name} deleted.")
    return _after_scan_action(request)


# ------------------------------------------------------------------ runs and sessions


def _runs_context(request: AppRequest) -> dict:
    stats = run_stats(tenant=request.tenant)
    runs = run_list(tenant=request.tenant, limit=SESSION_LIST_LIMIT)
    return {
        **_page_context(request, "runs"),
        "stats": stats,
        "runs": runs,
        "limit": SESSION_LIST_LIMIT,
        "full": sum(len(run.sessions) for run in runs) >= SESSION_LIST_LIMIT,
        "polling": stats["active"] > 0,
    }


@login_required
@team_required
@require_GET
def runs_page(request: AppRequest) -> HttpResponse:
    context = _runs_context(request)
    if _fragment(request):
        # The poll: 286 tells htmx to stop once nothing is pending or running; the
        # fragment it swaps in then carries no trigger, so polling stays off.
        status = 200 if context["polling"] else HTMX_STOP_POLLING
        return render(request, "scans/runs.html#runs-live", context, status=status)
    return render(request, "scans/runs.html", context)


def _session_or_404(request: AppRequest, session_id: UUID) -> ScanSession:
    return get_for_tenant_or_404(ScanSession.objects.all(), request.tenant, session_id)


def _after_session_action(request: AppRequest, sheet_of=None) -> HttpResponse:
    """Back to the sheet the form was on, else the Runs tab (its fragment for htmx)."""
    if sheet_of is not None and request.POST.get("from") == "sheet":
        return redirect("scans:session", session_id=sheet_of.pk)
    if _fragment(request):
        return render(request, "scans/runs.html#runs-live", _runs_context(request))
    return redirect("scans:runs")


@login_required
@team_required
@member_required
@require_POST
def session_stop_view(request: AppRequest, session_id: UUID) -> HttpResponse:
    session = _session_or_404(request, session_id)
    if session.is_finished:
        messages.error(request, f"This session is already {session.get_status_display().lower()}.")
    else:
        session = session_cancel(
            session=session, reason=f"stopped by {request.user}", by=request.user
        )
        messages.success(request, f"{session.scanner_name} on {session.asset_value} stopped.")
    return _after_session_action(request, sheet_of=session)


@login_required
@team_required
@member_required
@require_POST
def session_retry_view(request: AppRequest, session_id: UUID) -> HttpResponse:
    session = _session_or_404(request, session_id)
    try:
        retried = session_retry(session=session, by=request.user)
    except ServiceError as exc:  # not retryable now, or the profile runs its most scans
        messages.error(request, f"Not retried: {exc}")
        return _after_session_action(request, sheet_of=session)
    messages.success(request, f"{retried.scanner_name} on {retried.asset_value} queued again.")
    return _after_session_action(request, sheet_of=retried)


@login_required
@team_required
@require_GET
def session_page(request: AppRequest, session_id: UUID) -> HttpResponse:
    session = get_for_tenant_or_404(SESSION_SHEET_ROWS, request.tenant, session_id)
    detail = session_detail(session=session)
    tab = request.GET.get("tab", "overview")
    context = {
        **_page_context(request, "runs"),
        "detail": detail,
        "session": detail.session,
        "sheet_tab": tab if tab in SESSION_SHEET_TABS else "overview",
        "polling": not detail.session.is_finished,
        "findings_url": f"{_url_or('findings:list', '/findings/')}?session={detail.session.pk}",
    }
    if _fragment(request):
        status = 200 if context["polling"] else HTMX_STOP_POLLING
        return render(request, "scans/session.html#session-live", context, status=status)
    return render(request, "scans/session.html", context)


@login_required
@team_required
@require_GET
def session_page_moved(request: AppRequest, session_id: UUID) -> HttpResponse:
    """The sheet's former address, /scans/runs/<session id>/, kept for bookmarks and links
    already sent: a permanent redirect to the session's page, its tab kept. It answers as
    the page does (sign-in, a team, and the session must be the team's), so it tells an
    outsider nothing the page would not."""
    session = _session_or_404(request, session_id)
    url = reverse("scans:session", args=[session.pk])
    if tab := request.GET.get("tab"):
        url += "?tab=" + (tab if tab in SESSION_SHEET_TABS else "overview")
    return HttpResponsePermanentRedirect(url)
