from __future__ import annotations

import json
from collections import Counter

import pytest

from findings.rules.categories import FindingType
from findings.rules.fingerprint import sast_fingerprint, semgrep_fingerprint
from findings.rules.severity import Severity
from ingest.parsers import semgrep
from protocol.report import ReportError, fingerprint_of
from tests.shared_data import DATA

FILES = DATA / "semgrep"

FINDINGS_PER_FILE = {
    "close_old_findings_report_line31.json": 1,
    "close_old_findings_report_second_run_line24.json": 1,
    "close_old_findings_report_third_run_different_unique_id.json": 1,
    "empty.json": 0,
    "many_vulns.json": 48,
    "one_finding.json": 1,
}


def parse(name: str):
    return semgrep.parse((FILES / name).read_bytes())


def json_documents():
    for path in sorted(DATA.rglob("*")):
        try:
            document = json.loads(path.read_bytes()) if path.is_file() else None
        except ValueError:
            continue  # JSON lines, empty files, the README: not one JSON document
        if isinstance(document, dict | list):
            yield pytest.param(path, document, id=str(path.relative_to(DATA)))


def test_the_shared_data_folder_is_found():
    assert (FILES / "one_finding.json").is_file(), DATA


def test_every_semgrep_file_has_an_expected_count():
    assert sorted(p.name for p in FILES.iterdir()) == sorted(FINDINGS_PER_FILE)


@pytest.mark.parametrize(("name", "count"), FINDINGS_PER_FILE.items())
def test_each_result_becomes_one_finding(name, count):
    report = parse(name)
    assert report.tool_name == "semgrep"
    assert len(report.findings) == count


@pytest.mark.parametrize(("path", "document"), list(json_documents()))
def test_it_recognizes_semgrep_output_and_nothing_else(path, document):
    assert semgrep.recognizes(document) is (path.parent.name == "semgrep")


def test_it_recognizes_neither_ris_nor_flat_reports():
    ris = {"version": "1.0", "metadata": {"timestamp": "2024-01-01T00:00:00Z"}, "findings": []}
    flat = {"version": "1.0", "metadata": {"tool_name": "semgrep"}, "findings": []}
    assert not semgrep.recognizes(ris | {"tool": {"name": "semgrep"}})
    assert not semgrep.recognizes(flat)


def test_one_finding_keeps_rule_location_snippet_and_cwe():
    [finding] = parse("one_finding.json").findings
    assert finding.rule_id == "java.lang.security.audit.cbc-padding-oracle.cbc-padding-oracle"
    assert finding.severity is Severity.MEDIUM  # WARNING
    assert finding.finding_type is FindingType.VULNERABILITY
    assert finding.file_path == "src/main/java/org/owasp/benchmark/testcode/BenchmarkTest02194.java"
    assert (finding.start_line, finding.end_line) == (64, 64)
    assert (finding.start_column, finding.end_column) == (4, 83)
    assert "DES/CBC/PKCS5Padding" in finding.snippet
    assert finding.cwe_ids == ["CWE-696"]
    assert finding.references == [
        "https://capec.mitre.org/data/definitions/463.html",
        "https://find-sec-bugs.github.io/bugs.htm#PADDING_ORACLE",
    ]


def test_the_title_is_one_line_and_the_description_keeps_the_whole_message():
    [finding] = parse("one_finding.json").findings
    assert finding.title == "Using CBC with PKCS5Padding is susceptible to padding orcale attacks."
    assert finding.description.startswith(finding.title)
    assert "Use 'AES/GCM/NoPadding' instead." in finding.description
    assert all("\n" not in f.title for f in parse("many_vulns.json").findings)


def test_many_vulns_has_the_severities_of_the_file():
    findings = parse("many_vulns.json").findings
    # 13 ERROR and 35 WARNING results, none with a metadata.impact.
    assert Counter(f.severity for f in findings) == {Severity.HIGH: 13, Severity.MEDIUM: 35}
    assert Counter(c for f in findings for c in f.cwe_ids) == {
        "CWE-327": 33,
        "CWE-611": 10,
        "CWE-1236": 1,
    }


def test_many_vulns_first_finding_is_the_tempfile_flush_rule():
    finding = parse("many_vulns.json").findings[0]
    assert finding.rule_id == "python.lang.correctness.tempfile.flush.tempfile-without-flush"
    assert finding.severity is Severity.HIGH  # ERROR
    assert (finding.file_path, finding.start_line) == ("tasks.py", 186)
    assert finding.finding_type is FindingType.VULNERABILITY
    assert finding.cwe_ids == []


def test_the_severity_word_decides_and_the_impact_is_only_kept():
    report = parse("close_old_findings_report_line31.json")
    [finding] = report.findings
    # extra.severity is ERROR and metadata.impact MEDIUM: semgrep's SARIF would say
    # `error` with no impact, so the word decides here too (one severity per rule).
    assert finding.severity is Severity.HIGH
    assert finding.metadata["rule_severity"] == "ERROR"
    assert finding.rule_id.endswith("dangerous-subprocess-use-tainted-env-args")
    assert (finding.file_path, finding.start_line) == ("sample/brute.py", 31)
    assert finding.cwe_ids == ["CWE-78"]
    assert finding.confidence == 60
    assert finding.metadata["impact"] == "MEDIUM"
    assert report.tool_version == "1.97.0"


def test_a_finding_whose_line_moved_keeps_its_fingerprint():
    first = parse("close_old_findings_report_line31.json").findings[0]
    moved = parse("close_old_findings_report_second_run_line24.json").findings[0]
    other = parse("close_old_findings_report_third_run_different_unique_id.json").findings[0]
    assert (first.start_line, moved.start_line, other.start_line) == (31, 24, 24)
    assert first.fingerprint.startswith("1d0cfd65fc17a977") and first.fingerprint.endswith("_0")
    assert fingerprint_of(first) == fingerprint_of(moved)
    assert fingerprint_of(other) != fingerprint_of(moved)


def test_without_semgreps_own_fingerprint_the_sast_formula_uses_end_line_zero():
    document = {
        "results": [
            {
                "check_id": "rules.sqli",
                "path": "app/db.py",
                "start": {"line": line, "col": 1},
                "end": {"line": line + 2, "col": 9},
                "extra": {"message": "SQL injection", "severity": "ERROR", "fingerprint": fp},
            }
            for line, fp in ((10, "requires login"), (12, None))
        ],
        "errors": [],
    }
    findings = semgrep.parse(json.dumps(document)).findings
    assert [f.fingerprint for f in findings] == [
        sast_fingerprint(path="app/db.py", rule_id="rules.sqli", start_line=10, end_line=0),
        sast_fingerprint(path="app/db.py", rule_id="rules.sqli", start_line=12, end_line=0),
    ]


def test_login_placeholders_are_not_kept_as_snippets():
    document = {
        "results": [
            {
                "check_id": "r",
                "path": "a.py",
                "start": {"line": 1},
                "end": {"line": 1},
                "extra": {"message": "m", "severity": "INFO", "lines": "requires login"},
            }
        ]
    }
    [finding] = semgrep.parse(json.dumps(document)).findings
    assert finding.snippet == ""
    assert finding.severity is Severity.LOW  # INFO is semgrep's older name for LOW


def test_a_numeric_security_severity_sets_the_score_and_the_severity_as_sarif_does():
    result = {
        "check_id": "r",
        "path": "a.py",
        "start": {"line": 1},
        "extra": {"message": "m", "severity": "INFO", "metadata": {"security-severity": "9.1"}},
    }
    [finding] = semgrep.parse(json.dumps({"results": [result], "errors": []})).findings
    assert (finding.severity, finding.cvss_score) == (Severity.CRITICAL, 9.1)
    assert finding.metadata["security-severity"] == "9.1"


def test_an_unreadable_cwe_is_a_warning_not_a_rejection():
    document = {
        "results": [
            {
                "check_id": "r",
                "path": "a.py",
                "start": {"line": 1},
                "extra": {"message": "m", "metadata": {"cwe": ["CWE-79: XSS", "see docs"]}},
            }
        ]
    }
    report = semgrep.parse(json.dumps(document))
    assert report.findings[0].cwe_ids == ["CWE-79"]
    assert report.warnings == ["results[0].extra.metadata.cwe[1]: 'see docs' is not a CWE id"]


def test_invalid_json_is_rejected():
    with pytest.raises(ReportError, match="not valid JSON"):
        semgrep.parse(b"{")


def test_a_document_that_is_not_an_object_is_rejected_at_the_body():
    with pytest.raises(ReportError) as caught:
        semgrep.parse(b"[1,2]")
    assert caught.value.path == "body"


@pytest.mark.parametrize(
    ("result", "path"),
    [
        ({"check_id": "r", "start": {"line": 1}}, "results[0].path"),
        ({"path": "a.py", "start": {"line": 1}}, "results[0].check_id"),
        ({"check_id": "r", "path": "a.py", "start": {}}, "results[0].start.line"),
        ({"check_id": "r", "path": "a.py", "start": {"line": "7"}}, "results[0].start.line"),
        ({"check_id": "r", "path": "a.py"}, "results[0].start"),
    ],
)
def test_a_malformed_result_is_rejected_with_its_path(result, path):
    with pytest.raises(ReportError) as caught:
        semgrep.parse(json.dumps({"results": [result], "errors": []}))
    assert caught.value.path == path


def test_a_report_without_results_is_rejected():
    with pytest.raises(ReportError) as caught:
        semgrep.parse(b'{"errors": []}')
    assert caught.value.path == "results"


def test_the_matched_line_of_a_hard_coded_credential_is_not_kept():
    import json

    from ingest.parsers.semgrep import parse

    result = {
        "check_id": "python-hardcoded-password",
        "path": "config.py",
        "start": {"line": 8, "col": 1},
        "end": {"line": 8, "col": 30},
        "extra": {
            "message": "A credential is written in the source code.",
            "severity": "WARNING",
            "lines": 'DB_PASSWORD = "SuperSecret123!"',
            "metadata": {"cwe": ["CWE-798: Use of Hard-coded Credentials"]},
        },
    }
    finding = parse(json.dumps({"results": [result], "errors": []})).findings[0]
    assert finding.snippet == ""
    assert "SuperSecret123" not in repr(finding)


@pytest.mark.parametrize(
    ("check_id", "metadata"),
    [
        ("generic.secrets.security.detected-github-token.detected-github-token", {}),
        ("rules.github-token", {"technology": ["secrets", "github"]}),
        ("rules.github-token", {"category": "secrets"}),
    ],
)
def test_a_secret_rule_without_a_cwe_is_a_secret_without_its_line(check_id, metadata):
    result = {
        "check_id": check_id,
        "path": "deploy/ci.sh",
        "start": {"line": 4, "col": 1},
        "end": {"line": 4, "col": 60},
        "extra": {
            "message": "GitHub Token detected",
            "severity": "ERROR",
            "lines": 'export GH_TOKEN="ghp_R8x2Lq7Vn4Tz9Kp3Wm6Hb1Jd5Fs0Yc2Ng8Ea"',
            "fingerprint": "requires login",
            "metadata": metadata,
        },
    }
    [finding] = semgrep.parse(json.dumps({"results": [result], "errors": []})).findings
    assert finding.finding_type is FindingType.SECRET
    assert finding.snippet == ""
    assert "ghp_" not in repr(finding)
    # The identity it had as a vulnerability: an older ingest's finding is the same one.
    assert finding.fingerprint == semgrep_fingerprint(
        tool_fingerprint="requires login", path="deploy/ci.sh", rule_id=check_id, start_line=4
    )


def test_a_rule_that_merely_mentions_secrets_in_its_name_is_no_secret():
    result = {
        "check_id": "terraform.aws.secretsmanager-not-encrypted",
        "path": "main.tf",
        "start": {"line": 4, "col": 1},
        "end": {"line": 4, "col": 9},
        "extra": {"message": "Secrets Manager secret is not encrypted", "lines": "x"},
    }
    [finding] = semgrep.parse(json.dumps({"results": [result], "errors": []})).findings
    assert (finding.finding_type.value, finding.snippet) == ("vulnerability", "x")
