"""The new-scan wizard says which capability each scanner needs, and whether the team has
an agent for it, before the scan is created and waits for nobody."""

from __future__ import annotations

import re

from agents.models import Agent
from tests.dashboard.test_wizard import WizardTestCase
from tests.factories import AgentFactory, ScanProfileFactory


def row_of(response, tool: str) -> str:
    """The text of the scanner's row in the options step's table."""
    html = response.content.decode()
    table = re.search(r'data-testid="tool-needs".*?</table>', html, re.S)
    assert table is not None, "no tool-needs table"
    for row in re.findall(r"<tr>(.*?)</tr>", table.group(0), re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row)]
        if cells and cells[0] == tool:
            return " | ".join(cells)
    raise AssertionError(f"no row for {tool}")


def review_items(response) -> list[str]:
    html = response.content.decode()
    block = re.search(r'data-testid="review-agents">(.*?)</ul>', html, re.S)
    assert block is not None, "no agents list on the review"
    items = re.findall(r"<li>(.*?)</li>", block.group(1), re.S)
    return [" ".join(re.sub(r"<[^>]+>", "", item).split()) for item in items]


class ToolNeedsOnTheOptionsStep(WizardTestCase):
    def test_each_scanner_shows_the_capability_it_needs(self):
        response = self.client.get(self.url("options", self.draft_at(2)))
        self.assertEqual(response.status_code, 200)
        self.assertTrue(row_of(response, "nuclei").startswith("nuclei | dast |"))
        self.assertTrue(row_of(response, "checkov").startswith("checkov | iac |"))

    def test_a_capability_no_agent_of_the_team_has_is_named(self):
        AgentFactory(tenant=self.team, capabilities=["sast"], tools=["nuclei"])
        AgentFactory(tenant=self.other_team, capabilities=["dast"], tools=["nuclei"])
        response = self.client.get(self.url("options", self.draft_at(2)))
        self.assertEqual(
            row_of(response, "nuclei"),
            "nuclei | dast | None: no agent of this team has the dast capability",
        )

    def test_agents_count_with_what_they_reported_and_only_while_active(self):
        AgentFactory(tenant=self.team, reported_capabilities=["dast"], reported_tools=["nuclei"])
        AgentFactory(tenant=self.team, capabilities=["dast"], tools=["nuclei"], status="disabled")
        response = self.client.get(self.url("options", self.draft_at(2)))
        self.assertEqual(row_of(response, "nuclei"), "nuclei | dast | 1")

    def test_an_agent_with_the_capability_but_not_the_tool_is_not_enough(self):
        AgentFactory(tenant=self.team, capabilities=["dast"], tools=[])
        response = self.client.get(self.url("options", self.draft_at(2)))
        self.assertEqual(
            row_of(response, "nuclei"), "nuclei | dast | None: no agent of this team has nuclei"
        )


class ToolNeedsOnTheReview(WizardTestCase):
    def test_the_review_says_a_dast_scan_would_wait_for_an_agent(self):
        draft = self.draft_at(4, scanner_name="nuclei")
        items = review_items(self.client.get(self.url("review", draft)))
        self.assertEqual(
            items,
            [
                "nuclei needs dast: no agent of this team has the dast capability; "
                "its work will wait until one can take it"
            ],
        )

    def test_the_review_counts_the_agents_able_to_run_each_stage_tool(self):
        AgentFactory(tenant=self.team, capabilities=["sast"], tools=["semgrep", "bandit"])
        Agent.objects.create(
            tenant=self.team, name="second", capabilities=["sast"], tools=["semgrep"]
        )
        draft = self.draft_at(
            4,
            scan_type="workflow",
            scanner_name="",
            pipeline=[{"tools": ["semgrep", "bandit"], "continue_on_failure": False}],
        )
        items = review_items(self.client.get(self.url("review", draft)))
        self.assertEqual(
            items,
            [
                "semgrep needs sast: 2 agents of this team can run it",
                "bandit needs sast: 1 agent of this team can run it",
            ],
        )

    def test_the_review_says_a_tool_disabled_in_the_profile_will_not_run(self):
        profile = ScanProfileFactory(tenant=self.team, tools_config={"semgrep": {"enabled": False}})
        draft = self.draft_at(4, profile=str(profile.pk))
        items = review_items(self.client.get(self.url("review", draft)))
        self.assertEqual(items, ["semgrep needs sast: disabled in the profile, it will not run"])
