"""Writes on scans, scan profiles and scan sessions."""

from __future__ import annotations

from django.db import transaction

from rediverio.models import Tenant
from scans.models import ScanProfile
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
