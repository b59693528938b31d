from __future__ import annotations

import json
from collections import Counter

import pytest

from findings.rules.categories import FindingType
from findings.rules.fingerprint import (
    trivy_misconfiguration_fingerprint,
    trivy_secret_fingerprint,
    trivy_vulnerability_fingerprint,
)
from findings.rules.severity import Severity
from ingest.parsers import trivy
from protocol.report import ReportError
from tests.shared_data import DATA

FILES = DATA / "trivy"

FINDINGS_PER_FILE = {
    "misconfigurations_and_secrets.json": 5,  # 2 vulnerabilities, 1 misconfiguration, 2 secrets
    "scheme_2_many_vulns.json": 5,
    "scheme_2_no_vuln.json": 0,
}


def parse(name: str):
    return trivy.parse((FILES / name).read_bytes())


def json_documents():
    for path in sorted(DATA.rglob("*")):
        try:
            document = json.loads(path.read_bytes()) if path.is_file() else None
        except ValueError:
            continue  # JSON lines, empty files, the README: not one JSON document
        if isinstance(document, dict | list):
            yield pytest.param(path, document, id=str(path.relative_to(DATA)))


def report_of(result: dict, **top) -> dict:
    return {
        "SchemaVersion": 2,
        "ArtifactName": ".",
        "ArtifactType": "filesystem",
        **top,
        "Results": [result],
    }


def test_every_trivy_file_has_an_expected_count():
    assert sorted(p.name for p in FILES.iterdir()) == sorted(FINDINGS_PER_FILE)


@pytest.mark.parametrize(("name", "count"), FINDINGS_PER_FILE.items())
def test_each_vulnerability_misconfiguration_and_secret_becomes_one_finding(name, count):
    report = parse(name)
    assert report.tool_name == "trivy"
    assert len(report.findings) == count


@pytest.mark.parametrize(("path", "document"), list(json_documents()))
def test_it_recognizes_trivy_output_and_nothing_else(path, document):
    assert trivy.recognizes(document) is (path.parent.name == "trivy")


def test_a_filesystem_scan_mixes_the_three_finding_types():
    findings = parse("misconfigurations_and_secrets.json").findings
    assert Counter(f.finding_type for f in findings) == {
        FindingType.VULNERABILITY: 2,
        FindingType.MISCONFIGURATION: 1,
        FindingType.SECRET: 2,
    }
    assert Counter(f.severity for f in findings) == {
        Severity.CRITICAL: 2,
        Severity.HIGH: 2,
        Severity.MEDIUM: 1,
    }


def test_a_filesystem_scan_names_no_target():
    # ArtifactName "." is a path on the agent's disk, not an asset.
    report = parse("misconfigurations_and_secrets.json")
    assert report.targets == []
    assert {f.target_index for f in report.findings} == {None}


def test_a_vulnerability_keeps_package_versions_cve_cwe_and_cvss():
    finding = parse("misconfigurations_and_secrets.json").findings[0]
    assert finding.rule_id == finding.cve_id == "CVE-2021-33503"
    assert (
        finding.title
        == "CVE-2021-33503: python-urllib3: ReDoS in the parsing of authority part of URL"
    )
    assert finding.severity is Severity.HIGH
    assert finding.finding_type is FindingType.VULNERABILITY
    assert finding.file_path == "requirements.txt"
    assert finding.start_line is None
    assert (finding.package_name, finding.package_version, finding.fixed_version) == (
        "urllib3",
        "1.26.3",
        "1.26.5",
    )
    assert finding.cwe_ids == ["CWE-400"]
    assert (finding.cvss_score, finding.cvss_vector) == (
        7.5,
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
    )
    assert finding.references[0] == "https://avd.aquasec.com/nvd/cve-2021-33503"
    assert finding.metadata["target"] == "requirements.txt"
    assert finding.metadata["class"] == "lang-pkgs"
    assert finding.fingerprint == trivy_vulnerability_fingerprint(
        "CVE-2021-33503", "urllib3", "1.26.3", "requirements.txt"
    )


def test_a_misconfiguration_keeps_its_check_cause_and_resolution():
    finding = parse("misconfigurations_and_secrets.json").findings[2]
    assert finding.rule_id == "DS002"
    assert finding.title == "Image user should not be 'root'"
    assert finding.severity is Severity.HIGH
    assert finding.finding_type is FindingType.MISCONFIGURATION
    assert finding.file_path == "Dockerfile"
    assert finding.start_line is None  # trivy gave no CauseMetadata lines
    message = "Specify at least 1 USER command in Dockerfile with non-root user as argument"
    assert finding.metadata["misconfiguration"]["cause"] == message
    assert finding.metadata["remediation"] == {
        "recommendation": "Add 'USER <non root user name>' line to the Dockerfile"
    }
    assert finding.fingerprint == trivy_misconfiguration_fingerprint(
        "DS002", "Dockerfile", "Dockerfile Security Check", message
    )


def test_a_secret_keeps_trivys_masked_match_only():
    secrets = parse("misconfigurations_and_secrets.json").findings[3:]
    first = secrets[0]
    assert (first.rule_id, first.file_path, first.start_line) == ("github-pat", "Dockerfile", 24)
    assert first.severity is Severity.CRITICAL
    assert first.finding_type is FindingType.SECRET
    # Trivy's mask (one * per character) becomes the fixed one, which tells no length.
    assert first.snippet == "ENV GITHUB_PAT=••••••••"
    assert first.metadata["secret"]["masked_value"] == "••••••••"
    assert first.fingerprint == trivy_secret_fingerprint(
        "github-pat", "Dockerfile", 24, "ENV GITHUB_PAT=*****"
    )
    assert (secrets[1].file_path, secrets[1].start_line) == ("secret.txt", 1)


def test_an_unmasked_secret_match_never_reaches_the_report():
    raw = "ghp_0123456789abcdefghijklmnopqrstuvwxyz"
    result = {
        "Target": ".env",
        "Class": "secret",
        "Secrets": [
            {
                "RuleID": "github-pat",
                "Severity": "CRITICAL",
                "Title": "GitHub PAT",
                "StartLine": 2,
                "EndLine": 2,
                "Match": f"TOKEN={raw}",
            }
        ],
    }
    report = trivy.parse(json.dumps(report_of(result)))
    assert raw not in repr(report)
    assert report.findings[0].fingerprint == trivy_secret_fingerprint(
        "github-pat", ".env", 2, f"TOKEN={raw}"
    )


def test_an_image_scan_targets_the_container():
    report = parse("scheme_2_many_vulns.json")
    [target] = report.targets
    assert (target.type, target.identifier) == ("container", "teamdojo:latest")
    assert target.metadata["os"] == "alpine 3.9.4"
    assert {f.target_index for f in report.findings} == {0}
    # An image without vulnerabilities is still the report's asset.
    assert [t.identifier for t in parse("scheme_2_no_vuln.json").targets] == [
        "trivy-unittest:latest"
    ]


def test_an_image_scan_has_the_severities_of_the_file():
    findings = parse("scheme_2_many_vulns.json").findings
    assert Counter(f.severity for f in findings) == {
        Severity.CRITICAL: 1,
        Severity.HIGH: 1,
        Severity.MEDIUM: 3,
    }
    first = findings[0]
    assert (first.rule_id, first.package_name, first.file_path) == (
        "CVE-2020-15999",
        "freetype",
        "app/libs/freetype-2.9.1-r2",
    )
    assert first.metadata["layer"] == {
        "DiffID": "sha256:edd61588d12669e2d71a0de2aab96add3304bf565730e1e6144ec3c3fac339e4"
    }


def test_cvss_comes_from_nvd_before_redhat_and_v3_before_v2():
    by_id = {f.rule_id: f for f in parse("scheme_2_many_vulns.json").findings}
    # nvd v3 6.5 wins over redhat v3 8.6 and nvd v2 4.3.
    assert by_id["CVE-2020-15999"].cvss_score == 6.5
    assert by_id["CVE-2020-15999"].metadata["cvss_source"] == "nvd"
    # Only redhat scored it.
    assert by_id["CVE-2020-28196"].cvss_score == 7.5
    assert by_id["CVE-2020-28196"].metadata["cvss_source"] == "redhat"
    assert by_id["CVE-2019-12900"].cvss_score is None


def test_a_ghsa_v2_score_outranks_a_redhat_v3_score():
    vuln = {
        "VulnerabilityID": "GHSA-xxxx",
        "PkgName": "p",
        "InstalledVersion": "1",
        "Severity": "LOW",
        "CVSS": {"redhat": {"V3Score": 9.1}, "ghsa": {"V2Score": 5.0}},
    }
    result = {"Target": "package-lock.json", "Class": "lang-pkgs", "Vulnerabilities": [vuln]}
    [finding] = trivy.parse(json.dumps(report_of(result))).findings
    assert finding.cvss_score == 5.0
    assert finding.cve_id == ""  # not a CVE id; the rule id keeps it


def test_passed_misconfigurations_are_not_findings():
    checks = [
        {"ID": "DS001", "Type": "Dockerfile Security Check", "Status": "PASS", "Severity": "LOW"},
        {
            "ID": "DS002",
            "Type": "Dockerfile Security Check",
            "Status": "FAIL",
            "Severity": "HIGH",
            "CauseMetadata": {
                "StartLine": 3,
                "EndLine": 4,
                "Code": {"Lines": [{"Number": 3, "Content": "USER root", "IsCause": True}]},
            },
        },
    ]
    result = {"Target": "Dockerfile", "Class": "config", "Misconfigurations": checks}
    [finding] = trivy.parse(json.dumps(report_of(result))).findings
    assert (finding.rule_id, finding.start_line, finding.end_line) == ("DS002", 3, 4)
    assert finding.snippet == "USER root"


def test_schema_1_is_the_bare_results_array():
    results = [
        {
            "Target": "alpine:3.10 (alpine 3.10.2)",
            "Type": "alpine",
            "Vulnerabilities": [
                {
                    "VulnerabilityID": "CVE-2019-1549",
                    "PkgName": "openssl",
                    "InstalledVersion": "1.1.1c-r0",
                    "Severity": "MEDIUM",
                }
            ],
        }
    ]
    assert trivy.recognizes(results)
    [finding] = trivy.parse(json.dumps(results)).findings
    assert (finding.cve_id, finding.severity) == ("CVE-2019-1549", Severity.MEDIUM)


def test_listed_packages_become_dependencies():
    packages = [
        {
            "Name": "urllib3",
            "Version": "1.26.3",
            "Relationship": "direct",
            "Identifier": {"PURL": "pkg:pypi/urllib3@1.26.3"},
        }
    ]
    result = {
        "Target": "requirements.txt",
        "Class": "lang-pkgs",
        "Type": "pip",
        "Packages": packages,
    }
    [dependency] = trivy.parse(json.dumps(report_of(result))).dependencies
    assert (dependency.name, dependency.version, dependency.ecosystem) == (
        "urllib3",
        "1.26.3",
        "pypi",
    )
    assert (dependency.relationship, dependency.path) == ("direct", "requirements.txt")


def test_invalid_json_is_rejected():
    with pytest.raises(ReportError, match="not valid JSON"):
        trivy.parse(b"{")


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (b"[1,2]", "[0]"),
        (b'{"SchemaVersion": 2, "Results": {}}', "Results"),
        (
            json.dumps(report_of({"Target": "t", "Vulnerabilities": [{"PkgName": "p"}]})),
            "Results[0].Vulnerabilities[0].VulnerabilityID",
        ),
        (
            json.dumps(report_of({"Target": "t", "Secrets": [{"RuleID": "r", "StartLine": "2"}]})),
            "Results[0].Secrets[0].StartLine",
        ),
        (
            json.dumps(report_of({"Target": "t", "Misconfigurations": [{"Status": "FAIL"}]})),
            "Results[0].Misconfigurations[0].ID",
        ),
        (
            json.dumps(
                report_of(
                    {
                        "Target": "t",
                        "Vulnerabilities": [
                            {
                                "VulnerabilityID": "CVE-1",
                                "PkgName": "p",
                                "CVSS": {"nvd": {"V3Score": 11}},
                            }
                        ],
                    }
                )
            ),
            "Results[0].Vulnerabilities[0].CVSS.nvd.V3Score",
        ),
    ],
)
def test_a_malformed_report_is_rejected_with_its_path(raw, path):
    with pytest.raises(ReportError) as caught:
        trivy.parse(raw)
    assert caught.value.path == path
