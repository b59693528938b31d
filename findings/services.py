"""Writes on assets, findings and components."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from findings.lifecycle import triage_refusal
from findings.models import Asset, Finding, FindingStatus
from findings.rules.assets import normalize_asset
from findings.stats import assets_refresh_stats
from rediverio.audit import audit_record, audit_record_many
from rediverio.errors import PlanLimitReached
from rediverio.models import AuditAction, Tenant

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class AssetLimitReached(PlanLimitReached):
    """The team's plan allows no more assets (its `max_assets`)."""


@dataclass(frozen=True, slots=True)
class AssetAllowance:
    """A team's `max_assets` (None: unlimited) and how many assets it has."""

    limit: int | None
    existing: int = 0

    @property
    def room(self) -> int | None:
        """How many new assets may still be created; None when there is no limit."""
        return None if self.limit is None else max(self.limit - self.existing, 0)

    def refusal(self, tenant: Tenant) -> str:
        return (
            f"The {tenant.plan} plan of {tenant.name} allows {self.limit} asset(s) "
            f"(max_assets); {self.existing} already exist. Remove assets or raise the limit."
        )


def assets_allowance(tenant: Tenant) -> AssetAllowance:
    """How many new assets `tenant` may still create. Every path that creates assets
    asks this first, inside its transaction. (The Django admin does not: operators are
    exempt from plan limits, as they grant what a plan does not.)

    With a limit, the tenant row stays locked until commit, so that two creations at
    once cannot both take the last place. FOR NO KEY UPDATE, not FOR UPDATE: rows that
    merely reference the tenant (findings and sessions, whose foreign-key checks take
    KEY SHARE locks) go on being written meanwhile; with FOR UPDATE, an ingest holding
    an asset and inserting its findings would wait for a creator waiting for that asset.
    Lock order: the tenant row before any asset row (ingest/pipeline.py `_assets_for`).
    """
    if Tenant.objects.get(pk=tenant.pk).limit("max_assets") is None:
        return AssetAllowance(None)  # no lock: creations on unlimited plans never queue
    limit = Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk).limit("max_assets")
    if limit is None:
        return AssetAllowance(None)
    return AssetAllowance(limit, Asset.objects.for_tenant(tenant).count())


@transaction.atomic
def asset_get_or_create(
    *,
    tenant: Tenant,
    identifier: str,
    asset_type: str | None = None,
    name: str | None = None,
) -> tuple[Asset, bool]:
    """The tenant's asset for an identifier in any of its spellings (normalised first:
    `git@github.com:Org/Repo.git` and `github.com/org/repo` are one asset).

    Raises AssetLimitReached when the asset is new and the plan allows no more; an
    asset that exists is always returned, whatever the limit."""
    normalized = normalize_asset(identifier, asset_type, name)
    key = {"type": normalized.type.value, "identifier": normalized.identifier}
    mine = Asset.objects.for_tenant(tenant).filter(**key)
    asset = mine.first()
    if asset is not None:
        return asset, False
    allowance = assets_allowance(tenant)
    if allowance.room == 0:
        asset = mine.first()  # created by a concurrent call meanwhile: not a new one
        if asset is not None:
            return asset, False
        raise AssetLimitReached(allowance.refusal(tenant))
    return Asset.objects.get_or_create(
        tenant=tenant,
        **key,
        defaults={
            "name": normalized.name,
            "provider": normalized.provider.value if normalized.provider else "",
        },
    )


# ------------------------------------------------------------------------------- triage

TRIAGE_NOTE_MAX = 2000
TRIAGE_BULK_MAX = 100  # one list page is 50; keeps each bulk UPDATE a single statement
TRIAGE_LOG_MAX = 100  # entries kept in metadata["triage"], oldest dropped first


@dataclass
class BulkTriageResult:
    updated: list[UUID] = field(default_factory=list)
    skipped: list[tuple[UUID, str]] = field(default_factory=list)  # (id, reason)

    def summary(self, *, shown: int = 3) -> str:
        """'3 updated, 1 skipped: “Use of eval”: it is already false positive.'"""
        text = f"{len(self.updated)} updated, {len(self.skipped)} skipped"
        if not self.skipped:
            return f"{text}."
        reasons = "; ".join(reason for _, reason in self.skipped[:shown])
        more = f" (and {len(self.skipped) - shown} more)" if len(self.skipped) > shown else ""
        return f"{text}: {reasons}{more}"


def _check_note(note: str) -> str:
    note = note.strip()
    if len(note) > TRIAGE_NOTE_MAX:
        raise ValidationError(
            f"Keep the note under {TRIAGE_NOTE_MAX} characters.", code="note_too_long"
        )
    return note


def _apply_triage(finding: Finding, *, status: str, note: str, by: User, now: datetime) -> None:
    """Move one (already checked) finding in memory: status, resolved_at, log entry."""
    entry = {"at": now.isoformat(), "by": by.get_username(), "from": finding.status}
    entry |= {"to": status, "note": note}
    if status == FindingStatus.RESOLVED:
        finding.resolved_at = now
    elif finding.status == FindingStatus.RESOLVED:
        finding.resolved_at = None
    finding.status = status
    metadata = dict(finding.metadata or {})
    metadata["triage"] = [*metadata.get("triage", []), entry][-TRIAGE_LOG_MAX:]
    finding.metadata = metadata
    finding.updated_at = now


_TRIAGE_FIELDS = ["status", "resolved_at", "metadata", "updated_at"]


@transaction.atomic
def finding_triage(*, finding: Finding, status: str, note: str, by: User) -> Finding:
    """Change a finding's status by hand, following `lifecycle.TRIAGE_TRANSITIONS`.

    Raises ValidationError (with the reason) for a refused transition. The asset's row
    lock is taken first, as ingest does, then the finding's current state is re-read:
    an ingest that ran meanwhile may have reopened or resolved it.
    """
    note = _check_note(note)
    asset = Asset.objects.select_for_update().get(pk=finding.asset_id)
    fresh = Finding.objects.filter(pk=finding.pk).values("status", "resolved_at", "metadata").get()
    for name, value in fresh.items():
        setattr(finding, name, value)
    refusal = triage_refusal(finding.status, status)
    if refusal:
        raise ValidationError(f"Cannot change the status: {refusal}", code="transition")
    was_open = finding.is_open
    status_before = finding.status
    _apply_triage(finding, status=status, note=note, by=by, now=timezone.now())
    finding.save(update_fields=_TRIAGE_FIELDS)
    audit_record(
        tenant=asset.tenant_id,
        by=by,
        action=AuditAction.FINDING_TRIAGED,
        target=finding,
        details={"changes": {"status": [status_before, status]}, "note": note},
    )
    if finding.is_open != was_open:
        assets_refresh_stats(assets=[asset])
    return finding


@transaction.atomic
def findings_triage_bulk(
    *, tenant: Tenant, ids: Iterable[UUID], status: str, note: str, by: User
) -> BulkTriageResult:
    """Triage a selection: ids outside the tenant are ignored, refused transitions are
    skipped with their reason.

    Query budget, whatever the selection size (up to TRIAGE_BULK_MAX): lock the assets
    (one SELECT … FOR UPDATE), read the findings, one bulk UPDATE, and — when a finding
    enters or leaves the open statuses — the assets' stats (one aggregate, one update).
    """
    ids = list(dict.fromkeys(UUID(str(pk)) for pk in ids))
    if len(ids) > TRIAGE_BULK_MAX:
        raise ValidationError(
            f"Select at most {TRIAGE_BULK_MAX} findings at a time.", code="too_many"
        )
    if status not in FindingStatus.values:
        raise ValidationError(f"“{status}” is not a finding status.", code="status")
    note = _check_note(note)
    result = BulkTriageResult()
    if not ids:
        return result
    mine = Finding.objects.for_tenant(tenant).filter(pk__in=ids)
    # Same lock order as ingest (by primary key) so the two never deadlock.
    assets = list(
        Asset.objects.for_tenant(tenant)
        .filter(pk__in=mine.values("asset_id"))
        .order_by("pk")
        .select_for_update()
    )
    findings = mine.only("id", "asset_id", "title", "severity", "status", "resolved_at", "metadata")
    changed, audited, moved_assets, now = [], [], set(), timezone.now()
    for finding in sorted(findings, key=lambda f: ids.index(f.pk)):  # report in given order
        refusal = triage_refusal(finding.status, status)
        if refusal:
            result.skipped.append((finding.pk, f"“{finding.title[:60]}”: {refusal}"))
            continue
        was_open = finding.is_open
        audited.append((finding, {"changes": {"status": [finding.status, status]}, "note": note}))
        _apply_triage(finding, status=status, note=note, by=by, now=now)
        if finding.is_open != was_open:
            moved_assets.add(finding.asset_id)
        changed.append(finding)
        result.updated.append(finding.pk)
    if changed:
        Finding.objects.bulk_update(changed, _TRIAGE_FIELDS)
        audit_record_many(tenant=tenant, by=by, action=AuditAction.FINDING_TRIAGED, entries=audited)
    if moved_assets:
        assets_refresh_stats(assets=[a for a in assets if a.pk in moved_assets])
    return result
