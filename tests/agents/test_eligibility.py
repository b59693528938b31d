"""Agents get only work they can do: the capability a scan's tool needs, an agent's
health and status at the poll, and heartbeats that never erase what an operator set."""

from __future__ import annotations

from django.test import TestCase

from agents.models import Agent, Command, CommandStatus
from agents.queue import command_enqueue, lease_commands
from agents.selection import Requirements
from agents.services import agent_create
from scans.models import ScanSession
from scans.services import scan_create, scan_trigger
from scans.workflows import WAITING_NOTE, command_requirements
from tests.agents.test_agent_auth import HEARTBEAT, POLL, bearer
from tests.factories import AgentFactory, AssetFactory, TenantFactory


def polled_types(key: str) -> list[str]:
    response = bearer(key).get(POLL, {"limit": 10})
    assert response.status_code == 200, response.content
    return sorted(command["type"] for command in response.json())


class HealthAtThePoll(TestCase):
    """Scan and collect work goes only to an active agent that is online after its poll;
    control commands reach it whatever its health."""

    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.agent, cls.key = agent_create(
            tenant=cls.tenant, name="worker", tools=["semgrep"], capabilities=["sast"]
        )

    def setUp(self):
        self.scan = command_enqueue(
            tenant=self.tenant,
            type="scan",
            required_capabilities=["sast"],
            required_tools=["semgrep"],
            payload={"scanner": "semgrep"},
        )

    def cancel(self) -> Command:
        return command_enqueue(
            tenant=self.tenant,
            type="cancel",
            target_agent=self.agent,
            payload={"command_id": "0193a5f0-7c1e-7d2a-9f3b-1a2b3c4d5e6f"},
        )

    def test_an_agent_in_error_gets_no_scan_but_does_get_a_cancel(self):
        bearer(self.key).post(HEARTBEAT, {"status": "error", "message": "disk full"}, format="json")
        self.cancel()
        self.assertEqual(polled_types(self.key), ["cancel"])
        self.scan.refresh_from_db()
        self.assertIsNone(self.scan.agent_id)
        self.assertEqual(self.scan.attempts, 0)  # never handed out, so no attempt spent

    def test_a_poll_does_not_clear_an_error_the_agent_reported(self):
        bearer(self.key).post(HEARTBEAT, {"status": "error"}, format="json")
        polled_types(self.key)
        self.assertEqual(Agent.objects.get(pk=self.agent.pk).health, "error")

    def test_an_agent_that_reports_running_again_takes_work_again(self):
        bearer(self.key).post(HEARTBEAT, {"status": "error"}, format="json")
        self.assertEqual(polled_types(self.key), [])
        bearer(self.key).post(HEARTBEAT, {"status": "running"}, format="json")
        self.assertEqual(polled_types(self.key), ["scan"])

    def test_an_agent_offline_for_its_silence_is_online_again_when_it_polls(self):
        Agent.objects.filter(pk=self.agent.pk).update(health="offline")
        self.assertEqual(polled_types(self.key), ["scan"])
        self.assertEqual(Agent.objects.get(pk=self.agent.pk).health, "online")

    def test_an_agent_disabled_after_it_authenticated_gets_control_commands_only(self):
        # The poll reads the agent's standing under its lock, not the copy the
        # authentication loaded: a disabling that lands in between already counts.
        stale = Agent.objects.get(pk=self.agent.pk)
        Agent.objects.filter(pk=self.agent.pk).update(status="disabled")
        self.cancel()
        leased = lease_commands(agent=stale, limit=10)
        self.assertEqual([c.type for c in leased], ["cancel"])

    def test_an_agent_in_error_takes_no_collect_work_either(self):
        collector = AgentFactory(tenant=self.tenant, type="collector", health="error")
        command_enqueue(tenant=self.tenant, type="collect", payload={})
        self.assertEqual(lease_commands(agent=collector, limit=10), [])
        Agent.objects.filter(pk=collector.pk).update(health="online")
        collector.refresh_from_db()
        self.assertEqual([c.type for c in lease_commands(agent=collector)], ["collect"])


class ScansRequireTheCapabilityOfTheirTool(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.site = AssetFactory(
            tenant=cls.tenant, type="website", identifier="https://shop.example.com"
        )
        # Has nuclei, but nobody gave it DAST.
        cls.agent, cls.key = agent_create(
            tenant=cls.tenant, name="w", tools=["nuclei"], capabilities=["sast"]
        )
        Agent.objects.filter(pk=cls.agent.pk).update(health="online")

    def trigger(self):
        scan = scan_create(
            tenant=self.tenant, name="dast", scanner_name="nuclei", targets=[self.site]
        )
        return scan, scan_trigger(scan=scan)

    def test_a_nuclei_scan_command_requires_dast_and_nuclei(self):
        _, run = self.trigger()
        (command,) = Command.objects.filter(scan_session__in=run.sessions)
        self.assertEqual(command.required_capabilities, ["dast"])
        self.assertEqual(command.required_tools, ["nuclei"])

    def test_it_waits_for_a_dast_agent_and_the_run_says_why(self):
        _, run = self.trigger()
        (session,) = ScanSession.objects.filter(pk__in=[s.pk for s in run.sessions])
        self.assertEqual(
            session.error_message,
            f"{WAITING_NOTE} able to run nuclei (w: missing capabilities: dast)",
        )
        self.assertEqual(polled_types(self.key), [])

    def test_an_agent_that_reports_dast_takes_the_waiting_scan(self):
        self.trigger()
        self.assertEqual(polled_types(self.key), [])
        bearer(self.key).post(
            HEARTBEAT, {"scanners": ["nuclei"], "capabilities": ["dast"]}, format="json"
        )
        self.assertEqual(polled_types(self.key), ["scan"])

    def test_the_command_and_the_waiting_note_ask_the_same_thing(self):
        scan, run = self.trigger()
        (command,) = Command.objects.filter(scan_session__in=run.sessions)
        self.assertEqual(Requirements.of(command), command_requirements(scan, "nuclei"))

    def test_an_agent_registered_with_tools_alone_has_what_its_tools_give(self):
        agent, key = agent_create(tenant=self.tenant, name="dast-box", tools=["nuclei"])
        self.assertEqual(agent.capabilities, ["dast"])
        Agent.objects.filter(pk=agent.pk).update(health="online")
        self.trigger()
        self.assertEqual(polled_types(key), ["scan"])

    def test_a_tool_without_a_category_needs_only_itself(self):
        needs = Requirements.for_scan(tool="httpx")
        self.assertEqual((needs.capabilities, needs.tools), ((), ("httpx",)))


class HeartbeatsNeverEraseWhatAnOperatorSet(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.agent, cls.key = agent_create(
            tenant=cls.tenant, name="w", tools=["semgrep"], capabilities=["sast"]
        )

    def beat(self, body: dict) -> Agent:
        response = bearer(self.key).post(HEARTBEAT, body, format="json")
        self.assertEqual(response.status_code, 200)
        return Agent.objects.get(pk=self.agent.pk)

    def queue_semgrep(self) -> Command:
        return command_enqueue(
            tenant=self.tenant,
            type="scan",
            required_capabilities=["sast"],
            required_tools=["semgrep"],
        )

    def test_an_empty_scanner_list_leaves_the_agent_able_to_take_its_scans(self):
        agent = self.beat({"scanners": [], "capabilities": []})
        self.assertEqual((agent.tools, agent.capabilities), (["semgrep"], ["sast"]))
        self.assertEqual(
            (agent.effective_tools, agent.effective_capabilities), (["semgrep"], ["sast"])
        )
        self.queue_semgrep()
        self.assertEqual(polled_types(self.key), ["scan"])

    def test_what_the_agent_reports_adds_to_what_was_configured(self):
        agent = self.beat({"scanners": ["gitleaks"], "capabilities": ["secrets"]})
        self.assertEqual(agent.effective_tools, ["gitleaks", "semgrep"])
        self.assertEqual(agent.effective_capabilities, ["sast", "secrets"])
        command_enqueue(
            tenant=self.tenant,
            type="scan",
            required_capabilities=["secrets"],
            required_tools=["gitleaks"],
        )
        self.queue_semgrep()
        self.assertEqual(polled_types(self.key), ["scan", "scan"])

    def test_each_report_replaces_the_one_before_and_silence_keeps_it(self):
        self.beat({"scanners": ["gitleaks", "trivy"]})
        self.assertEqual(self.beat({"cpu_percent": 3}).reported_tools, ["gitleaks", "trivy"])
        agent = self.beat({"scanners": ["trivy"]})
        self.assertEqual((agent.reported_tools, agent.tools), (["trivy"], ["semgrep"]))

    def test_an_operator_change_is_not_undone_by_the_next_heartbeat(self):
        self.beat({"scanners": ["gitleaks"]})
        Agent.objects.filter(pk=self.agent.pk).update(tools=["bandit"])
        agent = self.beat({"scanners": ["gitleaks"]})
        self.assertEqual(agent.effective_tools, ["bandit", "gitleaks"])

    def test_a_heartbeat_is_still_one_write_without_a_read(self):
        client = bearer(self.key)
        client.post(HEARTBEAT, {}, format="json")  # the first use of a key also records it
        with self.assertNumQueries(2):  # the key lookup, then the agent's UPDATE
            client.post(HEARTBEAT, {"scanners": [], "capabilities": ["sast"]}, format="json")


class TheWaitingNoteFollowsHealth(TestCase):
    def test_a_run_names_the_agent_in_error_and_what_it_said(self):
        tenant = TenantFactory()
        repo = AssetFactory(tenant=tenant)
        AgentFactory(
            tenant=tenant, name="w", health="error", status_message="semgrep crashed at start"
        )
        scan = scan_create(tenant=tenant, name="s", scanner_name="semgrep", targets=[repo])
        (session,) = scan_trigger(scan=scan).sessions
        self.assertEqual(
            ScanSession.objects.get(pk=session.pk).error_message,
            f"{WAITING_NOTE} able to run semgrep "
            "(w: agent reported an error: semgrep crashed at start)",
        )
        self.assertEqual(Command.objects.get(scan_session=session).status, CommandStatus.PENDING)
