from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from agents.models import AgentType
from agents.services import AgentLimitReached, agent_create
from rediverio.lib.validation import describe_validation_error
from rediverio.models import Tenant


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _labels(value: str) -> dict[str, str]:
    labels = {}
    for pair in _csv(value):
        key, sep, val = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--labels: {pair!r} is not key=value")
        labels[key.strip()] = val.strip()
    return labels


class Command(BaseCommand):
    help = "Register an agent for a tenant. Prints its API key on the last line, once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, help="Tenant slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--type", choices=AgentType.values, default=AgentType.WORKER)
        parser.add_argument("--capabilities", default="", help="e.g. sast,secrets")
        parser.add_argument("--tools", default="", help="e.g. bandit,semgrep")
        parser.add_argument("--labels", default="", help="e.g. region=eu,pool=ci")
        parser.add_argument("--max-jobs", type=int, default=5)

    def handle(self, *args, **options) -> None:
        try:
            tenant = Tenant.objects.get(slug=options["tenant"])
        except Tenant.DoesNotExist as exc:
            raise CommandError(f"--tenant: no tenant with slug {options['tenant']!r}") from exc
        try:
            agent, key = agent_create(
                tenant=tenant,
                name=options["name"],
                type=options["type"],
                capabilities=_csv(options["capabilities"]),
                tools=_csv(options["tools"]),
                labels=_labels(options["labels"]),
                max_concurrent_jobs=options["max_jobs"],
            )
        except AgentLimitReached as exc:
            raise CommandError(str(exc)) from exc
        except ValidationError as exc:
            raise CommandError(describe_validation_error(exc)) from exc
        self.stdout.write(f"Created agent {agent.name} id={agent.id} for tenant {tenant.slug}")
        self.stdout.write("Its API key follows; it is shown only this once:")
        self.stdout.write(key)
