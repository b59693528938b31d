"""Rows the operator commands do not make, created in a topology's environment:

    python -m tests.ops.provision member --tenant acme --user alice --role admin
        a user (made when missing) and their membership of a tenant: `createapitoken`
        needs a member, and no operator command grants memberships;
    python -m tests.ops.provision soak --agents 50 --assets 12 --tools bandit,semgrep
        the soak's tenant, user, API token, agents and assets, in one process (fifty
        `createagent` runs would take a minute of interpreter start-ups); prints JSON.

It runs with Django set up on the topology's database (DJANGO_SETTINGS_MODULE and
DATABASE_URL come from the topology's environment), never in the test process.
"""

from __future__ import annotations

import argparse
import json
import secrets


def _member(*, tenant_slug: str, username: str, role: str):
    from django.contrib.auth.models import User

    from rediverio.models import Tenant
    from rediverio.services import membership_grant

    user, _ = User.objects.get_or_create(
        username=username, defaults={"email": f"{username}@example.invalid"}
    )
    if not user.has_usable_password():
        user.set_password(secrets.token_urlsafe(16))
        user.save(update_fields=["password"])
    membership_grant(tenant=Tenant.objects.get(slug=tenant_slug), user=user, role=role)
    return user


def member(args: argparse.Namespace) -> dict:
    user = _member(tenant_slug=args.tenant, username=args.user, role=args.role)
    return {"user": user.username, "tenant": args.tenant, "role": args.role}


def soak(args: argparse.Namespace) -> dict:
    from django.db import transaction

    from agents.services import agent_create
    from findings.services import asset_get_or_create
    from rediverio.models import Plan, Role
    from rediverio.services import api_token_create, tenant_create

    tools = [t for t in args.tools.split(",") if t]
    with transaction.atomic():
        tenant = tenant_create(slug=args.tenant, name="Soak", plan=Plan.ENTERPRISE)
        user = _member(tenant_slug=tenant.slug, username="soak", role=Role.ADMIN)
        _, token = api_token_create(tenant=tenant, user=user, name="soak")
        agents = []
        for index in range(args.agents):
            agent, key = agent_create(
                tenant=tenant,
                name=f"soak-agent-{index:02d}",
                capabilities=["sast"],
                tools=tools,
                max_concurrent_jobs=args.max_jobs,
            )
            agents.append({"id": str(agent.pk), "name": agent.name, "key": key})
        assets = []
        for index in range(args.assets):
            asset, _ = asset_get_or_create(
                tenant=tenant,
                identifier=f"github.com/soak/service-{index:02d}",
                asset_type="repository",
            )
            assets.append({"id": str(asset.pk), "identifier": asset.identifier})
    return {"tenant": str(tenant.pk), "token": token, "agents": agents, "assets": assets}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.ops.provision")
    actions = parser.add_subparsers(dest="action", required=True)
    granting = actions.add_parser("member")
    granting.add_argument("--tenant", required=True)
    granting.add_argument("--user", required=True)
    granting.add_argument("--role", default="member")
    granting.set_defaults(run=member)
    soaking = actions.add_parser("soak")
    soaking.add_argument("--tenant", default="soak")
    soaking.add_argument("--agents", type=int, default=50)
    soaking.add_argument("--assets", type=int, default=12)
    soaking.add_argument("--tools", default="bandit,semgrep")
    soaking.add_argument("--max-jobs", type=int, default=2)
    soaking.set_defaults(run=soak)
    args = parser.parse_args(argv)

    import django

    django.setup()
    print(json.dumps(args.run(args)))


if __name__ == "__main__":
    main()
