from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from rediverio.lib.validation import describe_validation_error
from rediverio.models import Plan
from rediverio.services import tenant_create
from scans.services import system_profiles_install


class Command(BaseCommand):
    help = "Create a tenant (a team) with its plan and the system scan profiles."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="Short unique name, e.g. acme")
        parser.add_argument("--name", help="Display name (default: the slug)")
        parser.add_argument("--plan", choices=Plan.values, default=Plan.TEAM)
        parser.add_argument(
            "--agent-limit", type=int, help="Override the plan's agent limit (-1: unlimited)"
        )

    def handle(self, *args, slug: str, name: str | None, plan: str, agent_limit, **options):
        try:
            tenant = tenant_create(slug=slug, name=name or slug, plan=plan, agent_limit=agent_limit)
        except ValidationError as exc:
            raise CommandError(describe_validation_error(exc)) from exc
        system_profiles_install(tenant=tenant)
        self.stdout.write(f"Created tenant {tenant.slug} ({tenant.plan}) id={tenant.id}")
