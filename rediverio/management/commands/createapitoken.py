from __future__ import annotations

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from rediverio.models import Tenant
from rediverio.services import api_token_create


class Command(BaseCommand):
    help = "Issue a user's API token for one tenant. Prints it on its last line, once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, help="Tenant slug")
        parser.add_argument("--user", required=True, help="Username (a member of the tenant)")
        parser.add_argument("--name", default="cli", help="What the token is for")

    def handle(self, *args, tenant: str, user: str, name: str, **options) -> None:
        try:
            team = Tenant.objects.get(slug=tenant)
            member = User.objects.get(username=user)
            token, secret = api_token_create(tenant=team, user=member, name=name)
        except Tenant.DoesNotExist as exc:
            raise CommandError(f"--tenant: no tenant {tenant!r}") from exc
        except User.DoesNotExist as exc:
            raise CommandError(f"--user: no user {user!r}") from exc
        except ValueError as exc:
            raise CommandError(f"--user: {exc}") from exc
        self.stdout.write(f"Token {token.name} ({token.prefix}…) for {user} in {tenant}:")
        self.stdout.write(secret)
