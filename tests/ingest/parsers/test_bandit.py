from __future__ import annotations

import json
from collections import Counter

import pytest

from findings.rules.categories import FindingType
from findings.rules.fingerprint import sast_fingerprint
from findings.rules.severity import Severity
from ingest.parsers import bandit
from protocol.report import ReportError, fingerprint_of
from tests.shared_data import DATA

FILES = DATA / "bandit"

FINDINGS_PER_FILE = {"many_vulns.json": 214, "no_vuln.json": 0, "one_vuln.json": 1}


def parse(name: str):
    return bandit.parse((FILES / name).read_bytes())


def json_documents():
    for path in sorted(DATA.rglob("*")):
        try:
            document = json.loads(path.read_bytes()) if path.is_file() else None
        except ValueError:
            continue  # JSON lines, empty files, the README: not one JSON document
        if isinstance(document, dict | list):
            yield pytest.param(path, document, id=str(path.relative_to(DATA)))


def result(**fields):
    return {
        "filename": "app/run.py",
        "test_id": "B602",
        "test_name": "subprocess_popen_with_shell_equals_true",
        "issue_severity": "HIGH",
        "issue_confidence": "HIGH",
        "issue_text": "subprocess call with shell=True identified, security issue.",
        "line_number": 12,
        "line_range": [12],
        **fields,
    }


def test_every_bandit_file_has_an_expected_count():
    assert sorted(p.name for p in FILES.iterdir()) == sorted(FINDINGS_PER_FILE)


@pytest.mark.parametrize(("name", "count"), FINDINGS_PER_FILE.items())
def test_each_result_becomes_one_finding(name, count):
    report = parse(name)
    assert report.tool_name == "bandit"
    assert len(report.findings) == count


@pytest.mark.parametrize(("path", "document"), list(json_documents()))
def test_it_recognizes_bandit_output_and_nothing_else(path, document):
    assert bandit.recognizes(document) is (path.parent.name == "bandit")


def test_one_vuln_keeps_test_location_confidence_and_help_link():
    report = parse("one_vuln.json")
    [finding] = report.findings
    assert (finding.rule_id, finding.rule_name) == ("B101", "assert_used")
    assert finding.severity is Severity.LOW
    assert finding.finding_type is FindingType.VULNERABILITY
    assert (finding.file_path, finding.start_line, finding.end_line) == ("one/one.py", 2, 2)
    assert finding.title == (
        "Use of assert detected. The enclosed code will be removed when compiling to optimised"
        " byte code."
    )
    assert finding.snippet == "1 import os\n2 assert False\n"
    assert finding.confidence == 80
    assert finding.metadata == {"confidence": "HIGH"}
    assert finding.references == [
        "https://bandit.readthedocs.io/en/latest/plugins/b101_assert_used.html"
    ]
    assert finding.url == ""
    assert report.finished_at.isoformat() == "2020-12-30T10:03:39+00:00"


def test_bandit_findings_get_the_shared_sast_fingerprint():
    [finding] = parse("one_vuln.json").findings
    assert finding.fingerprint == ""
    assert fingerprint_of(finding) == sast_fingerprint(
        path="one/one.py", rule_id="B101", start_line=2, end_line=2
    )


def test_many_vulns_has_the_severities_and_confidences_of_the_file():
    findings = parse("many_vulns.json").findings
    assert Counter(f.severity for f in findings) == {Severity.MEDIUM: 155, Severity.LOW: 59}
    # HIGH 205, MEDIUM 6, LOW 3 in the file's issue_confidence.
    assert Counter(f.confidence for f in findings) == {80: 205, 60: 6, 40: 3}


def test_many_vulns_first_finding_spans_its_line_range():
    finding = parse("many_vulns.json").findings[0]
    assert finding.rule_id == "B110"
    assert finding.severity is Severity.LOW
    assert finding.file_path == "dojo/benchmark\\views.py"
    assert (finding.start_line, finding.end_line) == (26, 27)
    assert finding.finding_type is FindingType.VULNERABILITY


def test_newer_bandit_cwe_and_columns_are_read():
    document = {
        "results": [
            result(
                issue_cwe={"id": 78, "link": "https://cwe.mitre.org/data/definitions/78.html"},
                col_offset=4,
                end_col_offset=30,
            )
        ]
    }
    [finding] = bandit.parse(json.dumps(document)).findings
    assert finding.cwe_ids == ["CWE-78"]
    # Bandit counts columns from 0; reports count from 1.
    assert (finding.start_column, finding.end_column) == (5, 31)
    assert finding.severity is Severity.HIGH


def test_undefined_severity_is_medium_as_in_bandits_sarif_and_undefined_confidence_has_no_score():
    document = {"results": [result(issue_severity="UNDEFINED", issue_confidence="UNDEFINED")]}
    [finding] = bandit.parse(json.dumps(document)).findings
    assert finding.severity is Severity.MEDIUM
    assert finding.confidence is None


def test_invalid_json_is_rejected():
    with pytest.raises(ReportError, match="not valid JSON"):
        bandit.parse(b"{")


def test_a_document_that_is_not_an_object_is_rejected_at_the_body():
    with pytest.raises(ReportError) as caught:
        bandit.parse(b"[1,2]")
    assert caught.value.path == "body"


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"filename": None}, "results[0].filename"),
        ({"test_id": ""}, "results[0].test_id"),
        ({"line_number": None}, "results[0].line_number"),
        ({"line_number": "12"}, "results[0].line_number"),
        ({"issue_severity": "SEVERE-ISH"}, "results[0].issue_severity"),
        ({"line_range": [12, "13"]}, "results[0].line_range[1]"),
    ],
)
def test_a_malformed_result_is_rejected_with_its_path(fields, path):
    with pytest.raises(ReportError) as caught:
        bandit.parse(json.dumps({"results": [result(**fields)]}))
    assert caught.value.path == path


def test_hardcoded_passwords_are_secrets_masked_in_the_message_and_never_kept_in_the_snippet():
    import json

    from ingest.parsers.bandit import parse

    report = {
        "results": [
            {
                "test_id": "B105",
                "test_name": "hardcoded_password_string",
                "issue_text": "Possible hardcoded password: 'wJalrXUtnFEMI/K7MDENGEXAMPLE'",
                "issue_severity": "LOW",
                "issue_confidence": "MEDIUM",
                "filename": "config.py",
                "line_number": 3,
                "line_range": [3],
                "code": "3 SECRET = 'wJalrXUtnFEMI/K7MDENGEXAMPLE'\n",
            }
        ],
        "errors": [],
        "metrics": {},
    }
    finding = parse(json.dumps(report)).findings[0]
    assert finding.title == "Possible hardcoded password: '••••••••'"
    assert finding.description == finding.title
    assert finding.snippet == ""
    assert "wJal" not in repr(finding)
    # A secret, whose value only the server's secret policy sees (ingest/secrets.py); it
    # keeps the sast identity it had as a vulnerability.
    assert finding.finding_type is FindingType.SECRET
    assert finding.secret_values == ["wJalrXUtnFEMI/K7MDENGEXAMPLE"]
    assert finding.metadata["secret"] == {
        "secret_type": "hardcoded_password_string",
        "masked_value": "••••••••",
    }
    assert finding.fingerprint == sast_fingerprint(
        path="config.py", rule_id="B105", start_line=3, end_line=3
    )


def test_the_password_checks_of_a_real_report_are_its_only_secrets():
    findings = parse("many_vulns.json").findings
    secrets = [f for f in findings if f.finding_type is FindingType.SECRET]
    assert [(f.rule_id, f.file_path, f.start_line) for f in secrets] == [
        ("B105", "dojo/models.py", 2392),
        ("B105", "dojo/models.py", 2394),
        ("B105", "dojo/okta.py", 36),
        ("B105", "dojo/okta.py", 69),
    ]
    assert {f.title for f in secrets} == {"Possible hardcoded password: '••••••••'"}
    assert {f.snippet for f in secrets} == {""}
    assert [f.secret_values for f in secrets] == [["Pass"], ["Fail"], ["POST"], ["POST"]]
