"""Give every existing tenant the system scan profiles (new tenants get them when
created: manage.py createtenant, seed_demo)."""

from __future__ import annotations

from django.db import migrations


def install(apps, schema_editor):
    from scans.profiles import SYSTEM_PROFILES

    Tenant = apps.get_model("rediverio", "Tenant")
    ScanProfile = apps.get_model("scans", "ScanProfile")
    for tenant in Tenant.objects.all():
        existing = ScanProfile.objects.filter(tenant=tenant)
        own_names = set(existing.filter(is_system=False).values_list("name", flat=True))
        has_default = existing.filter(is_default=True).exists()
        for definition in SYSTEM_PROFILES:
            if definition["name"] in own_names:
                continue
            fields = {k: v for k, v in definition.items() if k != "is_default"}
            _, created = ScanProfile.objects.update_or_create(
                tenant=tenant, name=definition["name"], defaults={**fields, "is_system": True}
            )
            if created and definition.get("is_default") and not has_default:
                ScanProfile.objects.filter(tenant=tenant, name=definition["name"]).update(
                    is_default=True
                )
                has_default = True


class Migration(migrations.Migration):
    dependencies = [("scans", "0003_scheduler_tick"), ("rediverio", "0002_apitoken")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
