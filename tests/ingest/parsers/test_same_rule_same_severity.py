"""One tool gives one severity for one rule, whatever the format it wrote.

The fixtures are one scan each, written by the real tool in both of its formats over the
sample app (`samples/vulnerable-app`): semgrep 1.185.0 with the agent's shipped rules and
`data/semgrep/registry-style.yml` (every severity word, impacts that the reference SDK
would rank above them, a numeric `security-severity`), and bandit 1.9.4 (see
data/README.md). Before, the semgrep JSON made `impact: HIGH` critical while its SARIF
could not say so.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from pathlib import Path

import pytest

from ingest.parsers import bandit, sarif, semgrep
from protocol.report import Report

FIXTURES = Path(__file__).parent / "data"
TOOLS = {"semgrep": semgrep, "bandit": bandit}


def both(tool: str) -> tuple[Report, Report]:
    native = TOOLS[tool].parse((FIXTURES / tool / "vulnerable-app.json").read_bytes())
    from_sarif = sarif.parse((FIXTURES / tool / "vulnerable-app.sarif").read_bytes())
    return native, from_sarif


def severities_by_rule(report: Report) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for finding in report.findings:
        found[finding.rule_id].add(finding.severity.value)
    return dict(found)


def by_place(report: Report) -> dict[tuple[str, str, int | None], object]:
    return {(f.rule_id, f.file_path, f.start_line): f for f in report.findings}


@pytest.mark.parametrize("tool", TOOLS)
def test_both_formats_of_one_scan_give_each_rule_the_same_severity(tool):
    native, from_sarif = both(tool)
    assert len(native.findings) == len(from_sarif.findings)
    assert severities_by_rule(native) == severities_by_rule(from_sarif)
    # And finding by finding, at the same place.
    assert {k: f.severity for k, f in by_place(native).items()} == {
        k: f.severity for k, f in by_place(from_sarif).items()
    }


@pytest.mark.parametrize("tool", TOOLS)
def test_each_rule_has_a_single_severity(tool):
    for report in both(tool):
        assert all(len(levels) == 1 for levels in severities_by_rule(report).values())


def test_semgrep_rules_get_the_severity_of_their_word_not_of_their_impact():
    native, _ = both("semgrep")
    prefix = "tests.ingest.parsers.data.semgrep."
    severities = {
        rule.removeprefix(prefix): levels.pop()
        for rule, levels in severities_by_rule(native).items()
        if rule.startswith(prefix)
    }
    assert severities == {
        "subprocess-shell-true": "high",  # ERROR, impact HIGH: no longer critical
        "eval-injection": "high",  # CRITICAL: semgrep's SARIF writes `error` for it too
        "pickle-loads": "critical",  # WARNING, but security-severity 9.1
        "yaml-load-without-safe-loader": "high",  # HIGH; a security-severity word is no score
        "md5-password-digest": "medium",  # MEDIUM
        "sql-built-with-fstring": "low",  # LOW, impact HIGH
        "debug-enabled": "low",  # INFO, semgrep's older name for LOW
        "hardcoded-password-assignment": "high",  # ERROR
    }


def test_a_semgrep_security_severity_is_the_cvss_score_in_both_formats():
    native, from_sarif = both("semgrep")
    rule = "tests.ingest.parsers.data.semgrep.pickle-loads"
    scores = {
        f.cvss_score
        for report in (native, from_sarif)
        for f in report.findings
        if f.rule_id == rule
    }
    assert scores == {9.1}


def test_bandit_sees_ten_rules_in_thirteen_findings():
    native, _ = both("bandit")
    assert severities_by_rule(native) == {
        "B105": {"low"},
        "B301": {"medium"},
        "B307": {"medium"},
        "B324": {"high"},
        "B403": {"low"},
        "B404": {"low"},
        "B501": {"high"},
        "B506": {"medium"},
        "B602": {"high"},
        "B608": {"medium"},
    }


def stored_fields(finding) -> dict:
    """What the pipeline may store of a finding: all but the in-memory `secret_values`."""
    fields = dataclasses.asdict(finding)
    fields.pop("secret_values")
    return fields


@pytest.mark.parametrize("tool", TOOLS)
def test_a_hard_coded_credential_is_stored_without_its_value_from_either_format(tool):
    # The sample app's fake credentials (samples/vulnerable-app/config.py).
    for report in both(tool):
        stored = json.dumps([stored_fields(f) for f in report.findings], default=str)
        for secret in ("SuperSecret123!", "changeme-db-2024", "wJalrXUtnFEMI", "AKIAIOSFODNN7"):
            assert secret not in stored, f"{secret} kept from {tool}'s {report.tool_name} output"


@pytest.mark.parametrize("tool", TOOLS)
def test_a_hard_coded_credential_is_a_secret_in_both_formats_and_nothing_else_is(tool):
    native, from_sarif = both(tool)
    types = {k: f.finding_type.value for k, f in by_place(native).items()}
    assert types == {k: f.finding_type.value for k, f in by_place(from_sarif).items()}
    expected = {
        "semgrep": {
            "agents.runtime.rules.semgrep.python-hardcoded-password",
            "agents.runtime.rules.semgrep.aws-access-key-id",
            "tests.ingest.parsers.data.semgrep.hardcoded-password-assignment",
        },
        "bandit": {"B105"},
    }
    assert {rule for (rule, _, _), kind in types.items() if kind == "secret"} == expected[tool]
