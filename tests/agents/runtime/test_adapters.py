from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agents.runtime.adapters import ToolMissing, adapter_for, installed_tools
from agents.runtime.adapters.base import Job, ScanError
from agents.runtime.adapters.semgrep import SHIPPED_RULES
from agents.runtime.config import AgentConfig
from agents.runtime.jobs import ScanRequest, execute_scan
from agents.runtime.targets import PATH, Target
from findings.rules.severity import Severity
from tests.agents.runtime.fakes import SAMPLE_APP, shell_tool
from tests.shared_data import DATA

needs_semgrep = pytest.mark.skipif(shutil.which("semgrep") is None, reason="semgrep not on PATH")


def scan(tmp_path: Path, scanner: str, target: str, *, tools=None, **request):
    settings = AgentConfig(work_dir=tmp_path / "work", tool_paths=tools or {})
    return execute_scan(ScanRequest(scanner=scanner, target=target, **request), settings)


def copying_tool(tmp_path: Path, name: str, flag: str, data: str, code: int) -> dict:
    """A stand-in that writes a recorded real report where the adapter asked for it."""
    body = f"""
while [ $# -gt 0 ]; do [ "$1" = "{flag}" ] && out="$2"; shift; done
cp "{DATA / data}" "$out"
exit {code}"""
    return {name: str(shell_tool(tmp_path / "bin", name, body))}


def command_of(name: str, tmp_path: Path, target: Target, **config) -> list[str]:
    adapter = adapter_for(name, tool_paths={name.split("-")[0]: "/bin/true"})
    return adapter.command(Job(target=target, config=config, job_dir=tmp_path))


def local(path: Path) -> Target:
    return Target(PATH, str(path), local_path=path)


def test_bandit_on_the_sample_app_reports_its_high_flaws_with_relative_paths(tmp_path):
    outcome = scan(tmp_path, "bandit", str(SAMPLE_APP))
    report = outcome.report
    assert outcome.exit_code == 1  # bandit's "issues found" is a successful scan
    assert report.tool_name == "bandit" and report.tool_version
    high = {(f.rule_id, f.file_path) for f in report.findings if f.severity == Severity.HIGH}
    assert {("B602", "app.py"), ("B501", "app.py"), ("B324", "app.py")} <= high
    assert all(not f.file_path.startswith(("/", "./")) for f in report.findings)
    assert list((tmp_path / "work" / "jobs").iterdir()) == []


def test_semgrep_runs_offline_with_the_shipped_rules_when_none_are_named(tmp_path):
    argv = command_of("semgrep", tmp_path, local(SAMPLE_APP))
    assert "--metrics=off" in argv
    assert argv[argv.index("--config") + 1] == str(SHIPPED_RULES)
    assert argv[-1] == "."


@pytest.mark.parametrize("rules", ["p/python", "auto", "r/python.lang", "https://x/rules.yml"])
def test_semgrep_refuses_registry_rules_with_the_reason(tmp_path, rules):
    with pytest.raises(ScanError, match="registry"):
        command_of("semgrep", tmp_path, local(SAMPLE_APP), rules=rules)


@needs_semgrep
def test_semgrep_flags_the_sample_app_with_the_shipped_rules_and_stable_rule_ids(tmp_path):
    report = scan(tmp_path, "semgrep", str(SAMPLE_APP)).report
    rules = {(f.rule_id, f.file_path) for f in report.findings}
    assert ("python-subprocess-shell-true", "app.py") in rules
    assert ("python-sql-string-formatting", "db.py") in rules
    assert ("aws-access-key-id", "config.py") in rules


def test_semgrep_exiting_2_fails_the_scan_instead_of_reporting_it_clean(tmp_path):
    tool = shell_tool(tmp_path / "bin", "semgrep", 'echo "invalid rule" >&2; exit 2')
    with pytest.raises(ScanError, match="semgrep failed with exit code 2: invalid rule"):
        scan(tmp_path, "semgrep", str(SAMPLE_APP), tools={"semgrep": str(tool)})


def test_trivy_without_its_database_fails_the_scan(tmp_path):
    body = """echo '2024-01-01T00:00:00Z FATAL init error: failed to download vulnerability DB' >&2
exit 1"""
    tool = shell_tool(tmp_path / "bin", "trivy", body)
    with pytest.raises(ScanError, match="exit code 1.*failed to download vulnerability DB"):
        scan(tmp_path, "trivy", str(SAMPLE_APP), tools={"trivy": str(tool)})


def test_trivy_that_exits_0_but_could_not_download_its_database_is_not_clean(tmp_path):
    body = """while [ $# -gt 0 ]; do [ "$1" = "--output" ] && out="$2"; shift; done
echo '{"SchemaVersion": 2, "ArtifactName": ".", "ArtifactType": "filesystem"}' > "$out"
echo 'WARN failed to download vulnerability DB: network unreachable' >&2"""
    tool = shell_tool(tmp_path / "bin", "trivy", body)
    with pytest.raises(ScanError, match="vulnerability database"):
        scan(tmp_path, "trivy", str(SAMPLE_APP), tools={"trivy": str(tool)})


def test_trivy_reads_its_recorded_report(tmp_path):
    tools = copying_tool(tmp_path, "trivy", "--output", "trivy/scheme_2_many_vulns.json", 0)
    report = scan(tmp_path, "trivy-fs", str(SAMPLE_APP), tools=tools).report
    assert len(report.findings) == 5


def test_trivy_scans_an_image_only_in_image_mode(tmp_path):
    image = Target("image", "nginx:1.25")
    assert command_of("trivy", tmp_path, image)[1:2] == ["image"]
    assert command_of("trivy", tmp_path, image)[-1] == "nginx:1.25"
    assert command_of("trivy-config", tmp_path, local(SAMPLE_APP))[1] == "config"
    with pytest.raises(ScanError, match="trivy image cannot scan a path target"):
        command_of("trivy-image", tmp_path, local(SAMPLE_APP))


def test_gitleaks_leaks_found_is_a_successful_scan(tmp_path):
    tools = copying_tool(tmp_path, "gitleaks", "--report-path", "gitleaks/gitleaks8_many.json", 42)
    report = scan(tmp_path, "gitleaks", str(SAMPLE_APP), tools=tools).report
    assert len(report.findings) == 4


def test_gitleaks_dying_with_exit_1_fails_the_scan(tmp_path):
    tools = copying_tool(tmp_path, "gitleaks", "--report-path", "gitleaks/no_findings.json", 1)
    with pytest.raises(ScanError, match="gitleaks failed with exit code 1"):
        scan(tmp_path, "gitleaks", str(SAMPLE_APP), tools=tools)


def test_checkov_failed_checks_exit_is_a_successful_scan(tmp_path):
    body = f'cat "{DATA / "checkov/checkov-report-many-vuln.json"}"; exit 1'
    tool = shell_tool(tmp_path / "bin", "checkov", body)
    report = scan(tmp_path, "checkov", str(SAMPLE_APP), tools={"checkov": str(tool)}).report
    assert len(report.findings) == 3
    assert "--skip-download" in command_of("checkov", tmp_path, local(SAMPLE_APP))


def test_detect_secrets_reads_its_baseline_from_stdout(tmp_path):
    body = f'cat "{DATA / "detect_secrets/many_findings.json"}"'
    tool = shell_tool(tmp_path / "bin", "detect-secrets", body)
    tools = {"detect-secrets": str(tool)}
    report = scan(tmp_path, "detect-secrets", str(SAMPLE_APP), tools=tools).report
    assert len(report.findings) == 4


def test_nuclei_needs_local_templates(tmp_path):
    with pytest.raises(ScanError, match="needs local templates"):
        command_of("nuclei", tmp_path, Target("url", "https://shop.example.com"))


def test_a_tool_that_is_not_installed_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissing, match="gitleaks is not installed on this agent"):
        scan(tmp_path, "gitleaks", str(SAMPLE_APP))
    with pytest.raises(ToolMissing, match="configured path /nowhere/bandit is not executable"):
        scan(tmp_path, "bandit", str(SAMPLE_APP), tools={"bandit": "/nowhere/bandit"})


def test_an_unknown_scanner_names_the_ones_it_knows(tmp_path):
    with pytest.raises(ScanError, match="no adapter for 'zap'.*bandit"):
        scan(tmp_path, "zap", str(SAMPLE_APP))


@pytest.mark.parametrize(
    ("scanner", "target", "target_type", "reason"),
    [
        ("bandit", "/no/such/dir", "", "'/no/such/dir' is outside this agent's work roots"),
        ("bandit", "https://shop.example.com", "website", "bandit cannot scan a url target"),
        ("nuclei", str(SAMPLE_APP), "", "nuclei cannot scan a path target"),
        ("bandit", "nginx:1.25", "container", "bandit cannot scan a image target"),
        ("bandit", "not a target", "", "cannot tell what 'not a target' is"),
        ("bandit", "", "", "the scan names no target"),
    ],
)
def test_a_bad_target_fails_with_the_reason(tmp_path, scanner, target, target_type, reason):
    with pytest.raises(ScanError) as caught:
        scan(tmp_path, scanner, target, target_type=target_type)
    assert reason in str(caught.value)


def test_only_installed_tools_are_listed(tmp_path):
    checkov = shell_tool(tmp_path / "bin", "checkov", "echo 3.3.30")
    names = {t.name: t for t in installed_tools({"checkov": str(checkov), "trivy": "/no/trivy"})}
    assert names["checkov"].version == "3.3.30"
    assert names["checkov"].capabilities == ("iac",)
    assert "trivy" not in names
    assert "bandit" in names  # from the dev extra, on PATH in the test environment


def test_asking_semgrep_its_version_does_not_wait_for_semgrep_dev(tmp_path):
    # Offline, semgrep's version check hangs for a minute and a half before answering.
    body = '[ "$SEMGREP_ENABLE_VERSION_CHECK" = 0 ] && echo 1.185.0 || sleep 100'
    semgrep = shell_tool(tmp_path / "bin", "semgrep", body)
    (found,) = [t for t in installed_tools({"semgrep": str(semgrep)}) if t.name == "semgrep"]
    assert found.version == "1.185.0"
