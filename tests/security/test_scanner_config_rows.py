"""Trust boundary rows: who may set scanner settings that reach an agent's host.

A member could make an agent read any directory of its host through
`scanner_config.path` or a rules path, and see its files in findings (issue #13, item
6). One row per (write path, role, settings): every way the server writes a scan's
`scanner_config` or a profile tool's `options` — the API (session and token), its
create, replace, change and copy, the dashboard's wizard, the profiles API and pages —
says what happens. Host paths, rule files and raw flags are an admin's
(scans/scanner_config.py); the agent holds the same line on its side
(tests/agents/runtime/test_work_roots.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from django.test import TestCase
from django.urls import reverse
from rest_framework.test import APIClient

from rediverio.models import Role
from rediverio.services import api_token_create
from scans.models import Scan, ScanDraft, ScanProfile
from scans.profile_services import scan_profile_create
from scans.services import scan_create
from tests.factories import AssetFactory, MembershipFactory, TenantFactory

MEMBER, ADMIN, OWNER = Role.MEMBER, Role.ADMIN, Role.OWNER

HOST_PATH = {"path": "/etc"}
RULES_FILE = {"rules": "/home/agent/.ssh/id_rsa"}
RAW_FLAGS = {"args": ["--config", "/etc/shadow"]}
CHECKOUT = {"path": "/srv/checkouts/api"}
TUNING = {"severity": ["high"], "exclude": ["tests/**"], "rules": "python"}
KEEPS_CHECKOUT = {**CHECKOUT, "severity": "high"}


@dataclass(frozen=True)
class Outcome:
    status: int
    # The field a 400 names; stored settings when the write went through.
    refused: str = ""
    stored: dict | None = None


def refused(field: str) -> Outcome:
    return Outcome(400, refused=field)


def stored(config: dict, status: int = 200) -> Outcome:
    return Outcome(status, stored=config)


FORBIDDEN = Outcome(403)
NOT_ALLOWED = Outcome(405)


@dataclass(frozen=True)
class Row:
    path: str
    role: Role
    config: dict
    expect: Outcome


ROWS = [
    # The API: create (a session, and a token acting with its user's role).
    Row("api create", MEMBER, HOST_PATH, refused("scanner_config.path")),
    Row("api create", MEMBER, RULES_FILE, refused("scanner_config.rules")),
    Row("api create", MEMBER, RAW_FLAGS, refused("scanner_config.args")),
    Row("api create", MEMBER, TUNING, stored(TUNING, 201)),
    Row("api create", ADMIN, HOST_PATH, stored(HOST_PATH, 201)),
    Row("api create", OWNER, RAW_FLAGS, stored(RAW_FLAGS, 201)),
    Row("api create with a token", MEMBER, HOST_PATH, refused("scanner_config.path")),
    Row("api create with a token", ADMIN, HOST_PATH, stored(HOST_PATH, 201)),
    # The API: change a scan an admin pointed at a checkout on the agent.
    Row("api replace", MEMBER, HOST_PATH, refused("scanner_config.path")),
    Row("api replace", MEMBER, KEEPS_CHECKOUT, stored(KEEPS_CHECKOUT)),
    Row("api replace", ADMIN, HOST_PATH, stored(HOST_PATH)),
    Row("api change", MEMBER, RULES_FILE, refused("scanner_config.rules")),
    Row("api change", MEMBER, TUNING, refused("scanner_config.path")),  # drops the path
    Row("api change", MEMBER, KEEPS_CHECKOUT, stored(KEEPS_CHECKOUT)),
    Row("api change", OWNER, RULES_FILE, stored(RULES_FILE)),
    Row("api change with a token", MEMBER, HOST_PATH, refused("scanner_config.path")),
    # A copy keeps what the admin set: nothing new reaches the agent.
    Row("api copy", MEMBER, {}, stored(CHECKOUT, 201)),
    # The dashboard's wizard has no input for scanner settings: posted ones are dropped.
    Row("dashboard wizard", MEMBER, HOST_PATH, stored({}, 302)),
    Row("dashboard wizard", ADMIN, HOST_PATH, stored({}, 302)),
    # Profiles: the API is an admin's; its pages only show.
    Row("profile api create", MEMBER, HOST_PATH, FORBIDDEN),
    Row("profile api create", ADMIN, HOST_PATH, stored(HOST_PATH, 201)),
    Row("profile api change", MEMBER, RULES_FILE, FORBIDDEN),
    Row("profile api change", ADMIN, RULES_FILE, stored(RULES_FILE)),
    Row("profile page", MEMBER, HOST_PATH, NOT_ALLOWED),
    Row("profile page", ADMIN, HOST_PATH, NOT_ALLOWED),
]


class ScannerConfigRows(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory(plan="enterprise")
        cls.users = {
            role: MembershipFactory(tenant=cls.tenant, role=role).user
            for role in (MEMBER, ADMIN, OWNER)
        }
        cls.tokens = {
            role: api_token_create(tenant=cls.tenant, user=user, name="rows")[1]
            for role, user in cls.users.items()
        }
        cls.repo = AssetFactory(tenant=cls.tenant)

    def setUp(self):
        self.made = 0

    # ------------------------------------------------------------ the write paths

    def name(self) -> str:
        self.made += 1
        return f"row {self.made}"

    def client_of(self, role: Role, token: bool = False) -> APIClient:
        client = APIClient()
        if token:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.tokens[role]}")
        else:
            client.force_login(self.users[role])
        return client

    def scan_body(self, config: dict) -> dict:
        return {
            "name": self.name(),
            "scanner_name": "semgrep",
            "targets": [str(self.repo.pk)],
            "schedule_type": "manual",
            "scanner_config": config,
        }

    def admins_scan(self) -> Scan:
        return scan_create(
            tenant=self.tenant,
            by=self.users[ADMIN],
            targets=[self.repo],
            name=self.name(),
            scanner_name="semgrep",
            scanner_config=CHECKOUT,
        )

    def admins_profile(self) -> ScanProfile:
        return scan_profile_create(
            tenant=self.tenant,
            name=self.name(),
            tools_config={"semgrep": {"options": CHECKOUT}},
            by=self.users[ADMIN],
        )

    def api_create(self, row: Row, token: bool = False):
        response = self.client_of(row.role, token).post(
            "/api/v1/scans", self.scan_body(row.config), format="json"
        )
        made = Scan.objects.filter(pk=response.json().get("id")).first()
        return response, made.scanner_config if made else None

    def api_update(self, row: Row, method: str, token: bool = False):
        scan = self.admins_scan()
        client = self.client_of(row.role, token)
        if method == "put":
            body = {**self.scan_body(row.config), "name": scan.name}
            response = client.put(f"/api/v1/scans/{scan.pk}", body, format="json")
        else:
            body = {"scanner_config": row.config}
            response = client.patch(f"/api/v1/scans/{scan.pk}", body, format="json")
        scan.refresh_from_db()
        return response, scan.scanner_config

    def api_copy(self, row: Row):
        scan = self.admins_scan()
        response = self.client_of(row.role).post(f"/api/v1/scans/{scan.pk}/clone", {})
        return response, Scan.objects.get(pk=response.json()["id"]).scanner_config

    def wizard(self, row: Row):
        self.client.force_login(self.users[row.role])
        self.client.get(reverse("scans:new"))
        draft = ScanDraft.objects.filter(created_by=self.users[row.role]).latest("created_at")
        name = self.name()
        smuggled = {"scanner_config": json.dumps(row.config), **row.config}
        for step, data in (
            ("basic", {"name": name, "scan_type": "single", **smuggled}),
            ("targets", {"targets": [self.repo.pk], **smuggled}),
            ("options", {"scanner_name": "semgrep", "priority": "10", **smuggled}),
            ("schedule", {"schedule_type": "manual", "schedule_timezone": "UTC", **smuggled}),
        ):
            step_url = reverse(f"scans:wizard-{step}", args=[draft.pk])
            self.assertEqual(self.client.post(step_url, data).status_code, 302, step)
        response = self.client.post(reverse("scans:wizard-review", args=[draft.pk]), smuggled)
        return response, Scan.objects.get(tenant=self.tenant, name=name).scanner_config

    def profile_api_create(self, row: Row):
        body = {"name": self.name(), "tools_config": {"semgrep": {"options": row.config}}}
        response = self.client_of(row.role).post("/api/v1/scan-profiles", body, format="json")
        made = ScanProfile.objects.filter(pk=response.json().get("id")).first()
        return response, made.tools_config["semgrep"]["options"] if made else None

    def profile_api_change(self, row: Row):
        profile = self.admins_profile()
        body = {"tools_config": {"semgrep": {"options": row.config}}}
        response = self.client_of(row.role).patch(
            f"/api/v1/scan-profiles/{profile.pk}", body, format="json"
        )
        profile.refresh_from_db()
        return response, profile.tools_config["semgrep"]["options"]

    def profile_page(self, row: Row):
        profile = self.admins_profile()
        self.client.force_login(self.users[row.role])
        body = {"tools_config": json.dumps({"semgrep": {"options": row.config}})}
        response = self.client.post(reverse("profiles:detail", args=[profile.pk]), body)
        profile.refresh_from_db()
        return response, profile.tools_config["semgrep"]["options"]

    PATHS: dict[str, Callable] = {
        "api create": lambda self, row: self.api_create(row),
        "api create with a token": lambda self, row: self.api_create(row, token=True),
        "api replace": lambda self, row: self.api_update(row, "put"),
        "api change": lambda self, row: self.api_update(row, "patch"),
        "api change with a token": lambda self, row: self.api_update(row, "patch", token=True),
        "api copy": lambda self, row: self.api_copy(row),
        "dashboard wizard": lambda self, row: self.wizard(row),
        "profile api create": lambda self, row: self.profile_api_create(row),
        "profile api change": lambda self, row: self.profile_api_change(row),
        "profile page": lambda self, row: self.profile_page(row),
    }

    # ------------------------------------------------------------ the rows

    def test_every_write_path_is_in_the_table(self):
        self.assertEqual({row.path for row in ROWS}, set(self.PATHS))

    def test_each_row(self):
        for row in ROWS:
            with self.subTest(path=row.path, role=row.role, config=row.config):
                response, after = self.PATHS[row.path](self, row)
                expect = row.expect
                self.assertEqual(response.status_code, expect.status, response.content[:500])
                if expect.refused:
                    error = response.json()["error"]
                    self.assertEqual(error["code"], "VALIDATION_ERROR")
                    self.assertIn(expect.refused, error["details"])
                    self.assertIn(expect.refused, error["message"])
                if expect.stored is not None:
                    self.assertEqual(after, expect.stored)
                else:
                    # Refused: nothing was stored, nothing an admin set was changed.
                    self.assertIn(after, (None, CHECKOUT))

    def test_only_an_admins_path_reaches_the_agent(self):
        """What a member may not set never reaches a command's payload; what an admin
        set does, and the agent then confines it to its work roots."""
        member = self.client_of(MEMBER)
        refused_body = self.scan_body({**HOST_PATH, "severity": "high"})
        self.assertEqual(member.post("/api/v1/scans", refused_body, format="json").status_code, 400)
        scan = self.admins_scan()
        response = member.post(f"/api/v1/scans/{scan.pk}/trigger")
        self.assertEqual(response.status_code, 201, response.content)
        (command,) = scan.commands.all()
        self.assertEqual(command.payload["config"]["path"], CHECKOUT["path"])
