from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest

from findings.rules.severity import Severity
from ingest.parsers import sarif
from protocol.report import ReportError, fingerprint_of
from tests.shared_data import DATA, read

# Counted from the files themselves (results per file, all runs).
RESULT_COUNTS = {
    "appendix_k1.sarif": 0,
    "bash-report.sarif": 27,
    "codeQL-output.sarif": 72,
    "njsscan.sarif": 2,
    "no_runs.sarif": 0,
    "suppression_test.sarif": 5,
    "taint-python-report.sarif": 11,
}


def parse_file(name: str):
    return sarif.parse(read(f"sarif/{name}"))


def severities(report) -> dict[str, int]:
    return dict(Counter(finding.severity.value for finding in report.findings))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def log(results: list[dict], rules: list[dict] | None = None, **run: object) -> str:
    driver = {"name": "CodeQL", "version": "2.15.0", "rules": rules or []}
    return json.dumps(
        {"version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": results, **run}]}
    )


def result(**fields: object) -> dict:
    location = {
        "physicalLocation": {"artifactLocation": {"uri": "app/db.py"}, "region": {"startLine": 7}}
    }
    return {
        "ruleId": "py/sql-injection",
        "message": {"text": "SQL built from input"},
        "locations": [location],
        **fields,
    }


class TestEverySharedFile:
    def test_every_sarif_file_is_counted_here(self):
        assert {path.name for path in (DATA / "sarif").iterdir()} == set(RESULT_COUNTS)

    @pytest.mark.parametrize(("name", "count"), sorted(RESULT_COUNTS.items()))
    def test_each_file_yields_one_finding_per_result(self, name, count):
        assert len(parse_file(name).findings) == count


class TestShellcheckViaScan:
    def test_all_27_notes_are_low(self):
        assert severities(parse_file("bash-report.sarif")) == {"low": 27}

    def test_the_first_finding_is_located_relative_to_the_working_directory(self):
        finding = parse_file("bash-report.sarif").findings[0]
        assert (finding.rule_id, finding.severity, finding.tool_name) == (
            "2076",
            Severity.LOW,
            "Shell Script Analysis",
        )
        # file:///home/damien/dd/docker/setEnv.sh, run from file:///home/damien/dd
        assert (finding.file_path, finding.start_line, finding.end_line) == (
            "docker/setEnv.sh",
            134,
            134,
        )
        assert finding.snippet.startswith("if [ ${#} -eq 1 ]")
        assert finding.references == ["https://github.com/koalaman/shellcheck/wiki/SC2076"]
        assert finding.confidence == 80  # precision high

    def test_version_control_provenance_gives_the_target_and_branch(self):
        report = parse_file("bash-report.sarif")
        assert [t.identifier for t in report.targets] == [
            "https://github.com/damiencarol/django-DefectDojo"
        ]
        assert report.branch == {
            "name": "dev",
            "commit_sha": "288c68d1ba1f35ebeff1d1bdb032186a23f0ea5b",
            "repository_url": "https://github.com/damiencarol/django-DefectDojo",
        }
        assert {f.target_index for f in report.findings} == {0}

    def test_partial_fingerprints_are_copied_and_the_sast_formula_applies(self):
        finding = parse_file("bash-report.sarif").findings[0]
        assert finding.partial_fingerprints == {
            "scanPrimaryLocationHash": "47f57f9669991906",
            "scanFileHash": "f196e70ba8d8dace",
        }
        assert finding.fingerprint == ""
        assert fingerprint_of(finding) == sha256("sast:docker/setenv.sh:2076:134:134")


class TestCodeQL:
    def test_levels_come_from_the_rules_default_configuration(self):
        report = parse_file("codeQL-output.sarif")
        assert (report.tool_name, report.tool_version) == ("CodeQL", "2.5.4")
        assert severities(report) == {"low": 57, "high": 11, "medium": 4}

    def test_the_first_finding(self):
        finding = parse_file("codeQL-output.sarif").findings[0]
        assert (finding.rule_id, finding.severity, finding.rule_name) == (
            "py/empty-except",
            Severity.LOW,
            "Empty except",
        )
        assert (finding.file_path, finding.start_line, finding.end_line) == (
            "good/db_init.py",
            39,
            39,
        )
        assert (finding.start_column, finding.end_column) == (5, 30)
        assert finding.cwe_ids == ["CWE-390"]
        assert finding.confidence == 80  # precision high
        assert fingerprint_of(finding) == sha256("sast:good/db_init.py:py/empty-except:39:39")
        assert finding.partial_fingerprints["primaryLocationLineHash"] == "9cbc869fbfffeb60:1"

    def test_cwe_tags_lose_their_leading_zeros(self):
        finding = next(
            f
            for f in parse_file("codeQL-output.sarif").findings
            if f.rule_id == "py/path-injection"
        )
        assert finding.cwe_ids == ["CWE-22", "CWE-23", "CWE-36", "CWE-73", "CWE-99"]
        assert sum(bool(f.cwe_ids) for f in parse_file("codeQL-output.sarif").findings) == 25

    def test_very_high_precision_is_95_confidence(self):
        confidences = Counter(f.confidence for f in parse_file("codeQL-output.sarif").findings)
        assert confidences == {95: 50, 80: 22}

    def test_code_flows_are_summarised(self):
        finding = next(
            f
            for f in parse_file("codeQL-output.sarif").findings
            if f.rule_id == "py/path-injection"
        )
        flows = finding.metadata["code_flows"]
        assert flows["count"] == 2
        assert len(flows["first_path"]) == 5
        assert flows["first_path"][0] == {
            "path": "bad/mod_api.py",
            "start_line": 32,
            "message": "ControlFlowNode for request",
        }
        assert flows["first_path"][-1]["path"] == "bad/libapi.py"
        assert (
            sum("code_flows" in f.metadata for f in parse_file("codeQL-output.sarif").findings) == 5
        )


class TestNjsscan:
    def test_a_result_without_level_or_default_is_a_warning(self):
        first, second = parse_file("njsscan.sarif").findings
        assert (first.rule_id, first.severity, first.metadata["level"]) == (
            "node_insecure_random_generator",
            Severity.MEDIUM,
            "warning",
        )
        assert (first.file_path, first.start_line, first.start_column, first.end_column) == (
            "/src/index.js",
            321,
            21,
            34,
        )
        assert second.severity is Severity.HIGH

    def test_cwe_is_read_from_the_result_properties(self):
        first, second = parse_file("njsscan.sarif").findings
        assert (first.cwe_ids, second.cwe_ids) == (["CWE-327"], ["CWE-798"])

    def test_further_locations_are_kept_in_metadata(self):
        second = parse_file("njsscan.sarif").findings[1]
        assert second.start_line == 235
        assert second.metadata["other_locations"] == [{"path": "/src/index.js", "start_line": 239}]


class TestSuppressions:
    def test_suppressed_results_are_flagged(self):
        findings = parse_file("suppression_test.sarif").findings
        assert [(f.rule_id, f.suppressed) for f in findings] == [
            ("TST0001", True),
            ("TST0002", True),
            ("TST0003", True),
            ("TST0004", False),
            ("TST0005", False),
        ]
        assert severities(parse_file("suppression_test.sarif")) == {"medium": 5}

    def test_a_windows_file_uri_becomes_a_drive_path(self):
        finding = parse_file("suppression_test.sarif").findings[0]
        assert (finding.file_path, finding.start_line, finding.description) == (
            "C:/code/file1.c",
            None,
            "Rule 001",
        )

    def test_a_rejected_suppression_does_not_count(self):
        raw = log([result(suppressions=[{"kind": "inSource", "status": "rejected"}])])
        assert sarif.parse(raw).findings[0].suppressed is False

    def test_a_suppression_under_review_counts(self):
        raw = log([result(suppressions=[{"kind": "external", "status": "underReview"}])])
        assert sarif.parse(raw).findings[0].suppressed is True


class TestTaintPython:
    def test_severity_distribution(self):
        assert severities(parse_file("taint-python-report.sarif")) == {
            "high": 8,
            "medium": 1,
            "low": 2,
        }

    def test_the_first_finding(self):
        finding = parse_file("taint-python-report.sarif").findings[0]
        assert (finding.rule_id, finding.severity, finding.rule_name) == (
            "taint-xmli",
            Severity.HIGH,
            "XML Injection",
        )
        assert (finding.file_path, finding.start_line) == ("dojo/tools/veracode/parser.py", 35)

    def test_a_result_without_level_takes_its_rules_default(self):
        xss = next(
            f
            for f in parse_file("taint-python-report.sarif").findings
            if f.rule_id == "taint-basic-xss"
        )
        assert (xss.metadata["level"], xss.severity) == ("warning", Severity.MEDIUM)


class TestEmptyLogs:
    def test_no_runs_is_an_empty_report(self):
        report = parse_file("no_runs.sarif")
        assert (report.tool_name, report.findings) == ("sarif", [])

    def test_appendix_k1_is_an_empty_report_of_its_tool(self):
        report = parse_file("appendix_k1.sarif")
        assert (report.tool_name, report.findings) == ("CodeScanner", [])


class TestSecuritySeverity:
    rule = {
        "id": "py/sql-injection",
        "defaultConfiguration": {"level": "error"},
        "properties": {
            "security-severity": "8.8",
            "precision": "high",
            "tags": ["security", "external/cwe/cwe-089"],
        },
    }

    def test_security_severity_fills_cvss_and_picks_the_severity(self):
        finding = sarif.parse(log([result(ruleIndex=0)], [self.rule])).findings[0]
        assert (finding.cvss_score, finding.severity) == (8.8, Severity.HIGH)
        assert finding.cwe_ids == ["CWE-89"]

    @pytest.mark.parametrize(
        ("score", "severity"),
        [
            ("9.8", Severity.CRITICAL),
            ("7.0", Severity.HIGH),
            ("4.0", Severity.MEDIUM),
            ("0.1", Severity.LOW),
            ("0.0", Severity.INFO),
        ],
    )
    def test_the_codeql_bands_apply_whatever_the_level(self, score, severity):
        rule = {**self.rule, "properties": {"security-severity": score}}
        finding = sarif.parse(log([result(level="note")], [rule])).findings[0]
        assert (finding.cvss_score, finding.severity) == (float(score), severity)

    def test_a_result_property_overrides_the_rules_score(self):
        finding = sarif.parse(
            log([result(properties={"security-severity": "9.1"})], [self.rule])
        ).findings[0]
        assert (finding.cvss_score, finding.severity) == (9.1, Severity.CRITICAL)

    @pytest.mark.parametrize("score", ["high", "11", "-1", ""])
    def test_a_score_that_is_not_cvss_is_ignored_for_the_level(self, score):
        rule = {**self.rule, "properties": {"security-severity": score}}
        finding = sarif.parse(log([result()], [rule])).findings[0]
        assert (finding.cvss_score, finding.severity) == (None, Severity.HIGH)


class TestRulesAndLevels:
    def test_the_rule_is_found_by_index_when_the_result_has_no_id(self):
        rules = [{"id": "first"}, {"id": "second", "name": "Second rule"}]
        raw = log([{"ruleIndex": 1, "message": {"text": "m"}}], rules)
        finding = sarif.parse(raw).findings[0]
        assert (finding.rule_id, finding.rule_name) == ("second", "Second rule")

    def test_a_rule_in_an_extension_is_found_through_its_tool_component(self):
        document = json.loads(
            log(
                [
                    {
                        "rule": {"id": "js/xss", "index": 0, "toolComponent": {"index": 0}},
                        "message": {"text": "m"},
                    }
                ]
            )
        )
        document["runs"][0]["tool"]["extensions"] = [
            {
                "name": "js-pack",
                "rules": [{"id": "js/xss", "defaultConfiguration": {"level": "error"}}],
            }
        ]
        finding = sarif.from_document(document).findings[0]
        assert (finding.rule_id, finding.severity) == ("js/xss", Severity.HIGH)

    @pytest.mark.parametrize(
        ("level", "severity"),
        [
            ("error", Severity.HIGH),
            ("warning", Severity.MEDIUM),
            ("note", Severity.LOW),
            ("none", Severity.INFO),
        ],
    )
    def test_levels_map_as_in_the_reference_sdk(self, level, severity):
        assert sarif.parse(log([result(level=level)])).findings[0].severity is severity

    def test_results_that_passed_are_not_findings(self):
        report = sarif.parse(log([result(kind="pass"), result()]))
        assert len(report.findings) == 1
        assert report.warnings == ["1 result(s) of kind pass or notApplicable skipped"]

    def test_a_message_template_is_filled_from_the_rule(self):
        rule = {
            "id": "py/sql-injection",
            "messageStrings": {"default": {"text": "Query built from {0} at {1}"}},
        }
        raw = log(
            [result(message={"id": "default", "arguments": ["request.args", "line 7"]})], [rule]
        )
        assert sarif.parse(raw).findings[0].title == "Query built from request.args at line 7"

    def test_every_run_keeps_its_own_tool(self):
        document = json.loads(log([result()]))
        document["runs"].append(
            {"tool": {"driver": {"name": "Semgrep OSS"}}, "results": [result()]}
        )
        report = sarif.from_document(document)
        assert report.tool_name == "CodeQL"
        assert [f.tool_name for f in report.findings] == ["CodeQL", "Semgrep OSS"]


class TestPathsAndFingerprints:
    def location(self, uri: str, **artifact: object) -> dict:
        return {
            "physicalLocation": {
                "artifactLocation": {"uri": uri, **artifact},
                "region": {"startLine": 3},
            }
        }

    @pytest.mark.parametrize(
        ("uri", "expected"),
        [
            ("src/app.py", "src/app.py"),
            ("%SRCROOT%/src/app.py", "src/app.py"),
            ("file:///work/repo/src/my%20app.py", "src/my app.py"),
            ("file:///elsewhere/app.py", "/elsewhere/app.py"),
            ("file:///C:/build/src/app.py", "C:/build/src/app.py"),
        ],
    )
    def test_uris_become_paths_relative_to_the_known_roots(self, uri, expected):
        raw = log(
            [result(locations=[self.location(uri)])],
            originalUriBaseIds={"SRCROOT": {"uri": "file:///work/repo/"}},
        )
        assert sarif.parse(raw).findings[0].file_path == expected

    def test_an_artifact_index_names_the_file_when_the_uri_is_missing(self):
        location = {
            "physicalLocation": {"artifactLocation": {"index": 0}, "region": {"startLine": 3}}
        }
        raw = log([result(locations=[location])], artifacts=[{"location": {"uri": "lib/x.py"}}])
        assert sarif.parse(raw).findings[0].file_path == "lib/x.py"

    def test_the_first_tool_fingerprint_is_kept_as_is(self):
        finding = sarif.parse(
            log([result(fingerprints={"stable/v1": "abc123", "other": "zzz"})])
        ).findings[0]
        assert finding.fingerprint == "abc123"
        assert fingerprint_of(finding) == "abc123"

    def test_a_tool_fingerprint_over_64_characters_is_hashed(self):
        long = "x" * 65
        finding = sarif.parse(log([result(fingerprints={"v": long})])).findings[0]
        assert finding.fingerprint == sha256(long)


class TestMalformedLogs:
    @pytest.mark.parametrize(
        ("document", "path"),
        [
            ({"version": "2.0.0", "runs": []}, "version"),
            ({"runs": []}, "version"),
            ({"version": "2.1.0", "runs": {}}, "runs"),
            ({"version": "2.1.0", "runs": [{"results": []}]}, "runs[0].tool"),
            ({"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}, "runs[0].tool.driver.name"),
        ],
    )
    def test_a_wrong_shape_names_its_place(self, document, path):
        with pytest.raises(ReportError) as caught:
            sarif.parse(json.dumps(document))
        assert caught.value.path == path

    def test_the_fifth_results_bad_locations_are_named(self):
        raw = log([result(), result(), result(), result(), result(locations={"uri": "a.py"})])
        with pytest.raises(ReportError) as caught:
            sarif.parse(raw)
        assert caught.value.path == "runs[0].results[4].locations"

    def test_a_rule_index_out_of_range_is_named(self):
        with pytest.raises(ReportError) as caught:
            sarif.parse(log([result(ruleIndex=3)], [{"id": "only"}]))
        assert caught.value.path == "runs[0].results[0].ruleIndex"

    def test_a_line_that_is_not_a_number_is_named(self):
        location = {
            "physicalLocation": {"artifactLocation": {"uri": "a.py"}, "region": {"startLine": "7"}}
        }
        with pytest.raises(ReportError) as caught:
            sarif.parse(log([result(locations=[location])]))
        assert (
            caught.value.path == "runs[0].results[0].locations[0].physicalLocation.region.startLine"
        )

    @pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe\xfa", b"[]"])
    def test_input_that_is_not_a_sarif_object_is_refused(self, raw):
        with pytest.raises(ReportError):
            sarif.parse(raw)


class TestSecrets:
    """Secrets in SARIF are secrets, as in the tools' own formats (credentials.py)."""

    def gitleaks(self, secret: str = "wJalrXUtnFEMI/K7MDENG") -> str:
        # gitleaks 8 writes the secret itself as the region's snippet.
        region = {"startLine": 12, "endLine": 12, "snippet": {"text": secret}}
        location = {"physicalLocation": {"artifactLocation": {"uri": "app.py"}, "region": region}}
        finding = {
            "ruleId": "aws-secret-access-key",
            "message": {"text": "aws-secret-access-key has detected secret for file app.py."},
            "locations": [location],
            "partialFingerprints": {"commitSha": "9c3f4d6", "commitMessage": f"add {secret}"},
        }
        document = json.loads(log([finding]))
        document["runs"][0]["tool"]["driver"] = {"name": "gitleaks", "semanticVersion": "v8.18.2"}
        return json.dumps(document)

    def test_a_gitleaks_result_is_a_secret_whose_snippet_is_its_value(self):
        [finding] = sarif.parse(self.gitleaks()).findings
        assert finding.finding_type.value == "secret"
        assert finding.snippet == ""
        assert finding.secret_values == ["wJalrXUtnFEMI/K7MDENG"]
        assert finding.partial_fingerprints == {
            "commitSha": "9c3f4d6",
            "commitMessage": "add ••••••••",
        }
        assert finding.metadata["secret"] == {
            "secret_type": "aws-secret-access-key",
            "masked_value": "••••••••",
        }
        assert "wJal" not in repr(finding)

    def test_a_gitleaks_result_keeps_the_identity_it_had_as_a_vulnerability(self):
        [finding] = sarif.parse(self.gitleaks()).findings
        # The stored finding of an older ingest is the same one (findings/migrations/0006).
        assert finding.fingerprint == sha256("sast:app.py:aws-secret-access-key:12:12")
        assert fingerprint_of(finding) == finding.fingerprint

    def test_a_hard_coded_credential_cwe_is_a_secret_with_its_quoted_value_masked(self):
        tags = {"properties": {"tags": ["security", "external/cwe/cwe-798"]}}
        rule = {"id": "py/hardcoded-credentials", **tags}
        message = {"text": "The hard-coded value 'hunter22' is used as a password."}
        [finding] = sarif.parse(
            log([result(ruleId="py/hardcoded-credentials", message=message)], [rule])
        ).findings
        assert finding.finding_type.value == "secret"
        assert finding.title == "The hard-coded value '••••••••' is used as a password."
        assert (finding.snippet, finding.secret_values) == ("", ["hunter22"])

    @pytest.mark.parametrize(
        ("rule_id", "tags", "is_secret"),
        [
            ("generic.secrets.security.detected-aws-key", [], True),
            ("CKV_SECRET_6", [], True),
            ("custom-rule", ["secrets"], True),
            # A misconfiguration of a secret store is not a secret found.
            ("aws-ssm-secret-use-customer-key", [], False),
            ("py/sql-injection", ["security"], False),
        ],
    )
    def test_secret_rules_are_known_by_their_id_or_tags(self, rule_id, tags, is_secret):
        rule = {"id": rule_id, "properties": {"tags": tags}}
        [finding] = sarif.parse(log([result(ruleId=rule_id)], [rule])).findings
        assert (finding.finding_type.value == "secret") is is_secret

    def test_the_njsscan_password_rule_is_a_secret_without_its_line(self):
        password = parse_file("njsscan.sarif").findings[1]
        assert (password.rule_id, password.finding_type.value) == ("node_password", "secret")
        assert password.snippet == ""
