"""Schemathesis fuzzes every operation of /api/schema/ (issue #8): no 5xx, and every
reply (status code, content type, body) is one the schema documents.

Each operation is one pytest item. It runs against one team holding a bit of
everything (an asset and its findings, a profile, a scan with a finished and a running
session, an agent with commands in each held state, a stored ingest), with valid
credentials of the kind the operation's security scheme names: the agent's key for the
agent protocol, a team admin's API token for the management API. Path parameters and
the ids inside bodies mostly name those rows, so the fuzzer gets past the 404s and
the "no such asset" 400s to the code behind them. Every request runs in a savepoint
that is rolled back: each example sees the same rows (a DELETE does not starve the
examples after it).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field

import pytest
import schemathesis
from django.conf import settings
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections, transaction
from django.test import TestCase
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from agents import queue
from agents.services import agent_create
from ingest.services import ingest_submit
from rediverio.services import api_token_create
from rediverio.wsgi import application
from scans.services import system_profiles_install
from tests.factories import (
    AssetFactory,
    FindingFactory,
    MembershipFactory,
    ScanFactory,
    ScanProfileFactory,
    ScanSessionFactory,
    TenantFactory,
)
from tests.properties.strategies import BOUNDARY

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Moderate and deterministic: CI runs the whole suite twice (PostgreSQL, then SQLite)
# on two cores. Per operation: its documented examples, the coverage phase's boundary
# cases of valid input (each enum value, shortest and longest strings, smallest and
# largest numbers…), then MAX_EXAMPLES random cases, valid and invalid, JSON and forms.
# About 2,500 requests in all, a minute or so per database.
MAX_EXAMPLES = 30

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
# We send the credentials ourselves (valid ones; auth failures have their own tests).
schema.config.generation.update(with_security_parameters=False)
# The coverage phase's invalid cases would more than double the run, and are mostly
# wrong JSON types, which DRF's fields refuse alike; the fuzzing phase still sends
# invalid input of every kind.
schema.config.phases.coverage.generation.update(modes=[GenerationMode.POSITIVE])


@dataclass
class World:
    """The team's rows and secrets, made afresh for each operation."""

    agent_key: str = ""
    user_token: str = ""
    # Path parameter (or body field) name → ids of real rows of the team.
    ids: dict[str, list[str]] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)

    def headers(self, case) -> dict[str, str]:
        schemes = {name for needed in case.operation.definition.raw["security"] for name in needed}
        secret = self.agent_key if "agentKey" in schemes else self.user_token
        return {"Authorization": f"Bearer {secret}"}

    def use_real_rows(self, case) -> None:
        body = case.body if isinstance(case.body, dict) else {}
        # Coverage and example cases are built before any row exists; their point is the
        # body and the query, which a 404 or a made-up time zone or report would hide.
        # Fuzzed cases keep theirs, and choose their path parameters (see the hook).
        if case.meta is not None and case.meta.phase.name != "fuzzing":
            for name in case.path_parameters or {}:
                case.path_parameters[name] = self.ids[name][0]
            if isinstance(body.get("schedule_timezone"), str):
                body["schedule_timezone"] = "Europe/Paris"
            if "file" in body:  # the upload
                body["file"] = json.dumps(FLAT_REPORT).encode()
        # A scan names its targets and profile by id, which the fuzzer cannot guess.
        if case.operation.path.startswith("/api/v1/scans"):
            if isinstance(body.get("targets"), list) and body["targets"]:
                body["targets"] = self.ids["asset_id"]
            if isinstance(body.get("profile"), str):
                body["profile"] = self.ids["profile_id"][0]


WORLD = World()


@schema.hook
def before_generate_path_parameters(context, strategy):
    """Real rows first (what Hypothesis tries most), made-up ids (404s) too."""
    names = [parameter.name for parameter in context.operation.path_parameters]
    if not names:
        return strategy
    real = st.fixed_dictionaries({name: st.integers(0, 3).map(_real_id(name)) for name in names})
    return st.one_of(real, strategy)


@schema.hook
def filter_case(context, case) -> bool:
    """The coverage phase's boundary cases once, as JSON, where the operation reads
    JSON: resent as both kinds of form they would triple the run (~1,800 requests more),
    and the fuzzing phase sends forms too."""
    if case.meta is None or case.meta.phase.name != "coverage":
        return True
    reads_json = any(body.media_type == "application/json" for body in case.operation.body)
    return not reads_json or case.media_type in (None, "application/json")


# The validation boundary's values (issue #13), which the fuzzer seldom draws on its
# own: NaN and infinities (sent as bare `NaN`/`Infinity`, which Python's json reads),
# integers past a database column, a time in year 9999, a cron that never fires, a
# tzdata directory and a 5,000-character zone.
BOUNDARY_VALUES = [
    *BOUNDARY,
    2**31,
    "9999-12-31",
    "0 0 31 2 *",
    "America",
    "x" * 5000,
]

_FINITE = [v if not isinstance(v, float) or math.isfinite(v) else str(v) for v in BOUNDARY_VALUES]


@schema.hook
def flatmap_body(context, body):
    """Also the generated body with one of its fields set to a boundary value."""
    if not isinstance(body, dict) or not body:
        return st.just(body)
    # NaN and infinities only as text here: the transport (requests) refuses to encode
    # them; `WhatTheFuzzerFound` sends them as JSON literals.
    swapped = st.tuples(st.sampled_from(sorted(body)), st.sampled_from(_FINITE)).map(
        lambda change: {**body, change[0]: change[1]}
    )
    return st.one_of(st.just(body), swapped)


@schema.hook
def flatmap_query(context, query):
    """Also the generated query with one parameter set to a boundary value."""
    if not isinstance(query, dict) or not query:
        return st.just(query)
    swapped = st.tuples(
        st.sampled_from(sorted(query)), st.sampled_from([str(v) for v in BOUNDARY_VALUES])
    ).map(lambda change: {**query, change[0]: change[1]})
    return st.one_of(st.just(query), swapped)


def _real_id(name: str):
    # Looked up when drawn: the strategy is built before the rows exist, and the
    # examples phase draws its cases at collection (`use_real_rows` fixes those).
    def pick(index: int) -> str:
        ids = WORLD.ids.get(name) or ["not-yet"]
        return ids[index % len(ids)]

    return pick


FLAT_REPORT = {
    "version": "1.0",
    "metadata": {"tool_name": "semgrep", "tool_version": "1.0.0"},
    "targets": [{"type": "repository", "identifier": "github.com/acme/api"}],
    "findings": [
        {
            "rule_id": "python.eval",
            "severity": "high",
            "message": "Use of eval",
            "file_path": "app/views.py",
            "start_line": 3,
        }
    ],
}


@pytest.fixture
def same_connection():
    """Keep the test's connection across in-process requests, as Django's test client
    does: Django closes a connection in a transaction at the end of a request, which
    would lose the test's transaction (and the rows) on PostgreSQL."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, same_connection):
    tenant = TenantFactory(plan="business")
    admin = MembershipFactory(tenant=tenant, role="admin").user
    _, WORLD.user_token = api_token_create(tenant=tenant, user=admin, name="fuzz")
    agent, WORLD.agent_key = agent_create(tenant=tenant, name="fuzz-agent", tools=["semgrep"])
    asset = AssetFactory(tenant=tenant)
    FindingFactory(tenant=tenant, asset=asset)
    unused_profile = ScanProfileFactory(tenant=tenant)
    profile = ScanProfileFactory(tenant=tenant)
    system_profile = system_profiles_install(tenant=tenant)[0]
    scan = ScanFactory(tenant=tenant, profile=profile)
    scan.targets.add(asset)
    finished = ScanSessionFactory(tenant=tenant, scan=scan, asset=asset, status="completed")
    running = ScanSessionFactory(tenant=tenant, scan=scan, asset=asset, status="running")
    for _ in range(3):
        queue.command_enqueue(tenant=tenant, type="scan", payload={"scanner": "semgrep"})
    # One command leased, one acknowledged, one running: each lifecycle call has a
    # command it may move.
    commands = queue.lease_commands(agent=agent, limit=3)
    queue.command_acknowledge(agent=agent, command_id=commands[1].pk)
    queue.command_start(agent=agent, command_id=commands[2].pk)
    run = ingest_submit(
        tenant=tenant, raw=json.dumps(FLAT_REPORT).encode(), format="flat", agent=agent
    )
    WORLD.ids = {
        "agent_id": [str(agent.pk)],
        "key_id": [str(agent.keys.get().pk)],
        "command_id": [str(c.pk) for c in commands],
        "scan_id": [str(scan.pk)],
        "session_id": [str(finished.pk), str(running.pk)],
        # Free to change or delete; used by the scan (409 on delete); read-only (403).
        "profile_id": [str(unused_profile.pk), str(profile.pk), str(system_profile.pk)],
        "ingest_id": [str(run.pk)],
        "asset_id": [str(asset.pk)],
    }
    WORLD.statuses = Counter()
    yield WORLD
    # Green must mean "the fuzzer reached the code", not "every request bounced".
    assert any(200 <= code < 300 for code in WORLD.statuses), (
        f"no successful reply at all: {dict(WORLD.statuses)}"
    )


@schema.parametrize()
@hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    # The rows are the same for every example: each request is rolled back.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api(case, world):
    cache.clear()  # rate limits count per agent and user across examples
    world.use_real_rows(case)
    with transaction.atomic():
        response = case.call(headers=world.headers(case))
        transaction.set_rollback(True)
    world.statuses[response.status_code] += 1
    assert response.status_code != 401, response.text  # the credentials are valid
    case.validate_response(response, checks=CHECKS)


class WhatTheFuzzerFound(TestCase):
    """Each bug the fuzzer (or a probe it prompted) found, pinned: a 400 or 413 in the
    error shape, never a 500 — on SQLite and on PostgreSQL alike."""

    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory(plan="business")
        admin = MembershipFactory(tenant=cls.tenant, role="admin").user
        _, cls.token = api_token_create(tenant=cls.tenant, user=admin, name="fuzz")
        cls.agent, cls.key = agent_create(tenant=cls.tenant, name="fuzz-agent")
        cls.scan = ScanFactory(tenant=cls.tenant)
        cls.profile = ScanProfileFactory(tenant=cls.tenant)
        queue.command_enqueue(tenant=cls.tenant, type="scan", payload={"scanner": "semgrep"})
        cls.command = queue.lease_commands(agent=cls.agent, limit=1)[0]

    def setUp(self):
        cache.clear()
        self.user = APIClient()
        self.user.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token}")
        self.agent_api = APIClient()
        self.agent_api.credentials(HTTP_AUTHORIZATION=f"Bearer {self.key}")

    def assert_refused(self, response, field: str, status: int = 400) -> None:
        self.assertEqual(response.status_code, status, response.content)
        self.assertIn(field, response.json()["error"]["message"])

    def test_a_heartbeat_number_past_a_database_integer_is_a_400(self):
        for name in ("active_jobs", "uptime_seconds", "total_scans", "errors"):
            with self.subTest(name=name):
                response = self.agent_api.post(
                    "/api/v1/agent/heartbeat", {name: 2**40}, format="json"
                )
                self.assert_refused(response, name)

    def test_a_chunk_whose_base64_is_not_ascii_is_a_400(self):
        body = {"report_id": "r", "chunk_index": 0, "total_chunks": 2, "data": "H4sI…"}
        response = self.agent_api.post("/api/v1/agent/ingest/chunk", body, format="json")
        self.assert_refused(response, "data")

    def test_a_query_parameter_with_a_null_character_is_a_400(self):
        for url, client in [
            ("/api/v1/scans", self.user),
            ("/api/v1/agents", self.user),
            ("/api/v1/scan-profiles", self.user),
            ("/api/v1/agent/commands", self.agent_api),
        ]:
            with self.subTest(url=url):
                self.assert_refused(client.get(url, {"search": "a\x00b"}), "search")

    def test_json_values_with_a_null_character_are_a_400(self):
        scan = f"/api/v1/scans/{self.scan.pk}"
        profile = f"/api/v1/scan-profiles/{self.profile.pk}"
        tools = {"semgrep": {"options": {"rules": "a\x00"}}}
        for url, body, name in [
            (scan, {"scanner_config": {"a\x00": 1}}, "scanner_config"),
            (scan, {"scan_type": "workflow", "pipeline": [["a\x00"]]}, "pipeline"),
            (profile, {"tools_config": tools}, "tools_config.semgrep.options"),
        ]:
            with self.subTest(name=name):
                self.assert_refused(self.user.patch(url, body, format="json"), name)
        complete = f"/api/v1/agent/commands/{self.command.pk}/complete"
        response = self.agent_api.post(complete, {"result": {"log": "\x00"}}, format="json")
        self.assert_refused(response, "result")

    def test_a_pipeline_that_is_not_a_list_of_stages_is_a_400(self):
        url = f"/api/v1/scans/{self.scan.pk}"
        for pipeline in [[5], [{"tools": 5}], "ab", [[1, None]], [[["x"]]], {"a": 1}, None]:
            with self.subTest(pipeline=pipeline):
                body = {"scan_type": "workflow", "pipeline": pipeline}
                self.assert_refused(self.user.patch(url, body, format="json"), "pipeline")
        # A form's "null" is JSON null, which the column cannot hold.
        form = self.user.patch(
            url, "pipeline=null", content_type="application/x-www-form-urlencoded"
        )
        self.assert_refused(form, "pipeline")
        stages = [["semgrep"], {"tools": ["bandit"], "continue_on_failure": True}]
        body = {"scan_type": "workflow", "pipeline": stages}
        self.assertEqual(self.user.patch(url, body, format="json").status_code, 200)

    def test_a_schedule_day_past_31_is_a_400(self):
        response = self.user.patch(
            f"/api/v1/scans/{self.scan.pk}", {"schedule_day": 59557639627}, format="json"
        )
        self.assert_refused(response, "schedule_day")

    def test_a_body_django_refuses_is_in_the_error_shape(self):
        big = {"name": "big", "description": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}
        self.assert_refused(self.user.post("/api/v1/agents", big, format="json"), "large", 413)
        fields = "&".join(f"f{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
        many = self.user.post(
            "/api/v1/agents", fields, content_type="application/x-www-form-urlencoded"
        )
        self.assertEqual(many.status_code, 400)
        self.assertEqual(many.json()["error"]["code"], "BAD_REQUEST")

    def test_nan_and_infinity_literals_in_json_bodies_are_never_a_500(self):
        """The bare literals Python's json reads (and the fuzzer's transport cannot
        send): refused naming the field, or stored as null with a note — never a 500."""
        self.user.raise_request_exception = False
        self.agent_api.raise_request_exception = False
        scan = f"/api/v1/scans/{self.scan.pk}"
        profile = f"/api/v1/scan-profiles/{self.profile.pk}"
        complete = f"/api/v1/agent/commands/{self.command.pk}/complete"
        cases = [
            (self.user.patch, scan, '{"scanner_config": {"a": NaN}}'),
            (self.user.patch, scan, '{"schedule_day": Infinity}'),
            (self.user.patch, profile, '{"tools_config": {"semgrep": {"options": {"a": NaN}}}}'),
            (self.user.post, "/api/v1/scans/schedule-preview", '{"schedule_type": NaN}'),
            (self.agent_api.post, "/api/v1/agent/heartbeat", '{"active_jobs": NaN}'),
            (self.agent_api.post, "/api/v1/agent/heartbeat", '{"cpu_percent": Infinity}'),
            (self.agent_api.post, complete, '{"result": {"x": -Infinity}}'),
            (
                self.agent_api.post,
                "/api/v1/agent/ingest",
                json.dumps(FLAT_REPORT)
                .replace('"start_line": 3', '"start_line": 3, "a": NaN')
                .replace('"tool_version": "1.0.0"', '"tool_version": "1.0.0", "x": Infinity'),
            ),
        ]
        for method, url, body in cases:
            with self.subTest(url=url, body=body[:60]):
                response = method(url, body, content_type="application/json")
                self.assertLess(response.status_code, 500, response.content)
