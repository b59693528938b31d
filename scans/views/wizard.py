"""The new-scan wizard: Basic info → Targets → Options → Schedule →
Review. Each step is a plain view over one form; a POST saves the step into the
ScanDraft and redirects, so Back, Next and a reload all show what was entered. The
review creates the scan with `scan_create_from_draft`, the API's `scan_create` inside.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.datastructures import MultiValueDict

from agents.models import CommandPriority
from agents.selectors import tool_coverage
from findings.models import Asset
from rediverio.http import AppRequest, team_required
from rediverio.models import Role
from rediverio.tenancy import get_for_tenant_or_404
from scans.drafts import scan_create_from_draft, scan_draft_save_step, scan_draft_start
from scans.forms import (
    BasicInfoForm,
    OptionsForm,
    ScheduleForm,
    TargetsForm,
    as_sentence,
)
from scans.models import ScanDraft, ScanProfile, ScanType, ScheduleType
from scans.schedules import Schedule, ScheduleError
from scans.services import ScanInvalid, ScanLimitReached
from scans.workflows import tool_enabled


@dataclass(frozen=True)
class Step:
    number: int
    slug: str
    title: str

    @property
    def url_name(self) -> str:
        return f"scans:wizard-{self.slug}"

    @property
    def template(self) -> str:
        return f"scans/wizard_{self.slug}.html"


BASIC = Step(1, "basic", "Basic info")
TARGETS = Step(2, "targets", "Targets")
OPTIONS = Step(3, "options", "Options")
SCHEDULE = Step(4, "schedule", "Schedule")
REVIEW = Step(5, "review", "Review")
STEPS = (BASIC, TARGETS, OPTIONS, SCHEDULE, REVIEW)

# The step whose form sets each Scan field: where an error of the scan service goes.
FIELD_STEP = {
    "name": BASIC,
    "description": BASIC,
    "scan_type": BASIC,
    "asset_group": BASIC,
    "targets": TARGETS,
    "scanner_name": OPTIONS,
    "scanner_config": OPTIONS,
    "pipeline": OPTIONS,
    "profile": OPTIONS,
    "tags": OPTIONS,
    "run_on_tenant_runner": OPTIONS,
    "priority": OPTIONS,
    "schedule_type": SCHEDULE,
    "schedule_time": SCHEDULE,
    "schedule_day": SCHEDULE,
    "schedule_cron": SCHEDULE,
    "schedule_timezone": SCHEDULE,
}


def wizard_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in members and above of a team whose plan includes scans."""

    @wraps(view)
    def wrapper(request: AppRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.membership.has_role(Role.MEMBER):
            reason = f"Creating scans needs the member role; you are a {request.membership.role}."
            return render(request, "scans/wizard_forbidden.html", {"reason": reason}, status=403)
        if not request.tenant.has_module("scans"):
            reason = f"Scans are not part of the {request.tenant.plan} plan of {request.tenant}."
            return render(request, "scans/wizard_forbidden.html", {"reason": reason}, status=403)
        return view(request, *args, **kwargs)

    return team_required(wrapper)


# ------------------------------------------------------------------------------ views


@wizard_view
def new(request: AppRequest) -> HttpResponse:
    draft = scan_draft_start(tenant=request.tenant, by=request.user)
    return redirect(BASIC.url_name, draft_id=draft.pk)


@wizard_view
def basic(request: AppRequest, draft_id: UUID) -> HttpResponse:
    return _step(request, draft_id, BASIC)


@wizard_view
def targets(request: AppRequest, draft_id: UUID) -> HttpResponse:
    return _step(request, draft_id, TARGETS)


@wizard_view
def options(request: AppRequest, draft_id: UUID) -> HttpResponse:
    return _step(request, draft_id, OPTIONS)


@wizard_view
def schedule(request: AppRequest, draft_id: UUID) -> HttpResponse:
    return _step(request, draft_id, SCHEDULE)


@wizard_view
def schedule_preview(request: AppRequest, draft_id: UUID) -> HttpResponse:
    """The next five runs of the schedule being typed (htmx, on every change); the
    field errors ride along out of band, to sit next to their inputs."""
    _draft(request, draft_id)
    form = ScheduleForm(request.GET)
    form.is_valid()
    context = {"form": form, "preview": _preview(form), "oob": bool(request.htmx)}
    return render(request, "scans/wizard_schedule.html#preview", context)


@wizard_view
def review(request: AppRequest, draft_id: UUID) -> HttpResponse:
    draft = _draft(request, draft_id)
    if (unreached := _unreached(draft, REVIEW)) is not None:
        return unreached
    status = 200
    if request.method == "POST" and "back" in request.POST:
        return redirect(SCHEDULE.url_name, draft_id=draft.pk)
    if request.method == "POST":
        try:
            scan = scan_create_from_draft(draft=draft)
        except ScanInvalid as exc:
            if exc.field in FIELD_STEP:
                return _step_with_error(request, draft, exc)
            messages.error(request, f"The scan was not created: {exc.message}.")
            status = 400
        except ScanLimitReached as exc:
            messages.error(request, str(exc))
            status = 403
        else:
            messages.success(request, f"Scan “{scan.name}” created.")
            return redirect("scans:list")
    context = {**_page_context(draft, REVIEW), "summary": _summary(draft)}
    return render(request, REVIEW.template, context, status=status)


# ---------------------------------------------------------------------------- helpers


def _draft(request: AppRequest, draft_id: UUID) -> ScanDraft:
    # A draft is its author's, in its team: any other id is simply not found.
    return get_for_tenant_or_404(
        ScanDraft.objects.select_related("tenant"),
        request.tenant,
        draft_id,
        created_by=request.user,
    )


def _unreached(draft: ScanDraft, step: Step) -> HttpResponse | None:
    """A step past the first unfinished one sends there: it builds on that step."""
    if step.number <= draft.step + 1:
        return None
    return redirect(STEPS[draft.step].url_name, draft_id=draft.pk)


def _basic_form(request: AppRequest, draft: ScanDraft, data: Any = None) -> forms.Form:
    return BasicInfoForm(data, initial=draft.data, tenant=request.tenant)


def _targets_form(request: AppRequest, draft: ScanDraft, data: Any = None) -> forms.Form:
    return TargetsForm(
        data,
        initial=draft.data,
        tenant=request.tenant,
        asset_group=draft.data.get("asset_group", ""),
    )


def _options_form(request: AppRequest, draft: ScanDraft, data: Any = None) -> forms.Form:
    initial = dict(draft.data)
    if "profile" not in initial:
        default = ScanProfile.objects.for_tenant(request.tenant).filter(is_default=True)
        initial["profile"] = default.values_list("pk", flat=True).first()
    return OptionsForm(
        data,
        initial=initial,
        tenant=request.tenant,
        scan_type=draft.data.get("scan_type", ScanType.SINGLE),
    )


def _schedule_form(request: AppRequest, draft: ScanDraft, data: Any = None) -> forms.Form:
    return ScheduleForm(data, initial=draft.data)


FORMS = {
    BASIC: _basic_form,
    TARGETS: _targets_form,
    OPTIONS: _options_form,
    SCHEDULE: _schedule_form,
}


def _step(request: AppRequest, draft_id: UUID, step: Step) -> HttpResponse:
    """GET shows the step with what the draft holds; POST validates, saves, moves on.

    Back saves the step too when its input is valid; otherwise it leaves the saved
    values as they were rather than keep someone from going back.
    """
    draft = _draft(request, draft_id)
    if (unreached := _unreached(draft, step)) is not None:
        return unreached
    build = FORMS[step]
    if request.method != "POST":
        return _step_page(request, draft, step, build(request, draft))
    form = build(request, draft, request.POST)
    going_back = "back" in request.POST and step.number > 1
    if form.is_valid():
        scan_draft_save_step(draft=draft, step=step.number, data=form.cleaned_data)
    elif not going_back:
        return _step_page(request, draft, step, form, status=400)
    to = STEPS[step.number - 2] if going_back else STEPS[step.number]
    return redirect(to.url_name, draft_id=draft.pk)


def _step_with_error(request: AppRequest, draft: ScanDraft, exc: ScanInvalid) -> HttpResponse:
    """The step that owns the field the scan service refused, with its message there."""
    step = FIELD_STEP[exc.field]
    build = FORMS[step]
    form = build(request, draft, _as_posted(build(request, draft)))
    form.is_valid()
    field = exc.field
    if step is SCHEDULE:
        field = ScheduleForm.field_for(field, draft.data.get("schedule_type", ""))
    elif field == "pipeline":
        field = "stage_1"
    shown_on: str | None = field if field in form.fields else None
    if shown_on is None or not form.has_error(shown_on):
        form.add_error(shown_on, as_sentence(exc.message))
    return _step_page(request, draft, step, form, status=400)


def _as_posted(form: forms.Form) -> MultiValueDict:
    """What a browser would post for a form showing its initial values."""
    data: MultiValueDict[str, str] = MultiValueDict()
    for field in form:
        value = field.value()
        if value is None or value is False or value == "":
            continue
        if value is True:
            data[field.html_name] = "on"
        elif isinstance(value, list | tuple):
            data.setlist(field.html_name, [str(item) for item in value])
        else:
            data[field.html_name] = str(value)
    return data


def _page_context(draft: ScanDraft, current: Step) -> dict[str, Any]:
    steps = []
    for step in STEPS:
        if step is current:
            state = "current"
        elif step.number <= draft.step:
            state = "done"
        else:
            state = "todo"
        reachable = step.number <= draft.step + 1
        steps.append(
            {
                "number": step.number,
                "title": step.title,
                "state": state,
                "url": reverse(step.url_name, args=[draft.pk]) if reachable else None,
            }
        )
    back = STEPS[current.number - 2] if current.number > 1 else None
    return {
        "draft": draft,
        "step": current,
        "steps": steps,
        "back_url": reverse(back.url_name, args=[draft.pk]) if back else None,
    }


def _step_page(
    request: AppRequest, draft: ScanDraft, step: Step, form: forms.Form, status: int = 200
) -> HttpResponse:
    context = {**_page_context(draft, step), "form": form}
    if step is OPTIONS:
        assert isinstance(form, OptionsForm)  # FORMS[OPTIONS] builds one
        # What each scanner on offer needs of an agent, and whether the team has one.
        context["coverage"] = tool_coverage(tenant=draft.tenant, tools=form.known_tools)
    if step is SCHEDULE:
        assert isinstance(form, ScheduleForm)  # FORMS[SCHEDULE] builds one
        shown = form if form.is_bound else ScheduleForm(_as_posted(form))
        shown.is_valid()
        context["preview"] = _preview(shown)
    return render(request, step.template, context, status=status)


def _preview(form: ScheduleForm) -> dict[str, Any]:
    schedule = form.schedule
    if schedule is None:
        errors = [
            f"{form[name].label}: {error}" if name in form.fields else error
            for name, field_errors in form.errors.items()
            for error in field_errors
        ]
        return {"errors": errors}
    if schedule.type == ScheduleType.MANUAL:
        return {"manual": True}
    return {"runs": schedule.upcoming(timezone.now(), 5), "timezone": schedule.timezone}


def _summary(draft: ScanDraft) -> dict[str, Any]:
    """The draft in words, for the review."""
    data, tenant = draft.data, draft.tenant
    assets = Asset.objects.for_tenant(tenant).filter(pk__in=data.get("targets") or [])
    profile = None
    if data.get("profile"):
        profile = ScanProfile.objects.for_tenant(tenant).filter(pk=data["profile"]).first()
    priority = data.get("priority", CommandPriority.NORMAL)
    chosen = [data["scanner_name"]] if data.get("scanner_name") else []
    chosen += [tool for stage in data.get("pipeline") or [] for tool in stage.get("tools", [])]
    runs: list[datetime] = []
    schedule: Schedule | None = Schedule.from_fields(data)
    try:
        runs = Schedule.from_fields(data).upcoming(timezone.now(), 5)
    except ScheduleError:
        schedule = None  # the review says so; the schedule step shows which field
    return {
        "name": data.get("name", ""),
        "description": data.get("description", ""),
        "scan_type": ScanType(data.get("scan_type", ScanType.SINGLE)).label,
        "is_workflow": data.get("scan_type") == ScanType.WORKFLOW,
        "asset_group": data.get("asset_group", ""),
        "assets": list(assets.only("id", "name", "type", "identifier")),
        "scanner_name": data.get("scanner_name", ""),
        "pipeline": data.get("pipeline") or [],
        "profile": profile,
        "agents": [
            {"coverage": coverage, "disabled": not tool_enabled(profile, coverage.tool)}
            for coverage in tool_coverage(tenant=tenant, tools=chosen)
        ],
        "tags": data.get("tags") or [],
        "run_on_tenant_runner": data.get("run_on_tenant_runner", False),
        "priority": CommandPriority(priority).label.capitalize(),
        "schedule": schedule.describe() if schedule else "Not valid; edit the schedule.",
        "timezone": data.get("schedule_timezone") or "UTC",
        "runs": runs,
    }
