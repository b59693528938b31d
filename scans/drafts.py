"""Writes on wizard drafts: start one, save a step, turn it into a scan.

A draft's `data` uses the Scan field names, holding what JSON can hold: assets and the
profile as ids, the time of day as "HH:MM". Creating the scan goes through
`scans.services.scan_create`, the same service as the API.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from findings.models import Asset
from rediverio.models import Tenant
from scans.models import Scan, ScanDraft, ScanProfile
from scans.services import ScanInvalid, scan_create

WIZARD_STEPS = 4

# What a draft may hold: the settings of Scan that the wizard asks for.
DRAFT_FIELDS = frozenset(
    {
        "name",
        "description",
        "scan_type",
        "asset_group",
        "targets",
        "scanner_name",
        "pipeline",
        "profile",
        "tags",
        "run_on_tenant_runner",
        "priority",
        "schedule_type",
        "schedule_time",
        "schedule_day",
        "schedule_cron",
        "schedule_timezone",
    }
)

# Abandoned drafts are removed when their author starts another one.
DRAFT_LIFETIME = timedelta(days=7)


def scan_draft_start(*, tenant: Tenant, by: User) -> ScanDraft:
    ScanDraft.objects.for_tenant(tenant).filter(
        created_by=by, updated_at__lt=timezone.now() - DRAFT_LIFETIME
    ).delete()
    return ScanDraft.objects.create(tenant=tenant, created_by=by)


@transaction.atomic
def scan_draft_save_step(*, draft: ScanDraft, step: int, data: dict[str, Any]) -> ScanDraft:
    """Merge one step's validated values into the draft; keys the wizard does not
    store (helper fields of a form) are dropped."""
    if not 1 <= step <= WIZARD_STEPS:
        raise ValueError(f"the wizard has steps 1 to {WIZARD_STEPS}, not {step}")
    values = {key: _jsonable(value) for key, value in data.items() if key in DRAFT_FIELDS}
    reached = max(draft.step, step)
    before = draft.data.get("scan_type")
    if before is not None and values.get("scan_type", before) != before:
        # The options step asks for a scanner or for stages, depending on the type: a
        # new type sends the wizard through that step again.
        reached = min(reached, 2)
    draft.data = {**draft.data, **values}
    draft.step = reached
    draft.save(update_fields=["data", "step", "updated_at"])
    return draft


@transaction.atomic
def scan_create_from_draft(*, draft: ScanDraft) -> Scan:
    """Create the draft's scan (by the draft's author) and delete the draft.

    Raises ScanInvalid naming the Scan field at fault — also for what changed since the
    step was saved (a name taken meanwhile, a deleted profile or asset) — and
    ScanLimitReached when the plan allows no more scans.
    """
    tenant, data = draft.tenant, draft.data
    name = str(data.get("name", "")).strip()
    if not name:
        raise ScanInvalid("name", "a scan needs a name")
    scans = Scan.objects.for_tenant(tenant)
    if scans.filter(name=name).exists():
        raise ScanInvalid("name", "a scan of this team already has this name")
    targets = list(Asset.objects.for_tenant(tenant).filter(pk__in=data.get("targets") or []))
    if not targets and not data.get("asset_group"):
        raise ScanInvalid("targets", "choose at least one asset, or an asset group")
    profile = None
    if data.get("profile"):
        profile = ScanProfile.objects.for_tenant(tenant).filter(pk=data["profile"]).first()
        if profile is None:
            raise ScanInvalid("profile", "this profile no longer exists; choose another")
    schedule_time = data.get("schedule_time")
    fields = {
        "name": name,
        "description": data.get("description", ""),
        "scan_type": data.get("scan_type", "single"),
        "asset_group": data.get("asset_group", ""),
        "scanner_name": data.get("scanner_name", ""),
        "pipeline": data.get("pipeline") or [],
        "profile": profile,
        "tags": data.get("tags") or [],
        "run_on_tenant_runner": bool(data.get("run_on_tenant_runner", False)),
        "schedule_type": data.get("schedule_type", "manual"),
        "schedule_time": time.fromisoformat(schedule_time) if schedule_time else None,
        "schedule_day": data.get("schedule_day"),
        "schedule_cron": data.get("schedule_cron", ""),
        "schedule_timezone": data.get("schedule_timezone") or "UTC",
    }
    if data.get("priority") is not None:
        fields["priority"] = data["priority"]
    try:
        scan = scan_create(tenant=tenant, by=draft.created_by, targets=targets, **fields)
    except IntegrityError as exc:
        # Two people finishing scans of the same name at once: the constraint decides.
        if scans.filter(name=name).exists():
            raise ScanInvalid("name", "a scan of this team already has this name") from exc
        raise
    draft.delete()
    return scan


def _jsonable(value: Any) -> Any:
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, models.QuerySet | list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
