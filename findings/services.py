"""Writes on assets, findings and components."""

from __future__ import annotations

from findings.models import Asset
from findings.rules.assets import normalize_asset
from rediverio.models import Tenant


def asset_get_or_create(
    *,
    tenant: Tenant,
    identifier: str,
    asset_type: str | None = None,
    name: str | None = None,
) -> tuple[Asset, bool]:
    """The tenant's asset for an identifier in any of its spellings (normalised first:
    `git@github.com:Org/Repo.git` and `github.com/org/repo` are one asset)."""
    normalized = normalize_asset(identifier, asset_type, name)
    return Asset.objects.get_or_create(
        tenant=tenant,
        type=normalized.type.value,
        identifier=normalized.identifier,
        defaults={
            "name": normalized.name,
            "provider": normalized.provider.value if normalized.provider else "",
        },
    )
