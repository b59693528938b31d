"""The six-step eligibility rule, and proof that its SQL form says the same thing."""

from __future__ import annotations

import itertools

from django.test import TestCase

from agents.models import Command
from agents.selection import (
    Requirements,
    choose_agent,
    commands_for_agent,
    evaluate_agents,
    ineligibility_reasons,
)
from tests.factories import AgentFactory, TenantFactory


class Reasons(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.agent = AgentFactory(
            capabilities=["sast", "secrets"],
            tools=["bandit", "semgrep"],
            labels={"region": "eu"},
            health="online",
            max_concurrent_jobs=2,
        )

    def reasons(self, running_jobs=0, agent=None, **needs):
        return ineligibility_reasons(
            agent or self.agent, Requirements(**needs), running_jobs=running_jobs
        )

    def test_a_matching_online_agent_with_a_free_slot_is_eligible(self):
        needs = {"capabilities": ("sast",), "tools": ("semgrep",), "tags": ("region=eu",)}
        self.assertEqual(self.reasons(**needs), [])

    def test_each_rule_explains_itself(self):
        cases = {
            "missing capabilities: dast": {"capabilities": ("dast", "sast")},
            "missing tools: trivy": {"tools": ("trivy",)},
            "labels do not match tags: region=us": {"tags": ("region=us",)},
            "no free job slot (2/2 busy)": {"running_jobs": 2},
            "the scan runs only on tenant runners": {"run_on_tenant_runner": True},
            "the work is aimed at another agent": {"target_agent_id": "someone-else"},
            "a worker agent does not take collect work": {"command_type": "collect"},
        }
        for expected, needs in cases.items():
            with self.subTest(expected=expected):
                self.assertEqual(self.reasons(**needs), [expected])

    def test_health_and_status_count_at_routing_time(self):
        offline = AgentFactory(health="offline")
        disabled = AgentFactory(health="online", status="disabled")
        self.assertEqual(self.reasons(agent=offline), ["agent is offline, not online"])
        self.assertEqual(self.reasons(agent=disabled), ["agent is disabled"])

    def test_health_and_status_count_at_the_poll_too(self):
        broken = AgentFactory(health="error", status_message="disk full")
        self.assertEqual(
            self.reasons(running_jobs=None, agent=broken), ["agent reported an error: disk full"]
        )

    def test_control_work_reaches_an_agent_whatever_its_health(self):
        for health in ("error", "offline", "unknown"):
            with self.subTest(health=health):
                agent = AgentFactory(health=health)
                self.assertEqual(self.reasons(agent=agent, command_type="cancel"), [])

    def test_control_work_needs_no_free_slot(self):
        self.assertEqual(self.reasons(running_jobs=2, command_type="cancel"), [])

    def test_runners_explain_why_they_skip_ordinary_scans(self):
        runner = AgentFactory(type="runner", health="online")
        self.assertEqual(
            self.reasons(agent=runner), ["runners take only scans that ask for tenant runners"]
        )
        self.assertEqual(self.reasons(agent=runner, run_on_tenant_runner=True), [])

    def test_the_agent_with_most_free_slots_is_chosen(self):
        busy = AgentFactory(name="a-busy", health="online", max_concurrent_jobs=4)
        idle = AgentFactory(name="b-idle", health="online", max_concurrent_jobs=4)
        broken = AgentFactory(name="c-broken", health="error", max_concurrent_jobs=10)
        running = {busy.pk: 3, idle.pk: 1}
        verdicts = evaluate_agents([busy, idle, broken], Requirements(), running)
        self.assertEqual(choose_agent(verdicts, running), idle)
        self.assertEqual(choose_agent(verdicts[2:], running), None)


# (status, health) of the agents of the matrix: the health rule in both of its answers.
STANDINGS = [
    ("active", "online"),
    ("active", "error"),
    ("active", "offline"),
    ("disabled", "online"),
]


def _split(values: list[str], i: int) -> tuple[list[str], list[str]]:
    """(configured, reported): all configured, all reported, or half and half."""
    return [(values, []), ([], values), (values[:1], values[1:])][i % 3]


class SqlAndPythonAgree(TestCase):
    """For every pairing of these agents and commands, the poll's SQL filter admits the
    command exactly when `ineligibility_reasons` finds nothing against the agent."""

    @classmethod
    def setUpTestData(cls):
        tenant = TenantFactory()
        cls.agents = []
        for i, (kind, caps, tools, labels, (status, health)) in enumerate(
            itertools.product(
                ["worker", "runner", "collector", "sensor"],
                [[], ["sast"], ["sast", "sca"]],
                [[], ["semgrep", "trivy"]],
                [{}, {"region": "eu", "gpu": "yes"}],
                STANDINGS,
            )
        ):
            # Capabilities and tools count the same whether configured or reported.
            capabilities, reported_capabilities = _split(caps, i)
            tools, reported_tools = _split(tools, i // 3)
            cls.agents.append(
                AgentFactory(
                    tenant=tenant,
                    name=f"a{i}",
                    type=kind,
                    status=status,
                    health=health,
                    capabilities=capabilities,
                    reported_capabilities=reported_capabilities,
                    tools=tools,
                    reported_tools=reported_tools,
                    labels=labels,
                )
            )
        cls.commands = [
            Command.objects.create(
                tenant=tenant,
                type=kind,
                required_capabilities=caps,
                required_tools=tools,
                tags=tags,
                run_on_tenant_runner=runner,
                target_agent=target,
            )
            for kind, caps, tools, tags, runner, target in itertools.product(
                ["scan", "collect", "cancel"],
                [[], ["sast"], ["sca", "sast"], ["dast"]],
                [[], ["trivy"]],
                [[], ["region=eu"], ["gpu"], ["region=us"]],
                [False, True],
                [None, cls.agents[0]],
            )
        ]

    def test_the_rule_is_the_same_in_sql_and_in_python(self):
        every = Command.objects.filter(pk__in=[c.pk for c in self.commands])
        pairs_admitted = 0
        for agent in self.agents:
            admitted = set(every.filter(commands_for_agent(agent)).values_list("pk", flat=True))
            expected = {
                c.pk for c in self.commands if not ineligibility_reasons(agent, Requirements.of(c))
            }
            with self.subTest(agent=agent.name):
                self.assertEqual(admitted, expected)
            pairs_admitted += len(admitted)
        # The matrix exercises both answers, plenty of times.
        pairs = len(self.agents) * len(self.commands)
        self.assertGreater(pairs_admitted, pairs // 50)
        self.assertLess(pairs_admitted, pairs - pairs // 50)
