from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest

from findings.rules.severity import Severity
from ingest.parsers import nuclei
from protocol.report import ReportError, fingerprint_of
from tests.shared_data import DATA, read


def parse_file(name: str):
    return nuclei.parse(read(f"nuclei/{name}"))


def line(**fields: object) -> dict:
    return {
        "template-id": "CVE-2021-44228",
        "info": {"name": "Log4Shell", "severity": "critical"},
        "type": "http",
        "host": "https://shop.example.com",
        "matched-at": "https://shop.example.com/login",
        **fields,
    }


def jsonl(*records: dict) -> str:
    return "\n".join(json.dumps(record) for record in records) + "\n"


class TestSharedFiles:
    def test_every_nuclei_file_is_counted_here(self):
        assert {p.name for p in (DATA / "nuclei").iterdir()} == {
            "empty.jsonl",
            "many_findings.json",
        }

    def test_an_empty_file_is_an_empty_report(self):
        report = parse_file("empty.jsonl")
        assert (report.tool_name, report.findings, report.targets) == ("nuclei", [], [])

    def test_each_of_the_18_lines_is_a_finding(self):
        report = parse_file("many_findings.json")
        assert len(report.findings) == 18
        assert dict(Counter(f.severity.value for f in report.findings)) == {
            "low": 1,
            "info": 16,
            "medium": 1,
        }
        assert {f.finding_type.value for f in report.findings} == {"vulnerability"}

    def test_the_first_line_reads_the_pre_2_8_key_spellings(self):
        finding = parse_file("many_findings.json").findings[0]
        assert (finding.rule_id, finding.title, finding.severity) == (
            "openssh5.3-detect",
            "OpenSSH 5.3 Detection",
            Severity.LOW,
        )
        assert finding.url == "nuclei-example.com:22"
        assert finding.references == [
            "http://seclists.org/fulldisclosure/2016/Jul/51",
            "https://security-tracker.debian.org/tracker/CVE-2016-6210",
            "http://openwall.com/lists/oss-security/2016/08/01/2",
        ]
        assert finding.metadata["tags"] == ["network", "openssh"]

    def test_the_medium_finding_is_the_phpmyadmin_setup_page(self):
        [finding] = [
            f for f in parse_file("many_findings.json").findings if f.severity is Severity.MEDIUM
        ]
        assert finding.rule_id == "phpmyadmin-setup"
        assert finding.url == "https://nuclei-example.com/phpmyadmin/setup/index.php"
        assert finding.references == ["https://hackerone.com/reports/297339"]

    def test_the_matcher_name_is_kept(self):
        findings = parse_file("many_findings.json").findings
        assert [f.metadata.get("matcher_name") for f in findings[3:6]] == [
            "animate.css",
            "bootstrap",
            "font-awesome",
        ]

    def test_the_fingerprint_is_the_sdk_nuclei_formula(self):
        findings = parse_file("many_findings.json").findings
        expected = "openssh5.3-detect|https://nuclei-example.com|nuclei-example.com:22|"
        assert findings[0].fingerprint == hashlib.sha256(expected.encode()).hexdigest()
        expected = (
            "tech-detect|http://127.0.0.1:8080/WebGoat|http://127.0.0.1:8080/WebGoat|bootstrap"
        )
        assert findings[4].fingerprint == hashlib.sha256(expected.encode()).hexdigest()
        assert fingerprint_of(findings[0]) == findings[0].fingerprint

    def test_results_on_three_machines_give_no_target(self):
        assert parse_file("many_findings.json").targets == []


class TestCurrentFormat:
    def test_classification_fills_cve_cwe_and_cvss(self):
        classification = {
            "cve-id": ["cve-2021-44228"],
            "cwe-id": ["cwe-502", "CWE-917"],
            "cvss-score": 10.0,
            "cvss-metrics": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
            "epss-score": 0.97,
        }
        record = line(
            info={"name": "Log4Shell", "severity": "critical", "classification": classification}
        )
        [finding] = nuclei.parse(jsonl(record)).findings
        assert (finding.cve_id, finding.cwe_ids) == ("CVE-2021-44228", ["CWE-502", "CWE-917"])
        assert (finding.cvss_score, finding.epss_score) == (10.0, 0.97)
        assert finding.cvss_vector.startswith("CVSS:3.1/")
        assert finding.severity is Severity.CRITICAL

    def test_matched_at_is_the_url_and_matcher_name_enters_the_fingerprint(self):
        [finding] = nuclei.parse(jsonl(line(**{"matcher-name": "jndi"}))).findings
        assert finding.url == "https://shop.example.com/login"
        expected = "CVE-2021-44228|https://shop.example.com|https://shop.example.com/login|jndi"
        assert finding.fingerprint == hashlib.sha256(expected.encode()).hexdigest()

    def test_results_on_one_machine_make_it_the_target(self):
        report = nuclei.parse(jsonl(line(), line(host="http://shop.example.com:8080")))
        assert [t.identifier for t in report.targets] == ["shop.example.com"]
        assert {f.target_index for f in report.findings} == {None}

    @pytest.mark.parametrize("word", ["unknown", None])
    def test_an_unknown_or_missing_severity_is_info(self, word):
        [finding] = nuclei.parse(jsonl(line(info={"name": "x", "severity": word}))).findings
        assert finding.severity is Severity.INFO

    def test_a_json_array_export_is_read_too(self):
        report = nuclei.parse(json.dumps([line(), line()]))
        assert len(report.findings) == 2

    def test_blank_lines_and_crlf_are_tolerated(self):
        raw = "\r\n" + json.dumps(line()) + "\r\n\r\n" + json.dumps(line()) + "\r\n"
        assert len(nuclei.parse(raw.encode()).findings) == 2

    def test_request_and_response_are_not_kept(self):
        record = line(request="GET / HTTP/1.1\nCookie: session=abc", response="HTTP/1.1 200")
        [finding] = nuclei.parse(jsonl(record)).findings
        assert "session=abc" not in repr(finding)


class TestMalformedLines:
    def test_a_line_that_is_not_json_is_named_by_its_number(self):
        with pytest.raises(ReportError) as caught:
            nuclei.parse(json.dumps(line()) + "\n{not json\n")
        assert caught.value.path == "line 2"

    def test_a_result_without_template_is_named(self):
        record = line()
        del record["template-id"]
        with pytest.raises(ReportError) as caught:
            nuclei.parse(jsonl(line(), record))
        assert caught.value.path == "line 2.template-id"

    @pytest.mark.parametrize(
        ("fields", "path"),
        [
            ({"info": "Log4Shell"}, "line 1.info"),
            ({"info": {"name": "x", "severity": 3}}, "line 1.info.severity"),
            (
                {"info": {"name": "x", "classification": {"cvss-score": 11}}},
                "line 1.info.classification.cvss-score",
            ),
        ],
    )
    def test_a_wrong_shape_names_its_place(self, fields, path):
        with pytest.raises(ReportError) as caught:
            nuclei.parse(jsonl(line(**fields)))
        assert caught.value.path == path

    def test_a_line_that_is_not_an_object_is_named(self):
        with pytest.raises(ReportError) as caught:
            nuclei.parse(json.dumps(line()) + "\n[1]\n")
        assert caught.value.path == "line 2"


class TestRecognition:
    def test_it_recognizes_the_list_of_decoded_lines(self):
        records = [json.loads(text) for text in read("nuclei/many_findings.json").splitlines()]
        assert nuclei.recognizes(records)

    @pytest.mark.parametrize("document", [[], {}, [{"info": {}}], line(), [line(), 3]])
    def test_other_documents_are_not_nuclei(self, document):
        assert not nuclei.recognizes(document)
