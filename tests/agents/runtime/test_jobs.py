from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from agents.runtime.adapters import SarifTool, ScanError
from agents.runtime.adapters.base import ScanCancelled
from agents.runtime.config import AgentConfig
from agents.runtime.jobs import ScanRequest, execute_scan, write_templates
from agents.runtime.targets import GIT, Target, resolve_target
from tests.agents.runtime.fakes import SAMPLE_APP, alive, fake_scanner


def settings_with_fake(tmp_path: Path, *options: str) -> AgentConfig:
    script = fake_scanner(tmp_path / "bin")
    tool = SarifTool.from_config(
        "fakescan", {"command": [str(script), "{output}", "{target}", *options]}
    )
    return AgentConfig(work_dir=tmp_path / "work", sarif_tools={"fakescan": tool})


def pids(pidfile: Path, timeout: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pidfile.exists() and pidfile.read_text().strip():
            return [int(p) for p in pidfile.read_text().split()]
        time.sleep(0.05)
    raise AssertionError("the fake scanner never started")


def gone(*processes: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(alive(p) for p in processes):
            return True
        time.sleep(0.05)
    return False


def test_a_sarif_tool_reports_its_findings_under_its_own_name(tmp_path):
    settings = settings_with_fake(tmp_path)
    request = ScanRequest(scanner="fakescan", target=str(SAMPLE_APP), scan_id="session-1")
    report = execute_scan(request, settings).report
    assert report.tool_name == "fakescan"
    assert report.scan_id == "session-1"
    assert [(f.rule_id, f.file_path, f.start_line) for f in report.findings] == [
        ("FAKE001", "app.py", 3)
    ]


def test_a_tool_that_hangs_is_killed_with_its_children_at_the_timeout(tmp_path):
    pidfile = tmp_path / "pids"
    settings = settings_with_fake(tmp_path, "--sleep", "600", "--pidfile", str(pidfile))
    request = ScanRequest(scanner="fakescan", target=str(SAMPLE_APP), timeout=1)
    started = time.monotonic()
    with pytest.raises(ScanError, match=r"fakescan timed out after 1 s and was killed"):
        execute_scan(request, settings)
    assert time.monotonic() - started < 15
    assert gone(*pids(pidfile))


def test_cancel_kills_the_running_tool_and_its_children(tmp_path):
    pidfile = tmp_path / "pids"
    settings = settings_with_fake(tmp_path, "--sleep", "600", "--pidfile", str(pidfile))
    cancel = threading.Event()
    errors: list[Exception] = []

    def run():
        try:
            execute_scan(
                ScanRequest(scanner="fakescan", target=str(SAMPLE_APP)), settings, cancel=cancel
            )
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    running = pids(pidfile)
    cancel.set()
    thread.join(timeout=20)
    assert isinstance(errors[0], ScanCancelled)
    assert gone(*running)


def test_an_exit_code_outside_the_tools_list_fails_the_scan(tmp_path):
    settings = settings_with_fake(tmp_path, "--exit", "3")
    with pytest.raises(ScanError, match="fakescan failed with exit code 3"):
        execute_scan(ScanRequest(scanner="fakescan", target=str(SAMPLE_APP)), settings)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_git_target_is_shallow_cloned_scanned_and_removed(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLE_APP, repo)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "sample"], check=True)
    settings = AgentConfig(work_dir=tmp_path / "work")
    target = Target(GIT, "github.com/acme/sample", clone_url=f"file://{repo}")
    report = execute_scan(ScanRequest(scanner="bandit", target=""), settings, target=target).report
    assert {"app.py", "db.py"} <= {f.file_path for f in report.findings}
    assert list((tmp_path / "work" / "checkouts").iterdir()) == []


def test_a_clone_that_fails_names_the_url(tmp_path):
    settings = AgentConfig(work_dir=tmp_path / "work")
    target = Target(GIT, "github.com/acme/none", clone_url=f"file://{tmp_path}/missing")
    with pytest.raises(ScanError, match=f"git clone of file://{tmp_path}/missing failed"):
        execute_scan(ScanRequest(scanner="bandit", target=""), settings, target=target)


@pytest.mark.parametrize(
    ("value", "target_type", "kind"),
    [
        ("github.com/acme/api", "repository", "git"),
        ("https://github.com/acme/api.git", "", "git"),
        ("git@github.com:acme/api.git", "", "git"),
        ("https://shop.example.com", "website", "url"),
        ("https://shop.example.com", "", "url"),
        ("10.0.0.5", "ip_address", "url"),
        ("docker.io/library/nginx:1.25", "container", "image"),
    ],
)
def test_targets_are_told_apart_by_type_and_spelling(value, target_type, kind):
    target = resolve_target(value, target_type)
    assert target.kind == kind
    assert target.asset.identifier == value


def test_a_local_checkout_named_in_the_config_is_scanned_for_a_repository_asset():
    target = resolve_target("github.com/acme/api", "repository", {"path": str(SAMPLE_APP)})
    assert target.kind == "path"
    assert target.local_path == SAMPLE_APP
    assert target.asset.identifier == "github.com/acme/api"


def test_custom_templates_are_checked_against_their_hash(tmp_path):
    content = b"rules: []\n"
    template = {
        "name": "team-rules",
        "template_type": "semgrep",
        "content": base64.b64encode(content).decode(),
        "content_hash": hashlib.sha256(content).hexdigest(),
    }
    (written,) = write_templates(
        [template, {**template, "template_type": "nuclei"}], "semgrep", tmp_path
    )
    assert written.read_bytes() == content
    with pytest.raises(ScanError, match="does not match its content_hash"):
        write_templates([{**template, "content_hash": "0" * 64}], "semgrep", tmp_path)
