"""Every endpoint and page, checked for authentication, role and tenant scoping.

One table per kind of caller says who may use each route: pages (a signed-in member of
a team, with the least role per method), the management API (a user's token or
session, same), the agent API (an agent's key) and the public routes. The tests walk the
URL resolver: a route added without an entry here fails `test_every_route_is_in_the_table`,
so nobody ships an endpoint whose access nobody decided.

For each entry, per method: no credentials are refused (pages send to sign-in, APIs
answer 401 in the error shape); the wrong kind of credential is refused; every role
below the least one is refused (403); the least role gets through; and for routes that
name a row, another team's row is a 404, exactly as a row that does not exist.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from axes.utils import reset as reset_login_failures
from django.conf import settings
from django.test import Client, TestCase, override_settings
from django.urls import URLPattern, URLResolver, get_resolver

from agents.models import Agent
from agents.queue import lease_commands
from agents.services import agent_create
from rediverio.models import Role
from rediverio.services import api_token_create
from tests.factories import (
    AgentFactory,
    AgentKeyFactory,
    AssetFactory,
    CommandFactory,
    FindingFactory,
    IngestFactory,
    MembershipFactory,
    ScanDraftFactory,
    ScanFactory,
    ScanProfileFactory,
    ScanSessionFactory,
    TenantFactory,
    UserFactory,
)

VIEWER, MEMBER, ADMIN, OWNER = Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER
ROLES = [VIEWER, MEMBER, ADMIN, OWNER]

# ------------------------------------------------------------------------- the table

# Dashboard pages: method -> the least role that may use it.
PAGES: dict[str, dict[str, Role]] = {
    "": {"GET": VIEWER},
    "scans/": {"GET": VIEWER},
    "scans/new/": {"GET": MEMBER},
    "scans/new/<uuid:draft_id>/basic/": {"GET": MEMBER, "POST": MEMBER},
    "scans/new/<uuid:draft_id>/targets/": {"GET": MEMBER, "POST": MEMBER},
    "scans/new/<uuid:draft_id>/options/": {"GET": MEMBER, "POST": MEMBER},
    "scans/new/<uuid:draft_id>/schedule/": {"GET": MEMBER, "POST": MEMBER},
    "scans/new/<uuid:draft_id>/schedule/preview/": {"GET": MEMBER},
    "scans/new/<uuid:draft_id>/review/": {"GET": MEMBER, "POST": MEMBER},
    "scans/<uuid:scan_id>/trigger/": {"POST": MEMBER},
    "scans/<uuid:scan_id>/pause/": {"POST": MEMBER},
    "scans/<uuid:scan_id>/activate/": {"POST": MEMBER},
    "scans/<uuid:scan_id>/delete/": {"POST": MEMBER},
    "scans/runs/": {"GET": VIEWER},
    # The session sheet's former address: a permanent redirect, behind the page's checks.
    "scans/runs/<uuid:session_id>/": {"GET": VIEWER},
    "scans/sessions/<uuid:session_id>/": {"GET": VIEWER},
    "scans/sessions/<uuid:session_id>/stop/": {"POST": MEMBER},
    "scans/sessions/<uuid:session_id>/retry/": {"POST": MEMBER},
    "findings/": {"GET": VIEWER},
    "findings/triage/": {"POST": MEMBER},
    "findings/<uuid:finding_id>/": {"GET": VIEWER},
    "findings/<uuid:finding_id>/triage/": {"POST": MEMBER},
    "agents/": {"GET": VIEWER},
    "agents/register/": {"POST": ADMIN},
    "agents/<uuid:agent_id>/": {"GET": VIEWER},
    "agents/<uuid:agent_id>/disable/": {"POST": ADMIN},
    "agents/<uuid:agent_id>/enable/": {"POST": ADMIN},
    "agents/<uuid:agent_id>/revoke/": {"POST": ADMIN},
    "assets/": {"GET": VIEWER},
    "assets/<uuid:asset_id>/": {"GET": VIEWER},
    "profiles/": {"GET": VIEWER},
    "profiles/<uuid:profile_id>/": {"GET": VIEWER},
    "audit/": {"GET": ADMIN},
}

# The management API (a user's `rdu_` token, or the dashboard's session).
USER_API: dict[str, dict[str, Role]] = {
    "api/v1/agents": {"GET": VIEWER, "POST": ADMIN},
    "api/v1/agents/<uuid:agent_id>": {"GET": VIEWER, "PUT": ADMIN, "PATCH": ADMIN, "DELETE": ADMIN},
    "api/v1/agents/<uuid:agent_id>/keys": {"GET": VIEWER, "POST": ADMIN},
    "api/v1/agents/<uuid:agent_id>/keys/<uuid:key_id>": {"DELETE": ADMIN},
    "api/v1/ingest/upload": {"POST": MEMBER},
    "api/v1/ingest/<uuid:ingest_id>": {"GET": VIEWER},
    "api/v1/scans": {"GET": VIEWER, "POST": MEMBER},
    "api/v1/scans/stats": {"GET": VIEWER},
    "api/v1/scans/schedule-preview": {"POST": VIEWER},
    "api/v1/scans/<uuid:scan_id>": {
        "GET": VIEWER,
        "PUT": MEMBER,
        "PATCH": MEMBER,
        "DELETE": MEMBER,
    },
    "api/v1/scans/<uuid:scan_id>/trigger": {"POST": MEMBER},
    "api/v1/scans/<uuid:scan_id>/pause": {"POST": MEMBER},
    "api/v1/scans/<uuid:scan_id>/activate": {"POST": MEMBER},
    "api/v1/scans/<uuid:scan_id>/disable": {"POST": MEMBER},
    "api/v1/scans/<uuid:scan_id>/clone": {"POST": MEMBER},
    "api/v1/scans/<uuid:scan_id>/runs": {"GET": VIEWER},
    "api/v1/scan-sessions/<uuid:session_id>": {"GET": VIEWER},
    "api/v1/scan-sessions/<uuid:session_id>/stop": {"POST": MEMBER},
    "api/v1/scan-sessions/<uuid:session_id>/retry": {"POST": MEMBER},
    "api/v1/scan-profiles": {"GET": VIEWER, "POST": ADMIN},
    "api/v1/scan-profiles/<uuid:profile_id>": {
        "GET": VIEWER,
        "PUT": ADMIN,
        "PATCH": ADMIN,
        "DELETE": ADMIN,
    },
    "api/v1/scan-profiles/<uuid:profile_id>/clone": {"POST": ADMIN},
    "api/v1/scan-profiles/<uuid:profile_id>/quality-gate": {"PUT": ADMIN},
    "api/v1/scan-profiles/<uuid:profile_id>/evaluate-quality-gate": {"POST": VIEWER},
}

# The agent API (an agent's `rdv_` key): the methods it answers.
AGENT_API: dict[str, tuple[str, ...]] = {
    "api/v1/agent/heartbeat": ("POST",),
    "api/v1/agent/commands": ("GET",),
    "api/v1/agent/commands/<uuid:command_id>/acknowledge": ("POST",),
    "api/v1/agent/commands/<uuid:command_id>/ack": ("POST",),
    "api/v1/agent/commands/<uuid:command_id>/start": ("POST",),
    "api/v1/agent/commands/<uuid:command_id>/progress": ("POST",),
    "api/v1/agent/commands/<uuid:command_id>/complete": ("POST",),
    "api/v1/agent/commands/<uuid:command_id>/fail": ("POST",),
    "api/v1/agent/ingest": ("POST",),
    "api/v1/agent/ingest/ris": ("POST",),
    "api/v1/agent/ingest/sarif": ("POST",),
    "api/v1/agent/ingest/check": ("POST",),
    "api/v1/agent/ingest/chunk": ("POST",),
    "api/v1/agent/ingest/<uuid:ingest_id>": ("GET",),
}

# Valid bodies where an empty one is refused before the row is looked up.
AGENT_BODIES = {"api/v1/agent/commands/<uuid:command_id>/progress": {"percent": 10}}

# Open to anyone, on purpose: sign-in, load balancer probes, the API's documentation.
PUBLIC = {"login/", "healthz", "readyz", "api/schema/", "api/docs/"}

# Routes with rules of their own, each tested where the rule lives.
OWN_RULES = {
    "logout/": "a POST that ends the session; harmless signed out",
    "team/": "signed in; only a team of one's own (tested below)",
    "metrics": "bearer METRICS_TOKEN; loopback only with DEBUG on (TrustBoundaries below)",
    "admin/": "Django's admin: staff only, tenant-scoped (tests/rediverio/test_admin.py)",
}


def all_routes() -> set[str]:
    """Every route of the project, as its pattern (the admin counted once)."""

    def walk(patterns, prefix: str):
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                if route == "admin/":
                    yield route
                else:
                    yield from walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern):
                yield route

    return set(walk(get_resolver().url_patterns, ""))


# ---------------------------------------------------------------------- the fixtures


@dataclass
class Team:
    """A team with one user per role, their API tokens, an agent and its key."""

    tenant: Any
    users: dict[Role, Any]
    tokens: dict[Role, str]
    agent: Any
    agent_key: str

    @classmethod
    def create(cls, name: str) -> Team:
        tenant = TenantFactory(name=name, plan="enterprise")
        users, tokens = {}, {}
        for role in ROLES:
            user = MembershipFactory(tenant=tenant, role=role).user
            users[role] = user
            tokens[role] = api_token_create(tenant=tenant, user=user, name="suite")[1]
        agent, key = agent_create(tenant=tenant, name=f"{name}-agent", tools=["semgrep"])
        # Room for every command the suite leases to it.
        Agent.objects.filter(pk=agent.pk).update(max_concurrent_jobs=10_000)
        agent.refresh_from_db()
        return cls(tenant, users, tokens, agent, key)


def row_for(param: str, team: Team, user) -> str:
    """A fresh row of `team` for a route's path parameter, as it appears in the URL."""
    tenant = team.tenant
    makers: dict[str, Callable[[], Any]] = {
        "scan_id": lambda: ScanFactory(tenant=tenant),
        "session_id": lambda: ScanSessionFactory(tenant=tenant, status="completed"),
        "finding_id": lambda: FindingFactory(tenant=tenant),
        "asset_id": lambda: AssetFactory(tenant=tenant),
        "agent_id": lambda: AgentFactory(tenant=tenant),
        "profile_id": lambda: ScanProfileFactory(tenant=tenant),
        "draft_id": lambda: ScanDraftFactory(tenant=tenant, created_by=user),
        "ingest_id": lambda: IngestFactory(tenant=tenant, agent=team.agent),
        "command_id": lambda: _leased_command(team),
    }
    return str(makers[param]().pk)


def _leased_command(team: Team):
    command = CommandFactory(tenant=team.tenant, payload={"scanner": "semgrep", "target": "."})
    (leased,) = lease_commands(agent=team.agent, limit=1)
    assert leased.pk == command.pk
    return command


def path_for(route: str, team: Team, user, *, key_agent=None) -> str:
    """The route with every parameter filled by a row of `team`."""

    def fill(match: re.Match) -> str:
        param = match.group(1)
        if param == "key_id":
            return str(AgentKeyFactory(tenant=team.tenant, agent=key_agent).pk)
        return row_for(param, team, user)

    # agents/<agent_id>/keys/<key_id>: the key belongs to the agent in the same URL.
    if "<uuid:key_id>" in route:
        agent = AgentFactory(tenant=team.tenant)
        route = route.replace("<uuid:agent_id>", str(agent.pk))
        key_agent = agent
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", fill, route)


def has_rows(route: str) -> bool:
    return "<" in route


REFUSED_PAGE = (302, 403)


@override_settings(AGENT_RATE_LIMIT="100000/s", SCAN_TRIGGER_RATE="100000/min")
class EveryEndpoint(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.ours = Team.create("ours")
        cls.theirs = Team.create("theirs")
        cls.teamless = UserFactory()

    # ------------------------------------------------------------------ completeness

    def test_every_route_is_in_the_table(self):
        declared = set(PAGES) | set(USER_API) | set(AGENT_API) | PUBLIC | set(OWN_RULES)
        routes = all_routes()
        self.assertEqual(
            routes - declared, set(), "new routes: decide who may use them in this table"
        )
        self.assertEqual(declared - routes, set(), "the table names routes that are gone")
        tables = [set(PAGES), set(USER_API), set(AGENT_API), PUBLIC, set(OWN_RULES)]
        self.assertEqual(sum(map(len, tables)), len(declared), "a route is in two tables")

    # --------------------------------------------------------------------------- pages

    def page(self, method: str, path: str, user=None) -> Any:
        client = Client()
        if user is not None:
            client.force_login(user)
        return getattr(client, method.lower())(path)

    def test_pages_send_visitors_to_sign_in(self):
        for route, methods in PAGES.items():
            for method in methods:
                with self.subTest(route=route, method=method):
                    path = path_for(route, self.ours, self.ours.users[OWNER])
                    response = self.page(method, path)
                    self.assertEqual(response.status_code, 302)
                    self.assertTrue(response["Location"].startswith("/login/"), response)

    def test_pages_refuse_people_without_a_team(self):
        for route, methods in PAGES.items():
            for method in methods:
                with self.subTest(route=route, method=method):
                    path = path_for(route, self.ours, self.teamless)
                    self.assertEqual(self.page(method, path, self.teamless).status_code, 403)

    def test_pages_refuse_roles_below_the_least_one(self):
        for route, methods in PAGES.items():
            for method, least in methods.items():
                for role in ROLES[: ROLES.index(least)]:
                    with self.subTest(route=route, method=method, role=role):
                        user = self.ours.users[role]
                        response = self.page(method, path_for(route, self.ours, user), user)
                        self.assertEqual(response.status_code, 403)

    def test_pages_let_the_least_role_in(self):
        for route, methods in PAGES.items():
            for method, least in methods.items():
                with self.subTest(route=route, method=method, role=least):
                    user = self.ours.users[least]
                    response = self.page(method, path_for(route, self.ours, user), user)
                    self.assertNotIn(response.status_code, (403, 404, 405), response)
                    self.assertFalse(response.get("Location", "").startswith("/login/"))

    def test_pages_treat_another_teams_rows_as_missing(self):
        for route, methods in PAGES.items():
            if not has_rows(route):
                continue
            for method in methods:
                with self.subTest(route=route, method=method):
                    owner = self.ours.users[OWNER]
                    path = path_for(route, self.theirs, self.theirs.users[OWNER])
                    self.assertEqual(self.page(method, path, owner).status_code, 404)

    def test_forms_need_the_csrf_token(self):
        for route, methods in PAGES.items():
            if "POST" not in methods:
                continue
            with self.subTest(route=route):
                client = Client(enforce_csrf_checks=True)
                owner = self.ours.users[OWNER]
                client.force_login(owner)
                response = client.post(path_for(route, self.ours, owner))
                self.assertEqual(response.status_code, 403)
                self.assertContains(response, "CSRF", status_code=403)

    def test_switching_team_only_to_ones_own(self):
        owner = self.ours.users[OWNER]
        self.client.force_login(owner)
        refused = self.client.post("/team/", {"tenant": str(self.theirs.tenant.pk)})
        self.assertEqual(refused.status_code, 403)
        self.assertEqual(
            self.client.post("/team/", {"tenant": str(self.ours.tenant.pk)}).status_code, 302
        )
        self.client.logout()
        self.assertTrue(self.client.post("/team/")["Location"].startswith("/login/"))

    # ------------------------------------------------------------- management API

    def api(self, method: str, path: str, *, token: str | None = None, body=None) -> Any:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        if method == "GET":
            return Client().get(path, **headers)
        return getattr(Client(), method.lower())(
            path, data=json.dumps(body or {}), content_type="application/json", **headers
        )

    def agent_call(self, route: str, method: str, team: Team, token: str | None) -> Any:
        path = path_for(route, team, None)
        return self.api(method, path, token=token, body=AGENT_BODIES.get(route))

    def assertError(self, response, status: int, code: str | None = None) -> None:
        self.assertEqual(response.status_code, status, response.content[:300])
        error = response.json()["error"]
        self.assertEqual(set(error), {"code", "message", "details"})
        if code:
            self.assertEqual(error["code"], code)

    def test_the_management_api_wants_a_user(self):
        for route, methods in USER_API.items():
            for method in methods:
                path = path_for(route, self.ours, self.ours.users[OWNER])
                with self.subTest(route=route, method=method, credential="none"):
                    self.assertError(self.api(method, path), 401)
                with self.subTest(route=route, method=method, credential="agent key"):
                    self.assertError(self.api(method, path, token=self.ours.agent_key), 401)
                with self.subTest(route=route, method=method, credential="forged token"):
                    self.assertError(self.api(method, path, token="rdu_" + "x" * 43), 401)

    def test_the_management_api_refuses_roles_below_the_least_one(self):
        for route, methods in USER_API.items():
            for method, least in methods.items():
                for role in ROLES[: ROLES.index(least)]:
                    with self.subTest(route=route, method=method, role=role):
                        path = path_for(route, self.ours, self.ours.users[role])
                        response = self.api(method, path, token=self.ours.tokens[role])
                        self.assertError(response, 403, "FORBIDDEN")

    def test_the_management_api_lets_the_least_role_in(self):
        for route, methods in USER_API.items():
            for method, least in methods.items():
                with self.subTest(route=route, method=method, role=least):
                    path = path_for(route, self.ours, self.ours.users[least])
                    response = self.api(method, path, token=self.ours.tokens[least])
                    self.assertNotIn(response.status_code, (401, 403, 404, 405), response.content)

    def test_the_management_api_treats_another_teams_rows_as_missing(self):
        for route, methods in USER_API.items():
            if not has_rows(route):
                continue
            for method in methods:
                with self.subTest(route=route, method=method):
                    path = path_for(route, self.theirs, self.theirs.users[OWNER])
                    response = self.api(method, path, token=self.ours.tokens[OWNER])
                    self.assertError(response, 404)

    def test_a_token_acts_only_in_its_own_team(self):
        # A token of ours, used by a member of both teams, still sees only our scans.
        both = self.ours.users[OWNER]
        MembershipFactory(tenant=self.theirs.tenant, user=both, role="owner")
        theirs = ScanFactory(tenant=self.theirs.tenant)
        response = self.api("GET", f"/api/v1/scans/{theirs.pk}", token=self.ours.tokens[OWNER])
        self.assertError(response, 404)

    # ------------------------------------------------------------------- agent API

    def test_the_agent_api_wants_a_live_agent_key(self):
        revoked_agent, revoked_key = agent_create(tenant=self.ours.tenant, name="revoked")
        revoked_agent.status = "revoked"
        revoked_agent.save()
        for route, methods in AGENT_API.items():
            for method in methods:
                for credential, token in (
                    ("none", None),
                    ("user token", self.ours.tokens[OWNER]),
                    ("forged key", "rdv_" + "x" * 43),
                ):
                    with self.subTest(route=route, method=method, credential=credential):
                        self.assertError(self.agent_call(route, method, self.ours, token), 401)
                with self.subTest(route=route, method=method, credential="revoked agent"):
                    # A real key of a revoked agent: known, and refused for what it is.
                    response = self.agent_call(route, method, self.ours, revoked_key)
                    self.assertError(response, 403, "FORBIDDEN")

    def test_the_agent_api_lets_its_agent_in(self):
        for route, methods in AGENT_API.items():
            for method in methods:
                with self.subTest(route=route, method=method):
                    response = self.agent_call(route, method, self.ours, self.ours.agent_key)
                    self.assertNotIn(response.status_code, (401, 403, 404, 405), response.content)

    def test_the_agent_api_treats_another_teams_rows_as_missing(self):
        for route, methods in AGENT_API.items():
            if not has_rows(route):
                continue
            for method in methods:
                with self.subTest(route=route, method=method):
                    response = self.agent_call(route, method, self.theirs, self.ours.agent_key)
                    self.assertError(response, 404)

    # ----------------------------------------------------------------------- public

    def test_public_routes_need_nothing(self):
        for route in sorted(PUBLIC):
            with self.subTest(route=route):
                response = Client().get("/" + route)
                # /readyz may say "not ready" (503): that is its answer, not a refusal.
                self.assertIn(response.status_code, (200, 503))


# ------------------------------------------------------------------ trust boundaries

# What an outsider controls (the peer address a same-host proxy makes loopback, headers,
# the number of attempts) must not widen access. Each row: a name, the settings it runs
# under, the requests a caller sends (method, path, data, headers), and the status the
# last one must get. Sign-in rows send LIMIT failures first.
LIMIT = 5
LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}
TRUST_BOUNDARIES: list[tuple[str, dict, list[tuple[str, str, dict, dict]], int]] = [
    (
        "metrics from loopback without a token, DEBUG off",
        {"METRICS_TOKEN": "", "DEBUG": False},
        [("GET", "/metrics", {}, LOOPBACK)],
        403,
    ),
    (
        "metrics through a same-host proxy without a token, DEBUG off",
        {"METRICS_TOKEN": "", "DEBUG": False},
        [("GET", "/metrics", {}, {**LOOPBACK, "HTTP_X_FORWARDED_FOR": "203.0.113.9"})],
        403,
    ),
    (
        "metrics from loopback with a token set but not sent",
        {"METRICS_TOKEN": "s3cret"},
        [("GET", "/metrics", {}, LOOPBACK)],
        401,
    ),
    (
        "metrics with a wrong bearer",
        {"METRICS_TOKEN": "s3cret"},
        [("GET", "/metrics", {}, {"HTTP_AUTHORIZATION": "Bearer s3cret-not"})],
        401,
    ),
    (
        "metrics with the right bearer",
        {"METRICS_TOKEN": "s3cret"},
        [("GET", "/metrics", {}, {"HTTP_AUTHORIZATION": "Bearer s3cret"})],
        200,
    ),
    (
        "the right password after the limit of failures, dashboard sign-in",
        {},
        [("POST", "/login/", {"username": "{user}", "password": "wrong"}, {})] * LIMIT
        + [("POST", "/login/", {"username": "{user}", "password": "{password}"}, {})],
        429,
    ),
    (
        "the right password after the limit of failures, admin login",
        {},
        [("POST", "/admin/login/", {"username": "{user}", "password": "wrong"}, {})] * LIMIT
        + [("POST", "/admin/login/", {"username": "{user}", "password": "{password}"}, {})],
        429,
    ),
    (
        "a fresh X-Forwarded-For for every guess from one address",
        {},
        [
            (
                "POST",
                "/login/",
                {"username": f"guess{n}", "password": "x"},
                {"HTTP_X_FORWARDED_FOR": f"10.9.0.{n}"},
            )
            for n in range(LIMIT)
        ]
        + [("POST", "/login/", {"username": "{user}", "password": "{password}"}, {})],
        429,
    ),
]


class TrustBoundaries(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.staff = UserFactory(is_staff=True, is_superuser=True)

    def send(self, client: Client, method: str, path: str, data: dict, headers: dict):
        filled = {
            key: value.format(user=self.staff.username, password="correct horse battery")
            for key, value in data.items()
        }
        headers = {"REMOTE_ADDR": "198.51.100.20", **headers}
        return getattr(client, method.lower())(path, filled, **headers)

    def test_each_trust_boundary_holds(self):
        self.assertEqual(LIMIT, settings.AXES_FAILURE_LIMIT)
        for name, overrides, requests, expected in TRUST_BOUNDARIES:
            with self.subTest(name), override_settings(**overrides):
                client = Client()
                for method, path, data, headers in requests:
                    response = self.send(client, method, path, data, headers)
                self.assertEqual(response.status_code, expected, response.content[:300])
                # A row's failures must not lock the next row out: they are rows in the
                # database, cleared as a new attempt history would start.
                reset_login_failures()

    def test_an_unsafe_request_id_is_never_echoed(self):
        for given in ("<script>", "a b", "x" * 65, "ok-id\n"):
            with self.subTest(given=given):
                response = Client().get("/healthz", HTTP_X_REQUEST_ID=given)
                self.assertNotEqual(response["X-Request-ID"], given)
                self.assertRegex(response["X-Request-ID"], r"^[0-9a-f]{32}$")

    @override_settings(SCAN_TRIGGER_RATE="1/min")
    def test_the_dashboard_trigger_shares_the_api_trigger_limit(self):
        team = TenantFactory(plan="team")
        member = MembershipFactory(tenant=team, role="member").user
        scan = ScanFactory(tenant=team)
        scan.targets.set([AssetFactory(tenant=team)])
        page = Client()
        page.force_login(member)
        page.post(f"/scans/{scan.pk}/trigger/")
        api = Client()
        api.force_login(member)
        response = api.post(f"/api/v1/scans/{scan.pk}/trigger")
        self.assertEqual(response.status_code, 429)
        self.assertEqual(response.json()["error"]["code"], "RATE_LIMITED")


def _chunk(report_id: str, index: int, total: int) -> bytes:
    return json.dumps(
        {
            "report_id": report_id,
            "chunk_index": index,
            "total_chunks": total,
            "data": "e30=",  # "{}"
        }
    ).encode()


_DENSE = gzip.compress(b'{"version":"1.0","findings":[' + b",".join([b"{}"] * 6_300_000) + b"]}")
CHUNK = "/api/v1/agent/ingest/chunk"
# (name, settings, requests as (path, body, headers), status and error code of the last)
RESOURCE_BOUNDARIES: list[tuple[str, dict, list[tuple[str, bytes, dict]], int, str]] = [
    (
        "19 MB of empty findings in 19 KB of gzip",
        {},
        [("/api/v1/agent/ingest/ris", _DENSE, {"HTTP_CONTENT_ENCODING": "gzip"})],
        413,
        "PAYLOAD_TOO_LARGE",
    ),
    (
        "a report declaring more than INGEST_MAX_BYTES",
        {"INGEST_MAX_BYTES": 4096},
        [("/api/v1/agent/ingest", b"{}", {"CONTENT_LENGTH": "4097"})],
        413,
        "PAYLOAD_TOO_LARGE",
    ),
    (
        "a heartbeat declaring more than AGENT_MESSAGE_MAX_BYTES",
        {"AGENT_MESSAGE_MAX_BYTES": 4096},
        [("/api/v1/agent/heartbeat", b"{}", {"CONTENT_LENGTH": "4097"})],
        413,
        "PAYLOAD_TOO_LARGE",
    ),
    (
        "a report id changing its total_chunks midway",
        {},
        [(CHUNK, _chunk("r", 0, 3), {}), (CHUNK, _chunk("r", 1, 2), {})],
        400,
        "VALIDATION_ERROR",
    ),
    (
        "more reports half sent than INGEST_AGENT_OPEN_REPORTS",
        {"INGEST_AGENT_OPEN_REPORTS": 1},
        [(CHUNK, _chunk("a", 0, 2), {}), (CHUNK, _chunk("b", 0, 2), {})],
        429,
        "RATE_LIMITED",
    ),
]


class ResourceBoundaries(TestCase):
    """What an agent may make the server hold (protocol/limits.py, ingest/chunks.py)."""

    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory(plan="team")

    def test_each_resource_boundary_holds(self):
        for number, (name, overrides, requests, expected, code) in enumerate(RESOURCE_BOUNDARIES):
            with self.subTest(name), override_settings(**overrides):
                _, key = agent_create(tenant=self.tenant, name=f"boundary-{number}")
                client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
                for path, body, headers in requests:
                    response = client.post(path, body, content_type="application/json", **headers)
                self.assertEqual(response.status_code, expected, response.content[:300])
                self.assertEqual(response.json()["error"]["code"], code)

    @override_settings(INGEST_MAX_BYTES=1024)
    def test_an_upload_declaring_more_than_the_limit_is_refused_unread(self):
        member = MembershipFactory(tenant=self.tenant, role="member").user
        client = Client()
        client.force_login(member)
        response = client.post(
            "/api/v1/ingest/upload", {"format": "sarif"}, CONTENT_LENGTH=str(1 << 30)
        )
        self.assertEqual(response.status_code, 413, response.content[:300])
