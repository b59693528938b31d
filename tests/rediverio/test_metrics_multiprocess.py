"""/metrics shows what other processes counted: the scheduler's runs under `make run`.

The tick runs in the django-q2 cluster, another process than the web server that
answers /metrics; only prometheus_client's multiprocess mode, one folder shared by both,
brings its `scans_scheduled` counter to /metrics.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest import mock

from django.test import TestCase

from tests.rediverio.embedded import ROOT, embedded_env, make_run_recipe

# A cluster's worker in miniature: an embedded install whose scheduler finds the demo
# scan due and starts it, counting the run in its own process.
TICK_IN_ANOTHER_PROCESS = """
import io
from datetime import timedelta

import django

django.setup()
from django.core.management import call_command
from django.utils import timezone

call_command("migrate", verbosity=0)
call_command("seed_demo", stdout=io.StringIO())
from scans.models import Scan
from scans.scheduler import tick

# Due a minute ago: its slot, not a missed one (that would be a catch-up run).
Scan.objects.filter(name="Sample app SAST").update(
    next_run_at=timezone.now() - timedelta(minutes=1)
)
print(tick().due)
"""


class MakeRunSharesOneMetricsFolder(TestCase):
    def test_make_run_starts_its_processes_with_one_emptied_metrics_folder_under_var(self):
        recipe = make_run_recipe()
        folder = ROOT / "var" / "metrics"
        (start,) = [line for line in recipe if "honcho start" in line]
        self.assertIn(f'PROMETHEUS_MULTIPROC_DIR="{folder}"', start)
        emptied = f'rm -rf "{folder}" && mkdir -p "{folder}"'
        self.assertIn(emptied, recipe)
        # Emptied before the processes start, so counts of an earlier run do not add up.
        self.assertLess(recipe.index(emptied), recipe.index(start))

    def test_the_procfile_runs_the_web_server_and_the_cluster_under_that_environment(self):
        processes = dict(
            line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
        )
        self.assertIn("manage.py runserver", processes["web"])
        self.assertIn("manage.py qcluster", processes["cluster"])
        for command in processes.values():
            # Nothing in the Procfile overrides the folder make run gives every process.
            self.assertNotIn("PROMETHEUS_MULTIPROC_DIR", command)


class ScheduledRunsCountedByTheClusterShowOnMetrics(TestCase):
    def test_a_run_the_tick_starts_in_another_process_is_on_metrics(self):
        with tempfile.TemporaryDirectory() as install:
            metrics = Path(install) / "metrics"
            metrics.mkdir()
            child = subprocess.run(
                [sys.executable, "-c", TICK_IN_ANOTHER_PROCESS],
                cwd=ROOT,
                env=embedded_env(
                    Path(install),
                    DJANGO_SETTINGS_MODULE="rediverio.settings",
                    PROMETHEUS_MULTIPROC_DIR=str(metrics),
                ),
                capture_output=True,
                text=True,
                timeout=180,
            )
            self.assertEqual(child.returncode, 0, child.stderr)
            self.assertEqual(child.stdout.strip(), "1")  # the tick started the demo scan
            # This process (the web server) counted nothing; the folder has the tick's.
            with (
                self.settings(METRICS_TOKEN="scrape-token"),
                mock.patch.dict(os.environ, {"PROMETHEUS_MULTIPROC_DIR": str(metrics)}),
            ):
                scraped = self.client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token")
        self.assertEqual(scraped.status_code, 200)
        self.assertIn('scans_scheduled_total{trigger="scheduled"} 1.0', scraped.content.decode())
