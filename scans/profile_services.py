"""Writes on scan profiles: create, change, clone, delete, and the tenant's default.

System profiles (installed by `scans.services.system_profiles_install`) are read-only:
a team copies one to change it. Each tenant has at most one default profile; the
database enforces it, and these services switch the default in one transaction.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, cast

from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from rediverio.audit import audit_record, changes_between
from rediverio.errors import Conflict, InputInvalid, NotAllowed
from rediverio.models import AuditAction, Tenant
from scans.models import Intensity, Scan, ScanProfile
from scans.quality_gate import QualityGate
from scans.scanner_config import acting_role, tools_config_refusals

EDITABLE_FIELDS = frozenset(
    {
        "name",
        "description",
        "tools_config",
        "intensity",
        "max_concurrent_scans",
        "timeout_seconds",
        "tags",
        "quality_gate",
        "is_default",
    }
)
_name_length = ScanProfile._meta.get_field("name").max_length
assert _name_length is not None  # a CharField has one
NAME_MAX_LENGTH: int = _name_length


class ScanProfileNameTaken(InputInvalid):
    def __init__(self, name: str) -> None:
        super().__init__("name", f"A scan profile of this team is already named {name!r}.")


class ToolsConfigRefused(InputInvalid):
    """Tool options the caller's role may not set (scans/scanner_config.py), per field."""

    def __init__(self, refusals: dict[str, str]) -> None:
        field, why = next(iter(refusals.items()))
        super().__init__(field, why, {field: [why] for field, why in refusals.items()})
        self.refusals = refusals


def _check_tools_config(*, tenant: Tenant, by, tools_config, before: dict | None) -> None:
    if tools_config == (before or {}):
        return
    refusals = tools_config_refusals(tools_config, acting_role(tenant, by), before=before)
    if refusals:
        raise ToolsConfigRefused(refusals)


class SystemProfileReadOnly(NotAllowed):
    code = "SYSTEM_PROFILE"

    def __init__(self, profile: ScanProfile) -> None:
        super().__init__(
            f"{profile.name} is a system profile and read-only; clone it to change it."
        )


class ScanProfileInUse(Conflict):
    code = "PROFILE_IN_USE"

    def __init__(self, profile: ScanProfile, scan_names: list[str]) -> None:
        shown = ", ".join(scan_names[:5]) + (", …" if len(scan_names) > 5 else "")
        super().__init__(
            f"{profile.name} is used by {len(scan_names)} scan(s) ({shown}); "
            "move them to another profile first.",
            {"scans": scan_names},
        )
        self.scan_names = scan_names


def _lock_tenant(tenant: Tenant) -> None:
    # One profile write per tenant at a time: the name check and the default switch are
    # then free of races that would otherwise surface as IntegrityErrors (500s).
    Tenant.objects.select_for_update().filter(pk=tenant.pk).first()


def _ensure_name_free(*, tenant: Tenant, name: str, exclude: ScanProfile | None = None) -> None:
    clash = ScanProfile.objects.for_tenant(tenant).filter(name=name)
    if exclude is not None:
        clash = clash.exclude(pk=exclude.pk)
    if clash.exists():
        raise ScanProfileNameTaken(name)


def _clear_default(*, tenant: Tenant, keep: ScanProfile | None = None) -> None:
    # Before the new default is saved: the one-default constraint is not deferrable.
    others = ScanProfile.objects.for_tenant(tenant).filter(is_default=True)
    if keep is not None and keep.pk is not None:
        others = others.exclude(pk=keep.pk)
    others.update(is_default=False, updated_at=timezone.now())


def _gate_dict(quality_gate: QualityGate | Mapping[str, Any] | None) -> dict[str, Any]:
    if isinstance(quality_gate, QualityGate):
        return quality_gate.to_dict()
    return QualityGate.from_dict(quality_gate).to_dict()


@transaction.atomic
def scan_profile_create(
    *,
    tenant: Tenant,
    name: str,
    description: str = "",
    tools_config: dict[str, dict[str, Any]] | None = None,
    intensity: str = Intensity.MEDIUM,
    max_concurrent_scans: int = 5,
    timeout_seconds: int = 3600,
    tags: list[str] | None = None,
    quality_gate: QualityGate | Mapping[str, Any] | None = None,
    is_default: bool = False,
    by=None,
) -> ScanProfile:
    """Create a team's own profile; `is_default` takes the default from the old one."""
    _check_tools_config(tenant=tenant, by=by, tools_config=tools_config or {}, before=None)
    _lock_tenant(tenant)
    name = name.strip()
    _ensure_name_free(tenant=tenant, name=name)
    if is_default:
        _clear_default(tenant=tenant)
    profile = ScanProfile(
        tenant=tenant,
        name=name,
        description=description,
        tools_config=tools_config or {},
        intensity=intensity,
        max_concurrent_scans=max_concurrent_scans,
        timeout_seconds=timeout_seconds,
        tags=list(tags or []),
        quality_gate=_gate_dict(quality_gate),
        is_default=is_default,
        is_system=False,
    )
    profile.full_clean()
    profile.save()
    audit_record(tenant=tenant, by=by, action=AuditAction.PROFILE_CREATED, target=profile)
    return profile


@transaction.atomic
def scan_profile_update(
    *, profile: ScanProfile, changes: Mapping[str, Any], by=None
) -> ScanProfile:
    """Apply validated changes. `is_default: true` moves the default here; `false` on
    the default leaves the team without one."""
    if profile.is_system:
        raise SystemProfileReadOnly(profile)
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"not editable: {', '.join(sorted(unknown))}")
    if "tools_config" in changes:
        _check_tools_config(
            tenant=profile.tenant,
            by=by,
            tools_config=changes["tools_config"],
            before=profile.tools_config,
        )
    _lock_tenant(profile.tenant)
    changes = dict(changes)
    if "name" in changes:
        changes["name"] = changes["name"].strip()
        _ensure_name_free(tenant=profile.tenant, name=changes["name"], exclude=profile)
    if "quality_gate" in changes:
        changes["quality_gate"] = _gate_dict(changes["quality_gate"])
    if changes.get("is_default"):
        _clear_default(tenant=profile.tenant, keep=profile)
    before = {name: getattr(profile, name) for name in changes}
    for name, value in changes.items():
        setattr(profile, name, value)
    profile.full_clean()
    profile.save()
    _audit_changes(profile, by=by, changes=changes_between(before, changes))
    return profile


def _audit_changes(profile: ScanProfile, *, by, changes: dict) -> None:
    if changes:
        audit_record(
            tenant=profile.tenant,
            by=by,
            action=AuditAction.PROFILE_UPDATED,
            target=profile,
            details={"changes": changes},
        )


@transaction.atomic
def scan_profile_set_default(*, profile: ScanProfile, by=None) -> ScanProfile:
    """Make this the team's default profile. System profiles may be the default too:
    choosing one is the team's setting, not a change to the shipped profile."""
    _lock_tenant(profile.tenant)
    _clear_default(tenant=profile.tenant, keep=profile)
    if not profile.is_default:
        profile.is_default = True
        profile.save(update_fields=["is_default", "updated_at"])
        _audit_changes(profile, by=by, changes={"is_default": [False, True]})
    return profile


@transaction.atomic
def scan_profile_delete(*, profile: ScanProfile, by=None) -> None:
    if profile.is_system:
        raise SystemProfileReadOnly(profile)
    audit_record(tenant=profile.tenant, by=by, action=AuditAction.PROFILE_DELETED, target=profile)
    try:
        profile.delete()
    except ProtectedError as exc:  # Scan.profile is PROTECT, the only such reference
        names = sorted(scan.name for scan in cast("set[Scan]", exc.protected_objects))
        raise ScanProfileInUse(profile, names) from exc


def _copy_name(*, tenant: Tenant, name: str) -> str:
    """ "<name> (copy)", else "<name> (copy 2)", "(copy 3)"…, cut to fit the column."""
    taken = set(
        ScanProfile.objects.for_tenant(tenant)
        .filter(name__startswith=name[: NAME_MAX_LENGTH // 2])
        .values_list("name", flat=True)
    )
    n = 1
    while True:
        suffix = " (copy)" if n == 1 else f" (copy {n})"
        candidate = name[: NAME_MAX_LENGTH - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        n += 1


@transaction.atomic
def scan_profile_clone(*, profile: ScanProfile, name: str | None = None, by=None) -> ScanProfile:
    """A team-owned copy of any profile of the team, system ones included; never the
    default. Without a name it is "<name> (copy)", numbered when that is taken."""
    tenant = profile.tenant
    _lock_tenant(tenant)
    if name and name.strip():
        name = name.strip()
        _ensure_name_free(tenant=tenant, name=name)
    else:
        name = _copy_name(tenant=tenant, name=profile.name)
    # The copy keeps the tools' options as they were set: nothing new reaches an agent.
    clone = ScanProfile(
        tenant=tenant,
        name=name,
        description=profile.description,
        tools_config=copy.deepcopy(profile.tools_config),
        intensity=profile.intensity,
        max_concurrent_scans=profile.max_concurrent_scans,
        timeout_seconds=profile.timeout_seconds,
        tags=list(profile.tags),
        quality_gate=copy.deepcopy(profile.quality_gate),
        is_default=False,
        is_system=False,
    )
    clone.full_clean()
    clone.save()
    audit_record(
        tenant=tenant,
        by=by,
        action=AuditAction.PROFILE_CLONED,
        target=clone,
        details={"from": profile.name, "from_id": str(profile.pk)},
    )
    return clone
