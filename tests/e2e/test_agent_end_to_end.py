"""The whole product: a real server, the real agent program in its own process, a real
scanner (bandit; semgrep too where installed) on the shipped sample app."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.test import LiveServerTestCase

from agents.services import agent_create
from findings.models import Finding
from findings.services import asset_get_or_create
from scans.models import ScanSession
from scans.services import scan_create, scan_trigger
from tests.factories import TenantFactory

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "vulnerable-app"
AGENT = Path(sys.executable).with_name("rediverio-agent")


class AgentEndToEnd(LiveServerTestCase):
    def setUp(self):
        self.workdir = Path(self.enterContext(tempfile.TemporaryDirectory()))
        self.app = self.workdir / "app"
        shutil.copytree(SAMPLE, self.app)
        self.tenant = TenantFactory()
        self.asset, _ = asset_get_or_create(
            tenant=self.tenant, identifier=str(self.app), asset_type="repository"
        )
        tools = ["bandit"] + (["semgrep"] if shutil.which("semgrep") else [])
        _, key = agent_create(tenant=self.tenant, name="e2e", tools=tools, max_concurrent_jobs=2)
        self.scan = scan_create(
            tenant=self.tenant,
            name="sample",
            scan_type="workflow",
            pipeline=[{"tools": tools, "continue_on_failure": False}],
            targets=[self.asset],
        )
        self.agent = subprocess.Popen(
            [
                str(AGENT),
                "worker",
                "--api-url",
                self.live_server_url,
                "--api-key",
                key,
                "--work-dir",
                str(self.workdir / "agent"),
                "--work-root",
                str(self.app),
                "--poll-interval",
                "0.3",
                "--heartbeat-interval",
                "1",
            ],
            env={**os.environ, "PATH": f"{AGENT.parent}:{os.environ.get('PATH', '')}"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.addCleanup(self.stop_agent)

    def stop_agent(self):
        if self.agent.poll() is None:
            self.agent.send_signal(signal.SIGTERM)
            try:
                self.agent.wait(20)
            except subprocess.TimeoutExpired:
                self.agent.kill()

    def run_scan(self) -> list[ScanSession]:
        run = scan_trigger(scan=self.scan)
        ids = [s.pk for s in run.sessions]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            sessions = list(ScanSession.objects.filter(pk__in=ids))
            if all(s.is_finished for s in sessions):
                return sessions
            if self.agent.poll() is not None:
                self.fail(f"the agent exited:\n{self.agent.stdout.read()}")
            time.sleep(0.3)
        self.stop_agent()
        self.fail(f"the run did not finish in time:\n{self.agent.stdout.read()[-4000:]}")

    def bandit_findings(self):
        return Finding.objects.for_tenant(self.tenant).filter(asset=self.asset, tool_name="bandit")

    def test_a_scan_runs_on_the_agent_and_its_findings_follow_the_code(self):
        first = self.run_scan()
        self.assertEqual({s.status for s in first}, {"completed"}, [s.error_message for s in first])
        stored = self.bandit_findings().count()
        self.assertEqual(stored, 13)  # what bandit 1.9 reports on the sample app
        bandit_session = next(s for s in first if s.scanner_name == "bandit")
        self.assertEqual((bandit_session.findings_new, bandit_session.findings_total), (13, 13))
        self.assertTrue(self.bandit_findings().filter(rule_id="B324", severity="high").exists())

        second = self.run_scan()
        self.assertEqual({s.status for s in second}, {"completed"})
        self.assertEqual(self.bandit_findings().count(), stored)
        self.assertEqual(next(s for s in second if s.scanner_name == "bandit").findings_new, 0)

        app = self.app / "app.py"
        app.write_text(app.read_text().replace("hashlib.md5(", "hashlib.sha256("))
        third = self.run_scan()
        bandit_session = next(s for s in third if s.scanner_name == "bandit")
        self.assertEqual(bandit_session.findings_fixed, 1)
        fixed = self.bandit_findings().get(rule_id="B324")
        self.assertEqual(fixed.status, "resolved")
        self.assertEqual(self.bandit_findings().filter(status="new").count(), stored - 1)
