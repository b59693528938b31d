from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db import transaction

from findings.services import asset_get_or_create
from rediverio.models import Plan, Role, Tenant
from rediverio.services import membership_grant, tenant_create
from scans.services import system_profiles_install

DEMO_TENANT = "demo"
DEMO_USER = "demo"
DEMO_ASSET = "github.com/rediverio/demo-app"


class Command(BaseCommand):
    help = (
        "Create (or refresh) the demo tenant, its user, an asset and the system profiles. "
        "Idempotent. The password comes from DEMO_PASSWORD, else one is generated once."
    )

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            tenant = Tenant.objects.filter(slug=DEMO_TENANT).first() or tenant_create(
                slug=DEMO_TENANT, name="Demo Team", plan=Plan.BUSINESS
            )
            system_profiles_install(tenant=tenant)
            asset_get_or_create(
                tenant=tenant,
                identifier=DEMO_ASSET,
                asset_type="repository",
                name="Demo application",
            )
            user, created = User.objects.get_or_create(
                username=DEMO_USER, defaults={"email": "demo@example.com"}
            )
            password = self._password_for(user, created)
            membership_grant(tenant=tenant, user=user, role=Role.OWNER)

        self.stdout.write(f"Demo tenant: {tenant.name} ({tenant.slug})")
        if password:
            self.stdout.write(f"Demo login: {DEMO_USER} / {password}")
        else:
            self.stdout.write(
                f"Demo login: {DEMO_USER} (password unchanged; set DEMO_PASSWORD to reset it)"
            )

    def _password_for(self, user: User, created: bool) -> str | None:
        """The password to show: DEMO_PASSWORD (applied), else one generated when the
        user is created. The generated one is kept in var/ with owner-only permissions so
        a later `make run` can show it again, as long as nobody changed it since."""
        remembered = settings.VAR_DIR / "demo-password"
        wanted = os.environ.get("DEMO_PASSWORD")
        if not wanted and created:
            wanted = secrets.token_urlsafe(12)
            remembered.parent.mkdir(parents=True, exist_ok=True)
            remembered.touch(mode=0o600)
            remembered.write_text(wanted)
        if wanted:
            if created or not user.check_password(wanted):
                user.set_password(wanted)
                user.save(update_fields=["password"])
            return wanted
        if remembered.exists() and user.check_password(remembered.read_text().strip()):
            return remembered.read_text().strip()
        return None
