"""A profile's tool with `enabled: false` is never queued; a stage left without tools is
skipped, and a run left with nothing to run is refused like a scan without targets."""

from __future__ import annotations

from datetime import time, timedelta

import time_machine
from django.test import TestCase
from rest_framework.test import APIClient

from agents.models import Command
from agents.queue import lease_commands
from agents.services import agent_create
from scans.models import ScanSession
from scans.scheduler import tick
from scans.services import ScanInvalid, scan_create, scan_trigger
from tests.agents.test_agent_auth import POLL, bearer
from tests.factories import AssetFactory, MembershipFactory, ScanProfileFactory, TenantFactory

ON, OFF = {"enabled": True}, {"enabled": False}


class DisabledProfileTools(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.repo = AssetFactory(tenant=cls.tenant)
        cls.profile = ScanProfileFactory(
            tenant=cls.tenant,
            tools_config={"bandit": ON, "semgrep": OFF, "gitleaks": {"severity": "high"}},
        )
        cls.agent, cls.key = agent_create(
            tenant=cls.tenant,
            name="w",
            tools=["bandit", "semgrep", "gitleaks"],
            capabilities=["sast", "secrets"],
            max_concurrent_jobs=10,
        )

    def workflow(self, pipeline, **fields):
        return scan_create(
            tenant=self.tenant,
            name=fields.pop("name", "wf"),
            scan_type="workflow",
            pipeline=pipeline,
            profile=self.profile,
            targets=[self.repo],
            **fields,
        )

    def started(self) -> list[tuple[int, str]]:
        return sorted(ScanSession.objects.values_list("stage", "scanner_name"))

    def queued_tools(self) -> list[str]:
        return sorted(Command.objects.values_list("payload__scanner", flat=True))

    def finish_all(self):
        client = bearer(self.key)
        for command in lease_commands(agent=self.agent, limit=10):
            client.post(f"{POLL}/{command.pk}/complete", {"result": {}}, format="json")

    def test_a_disabled_profile_tool_is_not_queued(self):
        scan_trigger(scan=self.workflow([["bandit", "semgrep"]]))
        self.assertEqual(self.started(), [(0, "bandit")])
        self.assertEqual(self.queued_tools(), ["bandit"])

    def test_a_tool_the_profile_does_not_switch_off_runs(self):
        # gitleaks is configured without `enabled`; trivy-fs is not in the profile at all.
        scan_trigger(scan=self.workflow([["gitleaks", "trivy-fs"]]))
        self.assertEqual(self.started(), [(0, "gitleaks"), (0, "trivy-fs")])

    def test_a_stage_whose_tools_are_all_disabled_is_skipped(self):
        scan = self.workflow([["semgrep"], ["bandit"], ["gitleaks"]])
        scan_trigger(scan=scan)
        self.assertEqual(self.started(), [(1, "bandit")])
        self.finish_all()
        self.assertEqual(self.started(), [(1, "bandit"), (2, "gitleaks")])
        self.finish_all()
        scan.refresh_from_db()
        self.assertEqual((scan.total_runs, scan.successful_runs), (1, 1))

    def test_the_run_ends_when_only_disabled_stages_are_left(self):
        scan = self.workflow([["bandit"], ["semgrep"]])
        scan_trigger(scan=scan)
        self.finish_all()
        self.assertEqual(self.started(), [(0, "bandit")])
        scan.refresh_from_db()
        self.assertEqual((scan.total_runs, scan.successful_runs, scan.failed_runs), (1, 1, 0))

    def test_a_scan_whose_every_tool_is_disabled_is_refused_like_one_without_targets(self):
        scan = self.workflow([["semgrep"]])
        with self.assertRaises(ScanInvalid) as refused:
            scan_trigger(scan=scan)
        self.assertEqual(
            (refused.exception.field, refused.exception.message),
            ("profile", "every tool of the scan is disabled in its profile"),
        )
        without_targets = self.workflow([["bandit"]], name="empty")
        without_targets.targets.clear()
        with self.assertRaises(ScanInvalid) as refused:
            scan_trigger(scan=without_targets)
        self.assertEqual(refused.exception.field, "targets")
        self.assertEqual((ScanSession.objects.count(), Command.objects.count()), (0, 0))
        scan.refresh_from_db()
        self.assertEqual(scan.total_runs, 0)

    def test_a_single_scan_of_a_disabled_tool_is_refused_over_the_api_as_a_400(self):
        scan = scan_create(
            tenant=self.tenant,
            name="single",
            scanner_name="semgrep",
            profile=self.profile,
            targets=[self.repo],
        )
        api = APIClient()
        api.force_login(MembershipFactory(tenant=self.tenant, role="member").user)
        response = api.post(f"/api/v1/scans/{scan.pk}/trigger")
        self.assertEqual(response.status_code, 400, response.content)
        self.assertIn("disabled", response.json()["error"]["message"])

    def test_the_scheduler_starts_no_run_for_a_scan_with_nothing_to_run(self):
        scan = self.workflow(
            [["semgrep"]], schedule_type="daily", schedule_time=time(2, 0), schedule_timezone="UTC"
        )
        with time_machine.travel(scan.next_run_at + timedelta(seconds=1), tick=False):
            result = tick()
        self.assertEqual(result.started, 0)
        self.assertEqual(ScanSession.objects.count(), 0)
        scan.refresh_from_db()
        self.assertEqual(scan.total_runs, 0)
