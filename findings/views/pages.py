"""The findings pages: the filtered list, one finding, and triage (one or a selection)."""

from __future__ import annotations

from uuid import UUID

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from findings.lifecycle import triage_targets
from findings.models import Finding, FindingStatus, Severity, SourceCategory
from findings.selectors import (
    DEFAULT_SORT,
    FILTER_EARLIEST,
    FILTER_LATEST,
    SORTS,
    BadCursor,
    FindingFilters,
    asset_options,
    decode_cursor,
    finding_get,
    finding_sightings,
    findings_page,
    triage_log,
)
from findings.services import (
    TRIAGE_BULK_MAX,
    TRIAGE_NOTE_MAX,
    finding_triage,
    findings_triage_bulk,
)
from rediverio.http import AppRequest, team_required
from rediverio.models import Role

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


# --------------------------------------------------------------------------------- forms


class UUIDListField(forms.Field):
    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[UUID]:
        try:
            return [UUID(str(v)) for v in value or []]
        except ValueError as exc:
            raise ValidationError("Not a finding id.", code="invalid") from exc


def _date_filter() -> forms.DateField:
    return forms.DateField(
        required=False,
        widget=forms.DateInput(
            {"type": "date", "min": FILTER_EARLIEST.isoformat(), "max": FILTER_LATEST.isoformat()}
        ),
        validators=[MinValueValidator(FILTER_EARLIEST), MaxValueValidator(FILTER_LATEST)],
    )


class FindingFilterForm(forms.Form):
    severity = forms.MultipleChoiceField(
        choices=Severity.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    status = forms.MultipleChoiceField(
        choices=FindingStatus.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    tool = forms.CharField(required=False, max_length=100)
    category = forms.ChoiceField(
        choices=[("", "Any category"), *SourceCategory.choices], required=False
    )
    asset = forms.UUIDField(required=False)  # the <select> is drawn by the template
    session = forms.UUIDField(required=False, widget=forms.HiddenInput)
    first_seen_from = _date_filter()
    first_seen_to = _date_filter()
    last_seen_from = _date_filter()
    last_seen_to = _date_filter()
    q = forms.CharField(required=False, max_length=200, strip=True)
    sort = forms.ChoiceField(
        choices=[(k, s.label) for k, s in SORTS.items()], required=False, initial=DEFAULT_SORT
    )
    after = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        sort = data.get("sort") or DEFAULT_SORT
        data["sort"] = sort
        if data.get("after"):
            try:
                decode_cursor(data["after"], sort)
            except BadCursor:
                self.add_error("after", "That page link has expired; showing the first page.")
                data["after"] = ""
        return data

    def filters(self) -> FindingFilters:
        """The valid part of the query: a bad field is reported and ignored, not fatal."""
        data = self.cleaned_data
        return FindingFilters(
            severities=tuple(data.get("severity") or ()),
            statuses=tuple(data.get("status") or ()),
            tool=data.get("tool") or "",
            source_category=data.get("category") or "",
            asset_id=data.get("asset"),
            session_id=data.get("session"),
            first_seen_from=data.get("first_seen_from"),
            first_seen_to=data.get("first_seen_to"),
            last_seen_from=data.get("last_seen_from"),
            last_seen_to=data.get("last_seen_to"),
            text=data.get("q") or "",
        )


class TriageForm(forms.Form):
    status = forms.ChoiceField(choices=FindingStatus.choices)
    note = forms.CharField(
        required=False, max_length=TRIAGE_NOTE_MAX, widget=forms.Textarea({"rows": 3})
    )


class BulkTriageForm(TriageForm):
    ids = UUIDListField(error_messages={"required": "Select at least one finding."})
    next = forms.CharField(required=False, max_length=2000)

    def clean_ids(self) -> list[UUID]:
        ids = self.cleaned_data["ids"]
        if len(ids) > TRIAGE_BULK_MAX:
            raise ValidationError(f"Select at most {TRIAGE_BULK_MAX} findings at a time.")
        return ids


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
    finding = finding_get(tenant=request.tenant, finding_id=finding_id)
    if finding is None:
        raise Http404("No such finding.")
    return finding


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


urlpatterns = [
    path("", finding_list, name="list"),
    path("triage/", findings_bulk_triage, name="bulk_triage"),
    path("<uuid:finding_id>/", finding_detail, name="detail"),
    path("<uuid:finding_id>/triage/", finding_triage_view, name="triage"),
]
