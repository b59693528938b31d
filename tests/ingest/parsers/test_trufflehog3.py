"""trufflehog3 (the Python tool): both JSON generations, and no secret ever kept.

Real files: the shared `trufflehog3/*` (current and legacy formats) and, under
`data/trufflehog3/`, trufflehog3 3.0.10's own output on the sample app and on a small git
repository holding a fake AWS key and a generated EC private key, committed then removed
(see data/README.md).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from findings.rules.categories import FindingType
from findings.rules.severity import Severity
from ingest.parsers import trufflehog3
from ingest.parsers.detect import detect_format, parse_report
from protocol.report import Report, ReportError, fingerprint_of
from tests.shared_data import DATA, read

FIXTURES = Path(__file__).parent / "data" / "trufflehog3"
KEY_LINE = re.compile(r"^[+-]?([A-Za-z0-9+/=]{16,})$")


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def stored(report: Report) -> str:
    """Every field of every finding, as the pipeline would store them: all but the
    in-memory `secret_values`, which only the server's secret policy reads."""
    fields = [dataclasses.asdict(f) for f in report.findings]
    return json.dumps([{k: v for k, v in f.items() if k != "secret_values"} for f in fields])


def distinct(report: Report) -> list:
    """One finding per fingerprint, as the pipeline stores them (repeats are skipped)."""
    return list({fingerprint_of(f): f for f in report.findings}.values())


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def issue(**fields: object) -> dict:
    return {
        "rule": {
            "id": "amazon.aws-api-key",
            "message": "AWS API Key",
            "pattern": "AKIA[0-9A-Z]{16}",
            "severity": "MEDIUM",
        },
        "path": "config.py",
        "line": "3",
        "secret": "AKIAIOSFODNN7EXAMPLE",
        "context": {"3": 'KEY = "AKIAIOSFODNN7EXAMPLE"'},
        "id": "a4ed6cee-ab83-3825-a923-821bb03b6591",
        "branch": None,
        "message": None,
        "author": None,
        "commit": None,
        "date": None,
        **fields,
    }


def parse_issues(*issues: dict) -> Report:
    return trufflehog3.parse(json.dumps(list(issues)))


class TestSharedFiles:
    def test_every_trufflehog3_file_is_counted_here(self):
        assert {p.name for p in (DATA / "trufflehog3").iterdir()} == {
            "many_vulns_current.json",
            "many_vulns_legacy.json",
            "zero_vulns.json",
        }

    def test_the_current_format_gives_four_findings_of_three_secrets(self):
        report = trufflehog3.parse(read("trufflehog3/many_vulns_current.json"))
        assert len(report.findings) == 4
        # The 2nd and 4th are one secret of one file (the same trufflehog3 id): one finding.
        assert len(distinct(report)) == 3
        assert [f.severity for f in report.findings] == [
            Severity.HIGH,
            Severity.MEDIUM,
            Severity.LOW,
            Severity.MEDIUM,
        ]
        assert {f.finding_type for f in report.findings} == {FindingType.SECRET}

    def test_a_git_history_issue_keeps_its_commit_and_a_masked_line(self):
        finding = trufflehog3.parse(read("trufflehog3/many_vulns_current.json")).findings[0]
        assert (finding.rule_id, finding.title) == (
            "high-entropy",
            "High Entropy in docker/Dockerfile",
        )
        assert (finding.file_path, finding.start_line, finding.end_line) == (
            "docker/Dockerfile",
            3,
            3,
        )
        assert finding.snippet == "+FROM python:3.9.7-alpine@sha256:••••••••"
        assert finding.fingerprint == "6ac0ab3b-5f34-3d2a-886c-08424de77b23"
        # The fixed mask: no prefix, no length.
        assert finding.metadata["secret"] == {
            "secret_type": "High Entropy",
            "masked_value": "••••••••",
        }
        assert finding.metadata["commit"] == "9c3f4d641d14eba2740febccd902cde300218a8d"
        assert (
            finding.metadata["commit_message"] == "Bump python from 3.9.7-alpine to 3.10.0-alpine"
        )
        assert finding.metadata["commit_date"] == "2021-10-08T20:14:27+02:00"
        assert finding.metadata["branch"] == "python-ab08dd9"

    def test_only_the_matched_line_is_kept_not_its_neighbours(self):
        finding = trufflehog3.parse(read("trufflehog3/many_vulns_current.json")).findings[2]
        assert finding.snippet == "DD_API_KEY=••••••••"  # not "second line of context"
        assert "commit" not in finding.metadata  # a working-tree issue

    def test_the_legacy_format_gives_one_finding_per_string_found(self):
        report = trufflehog3.parse(read("trufflehog3/many_vulns_legacy.json"))
        # 32 issues hold 74 strings; without their diff markers, 21 distinct lines.
        assert len(report.findings) == 74
        assert len(distinct(report)) == 21
        assert {f.severity for f in report.findings} == {Severity.MEDIUM}
        assert Counter(f.file_path for f in distinct(report))["fixtures/users.json"] == 11

    def test_a_legacy_finding_keeps_nothing_of_its_line(self):
        raw = read("trufflehog3/many_vulns_legacy.json")
        finding = trufflehog3.parse(raw).findings[0]
        assert (finding.rule_id, finding.title, finding.start_line) == (
            "high-entropy",
            "High entropy in fixtures/users.json",
            None,
        )
        assert finding.snippet == ""
        assert finding.metadata["secret"] == {
            "secret_type": "High entropy",
            "masked_value": "••••••••",
        }
        assert finding.metadata["commit"] == "3e2d1f58bf2ee974fb1195373d8526876fd6348b"
        assert finding.metadata["commit_message"] == "Update users.json"
        for entry in json.loads(raw):
            for line in entry["stringsFound"]:
                assert line.lstrip("+-").strip() not in stored(trufflehog3.parse(raw))

    def test_a_line_added_then_removed_is_one_finding(self):
        [added, removed] = [
            {"path": "a.py", "reason": "High entropy", "stringsFound": [marker + "token = x9Fq2"]}
            for marker in ("+", "-")
        ]
        report = parse_issues(added, removed)
        assert fingerprint_of(report.findings[0]) == fingerprint_of(report.findings[1])

    def test_the_empty_report_must_be_named_and_is_empty(self):
        with pytest.raises(ReportError, match="nothing tells its format"):
            detect_format(read("trufflehog3/zero_vulns.json"))
        assert parse_report(read("trufflehog3/zero_vulns.json"), "trufflehog3").findings == []


class TestRealRunOnTheSampleApp:
    def test_three_secrets_none_shown_even_by_a_prefix(self):
        report = trufflehog3.parse(fixture("vulnerable-app.json"))
        assert [(f.rule_id, f.file_path, f.start_line) for f in report.findings] == [
            ("amazon.aws-api-key", "config.py", 12),
            ("high-entropy", "Dockerfile", 5),
            ("high-entropy", "config.py", 13),
        ]
        aws = report.findings[0]
        assert aws.metadata["secret"]["masked_value"] == "••••••••"
        assert aws.metadata["rule_pattern"] == "AKIA[0-9A-Z]{16}"
        assert aws.snippet == 'AWS_ACCESS_KEY_ID = "••••••••"'
        assert report.findings[1].snippet == "ENV AWS_SECRET_ACCESS_••••••••"
        assert "wJalrXUtnFEMI" not in stored(report) and "AKIAIOSFODNN7" not in stored(report)


class TestRealRunOnAGitHistoryWithAPrivateKey:
    def raw_issues(self) -> list[dict]:
        return json.loads(fixture("git-history.json"))

    def test_eleven_issues_are_five_secrets(self):
        report = trufflehog3.parse(fixture("git-history.json"))
        assert len(report.findings) == 11
        secrets = distinct(report)
        assert Counter((f.rule_id, f.file_path) for f in secrets) == {
            ("private.key", "deploy_key"): 1,
            ("high-entropy", "deploy_key"): 3,
            ("amazon.aws-api-key", "settings.py"): 1,
        }
        assert Counter(f.severity for f in secrets) == {Severity.HIGH: 1, Severity.MEDIUM: 4}

    def test_the_aws_key_in_the_working_tree_and_in_two_commits_is_one_finding(self):
        aws = [
            f
            for f in trufflehog3.parse(fixture("git-history.json")).findings
            if f.rule_id.startswith("amazon")
        ]
        assert [f.start_line for f in aws] == [3, 3, 4]  # the line moved in the 2nd commit
        assert len({fingerprint_of(f) for f in aws}) == 1

    def test_no_part_of_the_private_key_is_in_any_stored_field(self):
        report = trufflehog3.parse(fixture("git-history.json"))
        key_lines = {
            match.group(1)
            for entry in self.raw_issues()
            if entry["path"] == "deploy_key"
            for text in entry["context"].values()
            if (match := KEY_LINE.match(text))
        }
        assert len(key_lines) == 3  # the EC key's three base64 lines
        everything = stored(report)
        for line in key_lines:
            for start in range(len(line) - 7):
                assert line[start : start + 8] not in everything, "a piece of the key is kept"

    def test_a_private_key_finding_keeps_no_line_and_no_character_of_its_match(self):
        report = trufflehog3.parse(fixture("git-history.json"))
        [key] = [f for f in distinct(report) if f.rule_id == "private.key"]
        assert key.title == "Private Key in deploy_key"
        assert key.snippet == ""
        assert key.metadata["secret"]["masked_value"] == "••••••••"
        entropy = [
            f
            for f in report.findings
            if f.file_path == "deploy_key" and f.rule_id == "high-entropy"
        ]
        # Each line of the key is an entropy hit, its diff marker "+" (a base64 character)
        # included: nothing of the line is left, so no snippet at all.
        assert {f.snippet for f in entropy} == {""}

    def test_no_secret_of_the_report_is_in_any_stored_field(self):
        raw = fixture("git-history.json")
        everything = stored(trufflehog3.parse(raw))
        for entry in json.loads(raw):
            assert entry["secret"] not in everything


class TestMasking:
    def test_every_secret_found_on_a_line_is_masked_in_each_findings_snippet(self):
        line = "creds = AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        report = parse_issues(
            issue(context={"3": line}),
            issue(
                rule={"id": "high-entropy", "message": "High Entropy", "severity": "LOW"},
                secret="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                context={"3": line},
                id="f2618648-d6ed-333e-bca7-f35a2b83f0bd",
            ),
        )
        assert {f.snippet for f in report.findings} == {"creds = ••••••••:••••••••"}

    def test_a_line_that_does_not_show_the_secret_is_not_kept(self):
        [finding] = parse_issues(issue(context={"3": "KEY = os.environ['KEY']"})).findings
        assert finding.snippet == ""

    def test_a_line_with_a_private_key_header_is_not_kept_whatever_the_rule(self):
        line = '"key": "-----BEGIN RSA PRIVATE KEY-----\\nMIIEow0123456789abcdefABCDEF"'
        [finding] = parse_issues(
            issue(
                rule={"id": "high-entropy", "message": "High Entropy"},
                secret="MIIEow0123456789abcdefABCDEF",
                context={"3": line},
            )
        ).findings
        assert finding.snippet == ""
        assert finding.metadata["secret"]["masked_value"] == "••••••••"

    @pytest.mark.parametrize("secret", ["AKIAIOSFODNN7EXAMPLE", "hunter22"])
    def test_a_pattern_match_shows_no_character_and_no_length(self, secret):
        [finding] = parse_issues(issue(secret=secret, context={})).findings
        assert finding.metadata["secret"] == {
            "secret_type": "AWS API Key",
            "masked_value": "••••••••",
        }
        assert finding.secret_values == [secret]


class TestFingerprints:
    def test_the_tool_id_is_the_fingerprint_in_canonical_form(self):
        [finding] = parse_issues(issue(id="A4ED6CEE-AB83-3825-A923-821BB03B6591")).findings
        assert finding.fingerprint == "a4ed6cee-ab83-3825-a923-821bb03b6591"

    @pytest.mark.parametrize("tool_id", [None, "", "not-a-uuid", 42])
    def test_without_a_uuid_the_sdk_secret_formula_applies(self, tool_id):
        [finding] = parse_issues(issue(id=tool_id)).findings
        expected = sha256(
            f"secret:config.py:amazon.aws-api-key:3:{sha256('AKIAIOSFODNN7EXAMPLE')[:16]}"
        )
        assert finding.fingerprint == expected == fingerprint_of(finding)


class TestShapes:
    def test_it_recognizes_both_generations_and_not_other_secret_scanners(self):
        assert trufflehog3.recognizes(json.loads(read("trufflehog3/many_vulns_current.json")))
        assert trufflehog3.recognizes(json.loads(read("trufflehog3/many_vulns_legacy.json")))
        assert not trufflehog3.recognizes(json.loads(read("gitleaks/gitleaks8_many.json")))
        assert not trufflehog3.recognizes([])
        assert not trufflehog3.recognizes({"rule": {}, "path": "a", "secret": "b"})
        assert detect_format(read("trufflehog3/many_vulns_legacy.json")) == "trufflehog3"

    def test_a_missing_severity_is_trufflehog3s_default_medium(self):
        [finding] = parse_issues(issue(rule={"id": "custom", "message": "Custom"})).findings
        assert finding.severity is Severity.MEDIUM

    @pytest.mark.parametrize(
        ("fields", "path"),
        [
            ({"rule": "aws"}, "[0].rule"),
            ({"rule": {"message": "x"}}, "[0].rule.id"),
            ({"rule": {"id": "x", "severity": "URGENT"}}, "[0].rule.severity"),
            ({"line": "three"}, "[0].line"),
            ({"line": -2}, "[0].line"),
            ({"secret": ["a"]}, "[0].secret"),
            ({"context": "3: x"}, "[0].context"),
            ({"path": None}, "[0].path"),
        ],
    )
    def test_a_wrong_shape_names_its_place(self, fields, path):
        with pytest.raises(ReportError) as caught:
            parse_issues(issue(**fields))
        assert caught.value.path == path

    def test_a_document_that_is_not_an_array_is_refused_at_the_body(self):
        with pytest.raises(ReportError) as caught:
            trufflehog3.parse(b'{"path": "a"}')
        assert caught.value.path == "body"
