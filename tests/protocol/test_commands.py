"""The commands of the contract (protocol/commands.py): what the server builds is what
the agent reads, on the reference SDK's wire, with one copy of that code on each side."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.test import TestCase
from hypothesis import given
from hypothesis import strategies as st

from agents.models import Command
from agents.queue import command_cancel, lease_commands
from agents.services import agent_create
from protocol.commands import (
    CONTROL_TYPES,
    WORK_TYPES,
    CancelCommand,
    CollectCommand,
    CommandType,
    ConfigUpdateCommand,
    HealthCheckCommand,
    PayloadError,
    ScanCommand,
    command_from_wire,
)
from scans.services import scan_create, scan_trigger
from tests.factories import AssetFactory, TenantFactory

REPO_ROOT = Path(__file__).resolve().parents[2]
# The reference SDK's scan payload (its ScanCommandPayload), plus our run and stage.
SCAN_WIRE_KEYS = {
    "scanner",
    "target",
    "target_type",
    "config",
    "timeout_seconds",
    "report_progress",
    "custom_templates",
    "scan_id",
    "scan_definition_id",
    "run_id",
    "stage",
}

texts = st.text(max_size=20)
configs = st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=4)


@given(
    scanner=st.text(min_size=1, max_size=20),
    target=texts,
    config=configs,
    timeout=st.none() | st.floats(min_value=1, max_value=1e6),
    progress=st.booleans(),
    scan_id=texts,
    stage=st.integers(min_value=0, max_value=50),
)
def test_a_scan_command_reads_back_what_was_written(
    scanner, target, config, timeout, progress, scan_id, stage
):
    command = ScanCommand(
        scanner=scanner,
        target=target,
        config=config,
        timeout_seconds=timeout,
        report_progress=progress,
        scan_id=scan_id,
        stage=stage,
    )
    assert command.to_wire().keys() == SCAN_WIRE_KEYS
    assert ScanCommand.from_wire(command.to_wire()) == command


@pytest.mark.parametrize(
    "command",
    [
        CollectCommand(source_config={"path": "r.sarif", "format": "sarif"}, scan_id="s"),
        CollectCommand(source_config={"url": "https://ci/r.json"}, asset="github.com/a/b"),
        CancelCommand(command_id="c1", reason="stopped by alice"),
        HealthCheckCommand(),
        ConfigUpdateCommand(config={"max_jobs": 4}),
    ],
    ids=repr,
)
def test_every_other_command_reads_back_what_was_written(command):
    assert command_from_wire(command.type.value, command.to_wire()) == command


def test_reading_is_lenient_where_the_sdk_is():
    assert ScanCommand.from_wire({"scanner": "bandit", "config": "x"}).config == {}
    assert CollectCommand.from_wire({"path": "r.json"}).source_config == {"path": "r.json"}
    assert ConfigUpdateCommand.from_wire({"max_jobs": 2}).config == {"max_jobs": 2}
    assert CancelCommand.from_wire(None) == CancelCommand(command_id="")


@pytest.mark.parametrize(
    ("kind", "payload", "says"),
    [
        ("scan", {}, "names no scanner"),
        ("scan", {"scanner": "bandit", "timeout_seconds": "soon"}, "not a number"),
        ("reboot", {}, "unknown command type"),
        (None, {}, "unknown command type"),
    ],
)
def test_a_command_that_cannot_be_run_is_a_payload_error(kind, payload, says):
    with pytest.raises(PayloadError, match=says):
        command_from_wire(kind, payload)


def test_work_and_control_cover_every_type_once():
    assert sorted(WORK_TYPES + CONTROL_TYPES) == sorted(CommandType)


def test_the_database_speaks_the_contracts_types():
    assert {value for value, _ in Command._meta.get_field("type").choices} == {
        kind.value for kind in CommandType
    }


def test_the_agents_command_handling_names_no_command_type_by_a_bare_string():
    words = {kind.value for kind in CommandType}
    for module in ("worker.py", "jobs.py", "commands.py"):
        tree = ast.parse((REPO_ROOT / "agents" / "runtime" / module).read_text())
        bare = [
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in words
        ]
        assert bare == [], f"agents/runtime/{module} spells {bare}: use protocol.commands"


class TheServerBuildsWithTheContract(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.repo = AssetFactory(tenant=cls.tenant)
        cls.agent, _ = agent_create(
            tenant=cls.tenant, name="w", tools=["bandit"], capabilities=["sast"]
        )

    def test_a_triggered_scan_sends_the_sdks_payload_naming_its_session(self):
        scan = scan_create(tenant=self.tenant, name="s", scanner_name="bandit", targets=[self.repo])
        run = scan_trigger(scan=scan)
        (session,) = run.sessions
        command = Command.objects.get(scan_session=session)
        self.assertEqual(command.payload.keys(), SCAN_WIRE_KEYS)
        read = command_from_wire(command.type, command.payload)
        self.assertIsInstance(read, ScanCommand)
        self.assertEqual(read.scan_id, str(session.pk))  # the wire's scan_id is a session
        self.assertEqual(read.scan_definition_id, str(scan.pk))
        self.assertEqual((read.scanner, read.target), ("bandit", self.repo.identifier))

    def test_a_cancel_names_the_command_it_stops(self):
        scan = scan_create(tenant=self.tenant, name="c", scanner_name="bandit", targets=[self.repo])
        (session,) = scan_trigger(scan=scan).sessions
        (work,) = lease_commands(agent=self.agent, limit=1)  # held: its agent must hear
        self.assertEqual(work.scan_session_id, session.pk)
        command_cancel(command=work, reason="stopped")
        cancel = Command.objects.filter(type=CommandType.CANCEL).order_by("-created_at")
        read = command_from_wire(CommandType.CANCEL.value, cancel.first().payload)
        self.assertEqual(read, CancelCommand(command_id=str(work.pk), reason="stopped"))
