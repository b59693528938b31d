"""The agent reads only inside its work roots, whatever a command names (issue #13,
item 6): targets, `config.path`, rule and template files and reports to collect are
resolved (symlinks followed) and refused, before anything runs, when outside."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from agents.runtime.adapters import SarifTool, ScanError, adapter_for
from agents.runtime.adapters.base import Job
from agents.runtime.adapters.semgrep import SHIPPED_RULES, bundled_rule_sets
from agents.runtime.cli import build_parser, settings_from
from agents.runtime.commands import collect_report
from agents.runtime.config import AgentConfig, ConfigError, build_config
from agents.runtime.confine import OutsideWorkRoots, WorkRoots, default_work_roots
from agents.runtime.jobs import ScanRequest, execute_scan
from agents.runtime.targets import GIT, PATH, Target
from protocol.commands import CollectCommand
from tests.agents.runtime.fakes import SARIF_RESULT, FakeServer, shell_tool
from tests.agents.runtime.test_worker import final_call, running, scan_command
from tests.shared_data import DATA

OUTSIDE = "outside this agent's work roots"


class Host:
    """A machine with a work root holding a checkout, and a directory outside it that
    holds what a scan must never see."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "builds"
        self.app = self.root / "app"
        self.app.mkdir(parents=True)
        (self.app / "app.py").write_text("import os\n")
        self.secrets = tmp_path / "secrets"
        self.secrets.mkdir()
        (self.secrets / "id_rsa").write_text("-----BEGIN PRIVATE KEY-----\n")
        self.ran = tmp_path / "ran"
        script = shell_tool(
            tmp_path / "bin",
            "recordscan",
            f'echo "$2" >> "{self.ran}"\nprintf %s \'{json.dumps(SARIF_RESULT)}\' > "$1"',
        )
        tool = SarifTool.from_config(
            "recordscan", {"command": [str(script), "{output}", "{target}"]}
        )
        self.settings = AgentConfig(
            work_dir=tmp_path / "work",
            work_roots=(self.root,),
            sarif_tools={"recordscan": tool},
            tool_paths={"semgrep": "/bin/true", "nuclei": "/bin/true", "gitleaks": "/bin/true"},
        )

    def scan(self, target: str, scanner: str = "recordscan", **request):
        return execute_scan(ScanRequest(scanner=scanner, target=target, **request), self.settings)

    def refused(self, target: str, scanner: str = "recordscan", **request) -> str:
        with pytest.raises(ScanError) as caught:
            self.scan(target, scanner, **request)
        assert not self.ran.exists(), "the tool ran"
        return str(caught.value)


@pytest.fixture
def host(tmp_path) -> Host:
    return Host(tmp_path)


def test_a_target_inside_a_work_root_is_scanned(host):
    report = host.scan(str(host.app)).report
    assert [f.rule_id for f in report.findings] == ["FAKE001"]
    assert host.ran.read_text().split() == [str(host.app.resolve())]


@pytest.mark.parametrize(
    "spelling",
    [
        lambda h: str(h.secrets),
        lambda h: f"file://{h.secrets}",
        lambda h: f"{h.root}/../secrets",
        lambda h: "/",
        lambda h: "/etc",
    ],
    ids=["absolute", "file-url", "dot-dot", "root", "etc"],
)
def test_a_target_outside_every_work_root_fails_before_the_tool_runs(host, spelling):
    target = spelling(host)
    message = host.refused(target)
    assert f"the target {target!r} is {OUTSIDE}" in message
    assert "refused before anything ran" in message
    assert "--work-root" in message


def test_a_symlink_inside_a_root_is_judged_by_where_it_leads(host):
    (host.root / "innocent").symlink_to(host.secrets)
    assert OUTSIDE in host.refused(str(host.root / "innocent"))
    (host.root / "alias").symlink_to(host.app)
    assert host.scan(str(host.root / "alias")).report.findings


def test_config_path_outside_the_roots_is_refused_for_a_repository_asset(host):
    message = host.refused(
        "github.com/acme/api", target_type="repository", config={"path": str(host.secrets)}
    )
    assert f"config.path {str(host.secrets)!r} is {OUTSIDE}" in message
    report = host.scan(
        "github.com/acme/api", target_type="repository", config={"path": str(host.app)}
    ).report
    assert report.targets[0].identifier == "github.com/acme/api"


def test_config_path_that_is_not_a_string_is_refused(host):
    assert "config.path must name a directory" in host.refused(
        "github.com/acme/api", target_type="repository", config={"path": ["/etc"]}
    )


def test_a_refusal_does_not_tell_whether_the_path_exists(host):
    present = host.refused(str(host.secrets))
    absent = host.refused(str(host.secrets / "nothing"))
    assert OUTSIDE in present and OUTSIDE in absent
    assert "does not exist" not in absent


def test_a_missing_path_inside_a_root_says_it_does_not_exist(host):
    assert "does not exist on this agent" in host.refused(str(host.root / "gone"))


def test_the_agents_own_work_directory_is_never_scanned_even_inside_a_root(host, tmp_path):
    settings = replace(host.settings, work_roots=(tmp_path,))
    spool = settings.work_dir / "spool"
    spool.mkdir(parents=True)
    request = ScanRequest(scanner="recordscan", target=str(spool))
    with pytest.raises(ScanError, match="inside this agent's own work directory"):
        execute_scan(request, settings)
    assert not host.ran.exists()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_agents_own_clones_are_scanned_whatever_the_roots(host, tmp_path):
    repo = tmp_path / "remote"
    shutil.copytree(host.app, repo)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "app"], check=True)
    target = Target(GIT, "github.com/acme/app", clone_url=f"file://{repo}")
    request = ScanRequest(scanner="recordscan", target="")
    assert execute_scan(request, host.settings, target=target).report.findings
    checkout = Path(host.ran.read_text().strip())
    assert checkout.parent == (host.settings.work_dir / "checkouts").resolve()


def test_a_target_handed_in_directly_is_checked_too(host):
    target = Target(PATH, str(host.secrets), local_path=host.secrets)
    with pytest.raises(ScanError, match=OUTSIDE):
        execute_scan(ScanRequest(scanner="recordscan", target=""), host.settings, target=target)
    assert not host.ran.exists()


# ------------------------------------------------------------------ rule files


def test_semgrep_rules_outside_the_roots_are_refused(host):
    rules = host.secrets / "rules.yml"
    rules.write_text("rules: []\n")
    for named in (str(rules), "../../secrets/rules.yml", "~/../../etc/passwd"):
        message = host.refused(str(host.app), "semgrep", config={"rules": named})
        assert f"semgrep rules {named!r} is {OUTSIDE}" in message


def test_semgrep_rules_may_be_in_the_checkout_or_shipped_with_the_agent(host, tmp_path):
    (host.app / ".semgrep").mkdir()
    (host.app / ".semgrep" / "rules.yml").write_text("rules: []\n")
    adapter = adapter_for("semgrep", tool_paths={"semgrep": "/bin/true"})
    roots = host.settings.scan_roots

    def rules(config) -> list[str]:
        target = Target(PATH, str(host.app), local_path=host.app)
        argv = adapter.command(Job(target=target, config=config, job_dir=tmp_path, roots=roots))
        return [argv[i + 1] for i, arg in enumerate(argv) if arg == "--config"]

    assert rules({"rules": ".semgrep/rules.yml"}) == [str(host.app / ".semgrep" / "rules.yml")]
    assert rules({"rules": "python"}) == [str(SHIPPED_RULES / "python.yml")]
    assert rules({"config": str(SHIPPED_RULES)}) == [str(SHIPPED_RULES)]
    assert rules({}) == [str(SHIPPED_RULES)]
    assert "python" in bundled_rule_sets()


def test_nuclei_templates_outside_the_roots_are_refused(host):
    message = host.refused(
        "https://shop.example.com",
        "nuclei",
        target_type="website",
        config={"templates": [str(host.secrets)]},
    )
    assert f"nuclei templates {str(host.secrets)!r} is {OUTSIDE}" in message


def test_a_gitleaks_config_outside_the_roots_is_refused(host):
    for named in (str(host.secrets / "id_rsa"), "../../secrets/id_rsa"):
        message = host.refused(str(host.app), "gitleaks", config={"config_file": named})
        assert OUTSIDE in message


# ------------------------------------------------------------------ collect


def test_a_report_to_collect_must_be_inside_the_roots(host):
    report = DATA / "semgrep" / "many_vulns.json"
    outside = CollectCommand(source_config={"path": str(report)})
    with pytest.raises(ScanError, match=f"the report to collect {str(report)!r} is {OUTSIDE}"):
        collect_report(outside, host.settings.scan_roots)
    copy = host.root / "report.json"
    shutil.copy(report, copy)
    inside = collect_report(
        CollectCommand(source_config={"path": str(copy)}), host.settings.scan_roots
    )
    assert len(inside.findings) == 48


# ------------------------------------------------------------------ the worker


def test_the_worker_fails_a_command_outside_its_roots_and_says_why(host):
    with FakeServer() as server:
        server.queue_commands(scan_command("c1", "recordscan", str(host.secrets)))
        settings = replace(
            host.settings,
            api_url=server.url,
            api_key="rdv_test_key",
            poll_interval=0.05,
            heartbeat_interval=0.2,
            spool_interval=0.2,
            backoff=0.01,
            retries=1,
        )
        with running(settings):
            done = final_call(server, "c1")
    assert done.path.endswith("/c1/fail")
    assert f"{str(host.secrets)!r} is {OUTSIDE}" in done.body["error_message"]
    assert not server.calls("/api/v1/agent/ingest")
    assert not host.ran.exists()


# ------------------------------------------------------------------ settings


def test_work_roots_come_from_flags_or_the_environment(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    args = build_parser().parse_args(["tools", "--work-root", str(one), "--work-root", str(two)])
    assert settings_from(args).work_roots == (one, two)
    env = {"AGENT_WORK_ROOTS": f"{one}:{two}"}
    assert build_config({}, env).work_roots == (one, two)


def test_a_work_root_that_is_not_a_directory_fails_loudly(tmp_path):
    with pytest.raises(ConfigError, match="AGENT_WORK_ROOTS: .* is not a directory"):
        build_config({}, {"AGENT_WORK_ROOTS": str(tmp_path / "typo")})


def test_by_default_the_root_is_the_working_directory_unless_it_is_slash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert default_work_roots() == (tmp_path.resolve(),)
    assert AgentConfig().work_roots == (tmp_path.resolve(),)
    monkeypatch.chdir("/")
    assert default_work_roots() == ()
    # Then only the agent's own clones may be scanned.
    assert AgentConfig(work_dir=tmp_path / "w").scan_roots.roots == (
        (tmp_path / "w" / "checkouts").resolve(),
    )


def test_the_server_cannot_change_the_work_roots(tmp_path):
    settings = AgentConfig(work_dir=tmp_path, work_roots=(tmp_path,))
    updated, applied, ignored = settings.apply_update({"work_roots": ["/"]})
    assert (applied, ignored) == ({}, ["work_roots"])
    assert updated.work_roots == (tmp_path,)


def test_a_root_is_compared_by_where_it_really_is(tmp_path):
    real_root = tmp_path / "real"
    (real_root / "app").mkdir(parents=True)
    (tmp_path / "link").symlink_to(real_root)
    roots = WorkRoots.of([tmp_path / "link"])
    assert roots.check(real_root / "app", "the target") == (real_root / "app").resolve()
    with pytest.raises(OutsideWorkRoots):
        roots.check(tmp_path / "realm", "the target")  # a prefix is not a parent
