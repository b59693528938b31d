from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest

from findings.rules.severity import Severity
from ingest.parsers import cyclonedx
from protocol.report import ReportError, fingerprint_of
from tests.shared_data import DATA, read


def parse_file(name: str):
    return cyclonedx.parse(read(f"cyclonedx/{name}"))


def severities(report) -> dict[str, int]:
    return dict(Counter(finding.severity.value for finding in report.findings))


def bom(**fields: object) -> str:
    return json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, **fields})


APP = {"type": "application", "bom-ref": "app", "name": "shop", "version": "3.1.0"}
FLASK = {
    "type": "library",
    "bom-ref": "flask",
    "name": "flask",
    "version": "2.0.0",
    "purl": "pkg:pypi/flask@2.0.0",
}
JINJA = {
    "type": "library",
    "bom-ref": "jinja",
    "name": "jinja2",
    "version": "3.0.0",
    "purl": "pkg:pypi/jinja2@3.0.0",
}
GRAPH = [
    {"ref": "app", "dependsOn": ["flask"]},
    {"ref": "flask", "dependsOn": ["jinja"]},
    {"ref": "jinja"},
]


class TestSharedFiles:
    def test_every_cyclonedx_file_is_counted_here_or_in_the_xml_tests(self):
        # The XML ones: tests/ingest/parsers/test_cyclonedx_xml.py.
        assert {p.name for p in (DATA / "cyclonedx").iterdir()} == {
            "jake2.json",
            "log4j.json",
            "log4j.xml",
            "valid-vulnerability-1.4.xml",
        }


class TestJake:
    def test_67_components_and_7_vulnerabilities(self):
        report = parse_file("jake2.json")
        assert (len(report.dependencies), len(report.findings)) == (67, 7)
        assert (report.tool_name, report.tool_version) == ("cyclonedx-python-lib", "1.3.0")
        assert severities(report) == {"high": 3, "medium": 4}

    def test_components_are_pypi_dependencies_of_unknown_relationship(self):
        dependencies = parse_file("jake2.json").dependencies
        assert dependencies[0].name == "webencodings"
        assert (dependencies[0].version, dependencies[0].purl) == (
            "0.5.1",
            "pkg:pypi/webencodings@0.5.1",
        )
        assert (dependencies[0].licenses, dependencies[0].type) == (["BSD"], "library")
        assert {d.ecosystem for d in dependencies} == {"pypi"}
        assert {d.relationship for d in dependencies} == {"unknown"}  # the BOM has no graph
        assert sum(bool(d.licenses) for d in dependencies) == 59

    def test_the_first_vulnerability_names_its_cve_through_references(self):
        finding = parse_file("jake2.json").findings[0]
        assert finding.rule_id == "c7129ff8-08bc-4afe-82ec-7d97b9491741"  # an OSS Index id
        assert (finding.cve_id, finding.severity, finding.cvss_score) == (
            "CVE-2021-33203",
            Severity.HIGH,
            7.5,
        )
        assert finding.cvss_vector == "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"
        assert (finding.package_name, finding.package_version) == ("Django", "2.0")
        assert finding.title == "CVE-2021-33203 in Django 2.0"
        assert "https://nvd.nist.gov/vuln/detail/CVE-2021-33203" in finding.references
        assert finding.metadata["vulnerability"]["purl"] == "pkg:pypi/django@2.0"

    def test_the_fingerprint_is_the_sca_formula(self):
        finding = parse_file("jake2.json").findings[0]
        assert finding.fingerprint == ""
        expected = hashlib.sha256(b"sca:django:2.0:cve-2021-33203").hexdigest()
        assert fingerprint_of(finding) == expected

    def test_a_metadata_block_without_component_gives_no_target(self):
        assert parse_file("jake2.json").targets == []


class TestGrypeLog4j:
    def test_one_component_and_8_vulnerabilities(self):
        report = parse_file("log4j.json")
        assert (len(report.dependencies), len(report.findings)) == (1, 8)
        assert (report.tool_name, report.tool_version) == ("grype", "0.41.0")
        assert severities(report) == {"critical": 4, "medium": 3, "high": 1}

    def test_the_component(self):
        [dependency] = parse_file("log4j.json").dependencies
        assert (dependency.name, dependency.version, dependency.ecosystem) == (
            "log4j-core",
            "2.13.2",
            "maven",
        )
        assert dependency.purl == "pkg:maven/org.apache.logging.log4j/log4j-core@2.13.2"

    def test_log4shell_takes_the_cvss_31_score(self):
        finding = parse_file("log4j.json").findings[0]
        assert (finding.rule_id, finding.cve_id, finding.severity) == (
            "CVE-2021-44228",
            "CVE-2021-44228",
            Severity.CRITICAL,
        )
        assert (finding.cvss_score, finding.cvss_vector) == (
            10.0,
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
        )
        assert (finding.package_name, finding.package_version) == ("log4j-core", "2.13.2")
        assert finding.metadata["analysis"] == {"state": "in_triage"}
        assert finding.suppressed is False

    def test_a_ghsa_without_score_keeps_its_severity_word_and_fixed_version(self):
        finding = next(
            f for f in parse_file("log4j.json").findings if f.rule_id == "GHSA-jfh8-c2jp-5v3q"
        )
        assert (finding.cve_id, finding.severity, finding.cvss_score) == (
            "",
            Severity.CRITICAL,
            None,
        )
        assert finding.fixed_version == "2.15.0"
        assert (
            fingerprint_of(finding)
            == hashlib.sha256(b"sca:log4j-core:2.13.2:ghsa-jfh8-c2jp-5v3q").hexdigest()
        )

    def test_a_file_metadata_component_is_not_a_target(self):
        assert parse_file("log4j.json").targets == []


class TestGraphAndTarget:
    def report(self):
        return cyclonedx.parse(
            bom(metadata={"component": APP}, components=[FLASK, JINJA], dependencies=GRAPH)
        )

    def test_an_application_metadata_component_is_the_target(self):
        [target] = self.report().targets
        assert (target.identifier, target.metadata["version"]) == ("shop", "3.1.0")

    def test_the_root_dependencies_are_direct_and_the_rest_transitive(self):
        flask, jinja = self.report().dependencies
        assert (flask.relationship, flask.depends_on) == ("direct", ["pkg:pypi/jinja2@3.0.0"])
        assert (jinja.relationship, jinja.depends_on) == ("transitive", [])

    def test_a_container_metadata_component_is_a_container_target(self):
        image = {"type": "container", "name": "registry.example.com/shop", "version": "sha256:abc"}
        [target] = cyclonedx.parse(bom(metadata={"component": image})).targets
        assert (target.identifier, target.type) == ("registry.example.com/shop", "container")

    def test_nested_components_are_dependencies_too(self):
        outer = {**FLASK, "components": [JINJA]}
        assert [d.name for d in cyclonedx.parse(bom(components=[outer])).dependencies] == [
            "flask",
            "jinja2",
        ]

    def test_a_maven_group_is_joined_with_a_colon_and_an_npm_scope_with_a_slash(self):
        maven = {
            "name": "log4j-core",
            "group": "org.apache.logging.log4j",
            "purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1",
        }
        npm = {"name": "core", "group": "@angular", "purl": "pkg:npm/%40angular/core@17.0.0"}
        names = [d.name for d in cyclonedx.parse(bom(components=[maven, npm])).dependencies]
        assert names == ["org.apache.logging.log4j:log4j-core", "@angular/core"]

    def test_license_ids_names_and_expressions_are_read(self):
        component = {
            **FLASK,
            "licenses": [
                {"license": {"id": "BSD-3-Clause"}},
                {"license": {"name": "Custom"}},
                {"expression": "MIT OR Apache-2.0"},
            ],
        }
        [dependency] = cyclonedx.parse(bom(components=[component])).dependencies
        assert dependency.licenses == ["BSD-3-Clause", "Custom", "MIT OR Apache-2.0"]


class TestVulnerabilities:
    def finding(self, **vulnerability: object):
        item = {"id": "CVE-2023-30861", "affects": [{"ref": "flask"}], **vulnerability}
        [finding] = cyclonedx.parse(bom(components=[FLASK], vulnerabilities=[item])).findings
        return finding

    def test_cwes_become_cwe_ids(self):
        assert self.finding(cwes=[539, 79]).cwe_ids == ["CWE-539", "CWE-79"]

    def test_the_best_cvss_method_wins_and_the_first_severity_word_decides(self):
        ratings = [
            {"score": 5.0, "method": "CVSSv2", "vector": "AV:N/AC:L/Au:N/C:P/I:N/A:N"},
            {"score": 7.5, "severity": "high", "method": "CVSSv31", "vector": "CVSS:3.1/AV:N"},
        ]
        finding = self.finding(ratings=ratings)
        assert (finding.cvss_score, finding.cvss_vector, finding.severity) == (
            7.5,
            "CVSS:3.1/AV:N",
            Severity.HIGH,
        )

    def test_without_a_severity_word_the_score_decides(self):
        assert (
            self.finding(ratings=[{"score": 9.1, "method": "CVSSv3"}]).severity is Severity.CRITICAL
        )

    def test_without_ratings_the_severity_is_info(self):
        assert self.finding().severity is Severity.INFO

    @pytest.mark.parametrize(
        ("state", "suppressed"),
        [("false_positive", True), ("not_affected", True), ("exploitable", False)],
    )
    def test_an_analysis_that_clears_the_component_suppresses_the_finding(self, state, suppressed):
        assert self.finding(analysis={"state": state}).suppressed is suppressed

    def test_an_unaffected_version_is_the_fixed_version(self):
        affects = [
            {
                "ref": "flask",
                "versions": [
                    {"version": "2.0.0", "status": "affected"},
                    {"version": "2.3.2", "status": "unaffected"},
                ],
            }
        ]
        assert self.finding(affects=affects).fixed_version == "2.3.2"

    def test_a_vulnerability_affecting_two_components_is_two_findings(self):
        item = {"id": "CVE-2024-1", "affects": [{"ref": "flask"}, {"ref": "jinja"}]}
        findings = cyclonedx.parse(bom(components=[FLASK, JINJA], vulnerabilities=[item])).findings
        assert [(f.package_name, f.package_version) for f in findings] == [
            ("flask", "2.0.0"),
            ("jinja2", "3.0.0"),
        ]

    def test_an_unlisted_purl_reference_still_names_the_package(self):
        item = {"id": "CVE-2024-2", "affects": [{"ref": "pkg:npm/lodash@4.17.20?x=1"}]}
        [finding] = cyclonedx.parse(bom(vulnerabilities=[item])).findings
        assert (finding.package_name, finding.package_version) == ("lodash", "4.17.20")


class TestMalformedBoms:
    @pytest.mark.parametrize(
        ("fields", "path"),
        [
            ({"components": {}}, "components"),
            ({"components": [FLASK, {"type": "library"}]}, "components[1].name"),
            (
                {"vulnerabilities": [{"id": "X", "ratings": [{"score": "high"}]}]},
                "vulnerabilities[0].ratings[0].score",
            ),
            (
                {"vulnerabilities": [{"id": "X", "ratings": [{"score": 12}]}]},
                "vulnerabilities[0].ratings[0].score",
            ),
            (
                {"vulnerabilities": [{"id": "X", "affects": [{"versions": []}]}]},
                "vulnerabilities[0].affects[0].ref",
            ),
            (
                {"vulnerabilities": [{"id": "X", "cwes": ["injection"]}]},
                "vulnerabilities[0].cwes[0]",
            ),
            ({"dependencies": [{"dependsOn": []}]}, "dependencies[0].ref"),
        ],
    )
    def test_a_wrong_shape_names_its_place(self, fields, path):
        with pytest.raises(ReportError) as caught:
            cyclonedx.parse(bom(**fields))
        assert caught.value.path == path

    def test_a_document_of_another_format_is_refused_on_bom_format(self):
        with pytest.raises(ReportError) as caught:
            cyclonedx.parse(json.dumps({"bomFormat": "SPDX"}))
        assert caught.value.path == "bomFormat"

    def test_other_documents_are_not_cyclonedx(self):
        assert not cyclonedx.recognizes({"spdxVersion": "SPDX-2.3"})
        assert not cyclonedx.recognizes([{"bomFormat": "CycloneDX"}])
