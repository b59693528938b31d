from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import time

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from agents.models import Agent, AgentKey
from agents.services import agent_create, agent_key_issue, agent_key_revoke
from findings.services import AssetLimitReached, asset_get_or_create
from rediverio.models import Plan, Role, Tenant
from rediverio.secrets import matching_secret
from rediverio.services import MemberLimitReached, membership_grant, tenant_create
from scans.models import Scan, ScanProfile
from scans.services import scan_create, system_profiles_install

DEMO_TENANT = "demo"
DEMO_USER = "demo"
DEMO_AGENT = "local-agent"
DEMO_SCAN = "Sample app SAST"
# The deliberately vulnerable project shipped in the repository, scanned by the local agent.
SAMPLE_APP = settings.BASE_DIR / "samples" / "vulnerable-app"


@contextmanager
def _plan_limits_as_errors() -> Iterator[None]:
    """A plan that refuses the demo's asset or user (its `max_assets`, `max_members`)."""
    try:
        yield
    except (AssetLimitReached, MemberLimitReached) as exc:
        raise CommandError(str(exc)) from exc


class Command(BaseCommand):
    help = (
        "Create (or refresh) the demo tenant, its user, the sample app asset, a scan of it, "
        "the system profiles and a local agent whose key is kept in var/local-agent.key. "
        "Idempotent. The password comes from DEMO_PASSWORD, else one is generated once."
    )

    def handle(self, *args, **options) -> None:
        with _plan_limits_as_errors(), transaction.atomic():
            tenant = Tenant.objects.filter(slug=DEMO_TENANT).first() or tenant_create(
                slug=DEMO_TENANT, name="Demo Team", plan=Plan.BUSINESS
            )
            system_profiles_install(tenant=tenant)
            sample, _ = asset_get_or_create(
                tenant=tenant,
                identifier=str(SAMPLE_APP),
                asset_type="repository",
                name="Sample vulnerable app",
            )
            if not Scan.objects.for_tenant(tenant).filter(name=DEMO_SCAN).exists():
                scan_create(
                    tenant=tenant,
                    name=DEMO_SCAN,
                    description="bandit and semgrep on the sample app, every night and on demand",
                    scan_type="workflow",
                    pipeline=[{"tools": ["bandit", "semgrep"], "continue_on_failure": True}],
                    profile=ScanProfile.objects.for_tenant(tenant).filter(is_default=True).first(),
                    schedule_type="daily",
                    schedule_time=time(3, 0),
                    targets=[sample],
                )
            self._local_agent_key(tenant)
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

    def _local_agent_key(self, tenant: Tenant) -> None:
        """The local agent `make run` starts, and its key in var/ (owner-only): a key is
        shown only once, so it is kept for the next `make run`, and replaced if lost."""
        key_file = settings.VAR_DIR / "local-agent.key"
        agent = Agent.objects.for_tenant(tenant).filter(name=DEMO_AGENT).first()
        if agent is None:
            agent, key = agent_create(
                tenant=tenant,
                name=DEMO_AGENT,
                tools=["bandit", "semgrep"],
                capabilities=["sast", "secrets"],
                max_concurrent_jobs=2,
            )
        else:
            keys = AgentKey.objects.for_tenant(tenant).filter(agent=agent).usable()
            kept = key_file.read_text().strip() if key_file.exists() else ""
            if kept and matching_secret(keys, kept) is not None:
                return
            for old in keys:
                agent_key_revoke(key=old)
            _, key = agent_key_issue(agent=agent)
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.touch(mode=0o600)
        key_file.write_text(key)

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
