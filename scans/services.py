"""Writes on scans, scan profiles and scan sessions."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from rediverio.models import Tenant
from scans.models import (
    FINAL_SESSION_STATUSES,
    ScanProfile,
    ScanSession,
    SessionStatus,
    TriggerType,
)
from scans.profiles import SYSTEM_PROFILES


@transaction.atomic
def system_profiles_install(*, tenant: Tenant) -> list[ScanProfile]:
    """Give a tenant the system profiles (idempotent: refreshes them on upgrade).

    The first system profile marked default becomes the tenant's default only when the
    tenant has none; a tenant profile that already bears a system name is left alone.
    """
    existing = ScanProfile.objects.for_tenant(tenant)
    has_default = existing.filter(is_default=True).exists()
    own_names = set(existing.filter(is_system=False).values_list("name", flat=True))
    profiles = []
    for definition in SYSTEM_PROFILES:
        if definition["name"] in own_names:
            continue  # the tenant's own profile of that name wins
        fields = {key: value for key, value in definition.items() if key != "is_default"}
        profile, created = ScanProfile.objects.update_or_create(
            tenant=tenant, name=definition["name"], defaults={**fields, "is_system": True}
        )
        if created and definition.get("is_default") and not has_default:
            profile.is_default = True
            profile.save(update_fields=["is_default"])
            has_default = True
        profiles.append(profile)
    return profiles


def session_for_ingest(
    *,
    tenant: Tenant,
    scan_id: str,
    scanner_name: str,
    agent=None,
    user=None,
    trigger: str = TriggerType.CI,
) -> ScanSession:
    """The session a report belongs to: the tenant's session named by `scan_id` (what
    agents put in the report's metadata), else a new standalone one for this report."""
    try:
        session_id = uuid.UUID(str(scan_id)) if scan_id else None
    except ValueError:
        session_id = None
    if session_id is not None:
        session = ScanSession.objects.for_tenant(tenant).filter(pk=session_id).first()
        if session is not None:
            return session
    return ScanSession.objects.create(
        tenant=tenant,
        agent=agent,
        created_by=user,
        trigger=trigger,
        scanner_name=scanner_name[:100],
        status=SessionStatus.RUNNING,
        started_at=timezone.now(),
    )


def session_record_ingest(
    *,
    session: ScanSession,
    counts: dict,
    tool_name: str,
    tool_version: str,
    asset,
    started_at=None,
    finished_at=None,
) -> ScanSession:
    """Add an ingest's counts to its session. A standalone session (no scan definition,
    created for this report) is complete once its report is stored."""
    session.scanner_name = session.scanner_name or tool_name[:100]
    session.scanner_version = tool_version[:100] or session.scanner_version
    if asset is not None and session.asset_id is None:
        session.asset = asset
        session.asset_type = asset.type
        session.asset_value = asset.identifier
    session.findings_total += counts["findings_total"]
    session.findings_new += counts["findings_created"]
    session.findings_fixed += counts["findings_fixed"]
    by_severity = dict(session.findings_by_severity)
    for severity, n in counts["by_severity"].items():
        by_severity[severity] = by_severity.get(severity, 0) + n
    session.findings_by_severity = by_severity
    if session.scan_id is None and session.status not in FINAL_SESSION_STATUSES:
        now = timezone.now()
        session.status = SessionStatus.COMPLETED
        session.started_at = started_at or session.started_at or now
        session.completed_at = (
            finished_at if finished_at and finished_at >= session.started_at else now
        )
        session.duration_ms = int(
            (session.completed_at - session.started_at).total_seconds() * 1000
        )
    session.save()
    return session
