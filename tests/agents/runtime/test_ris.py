from __future__ import annotations

import json

import pytest

from agents.runtime.jobs import attach_asset
from agents.runtime.ris import to_ris
from ingest.parsers import ris
from ingest.parsers.detect import parse_report
from protocol.report import ReportTarget, fingerprint_of
from tests.shared_data import DATA

REPORTS = [
    "bandit/many_vulns.json",
    "semgrep/many_vulns.json",
    "semgrep/one_finding.json",
    "trivy/misconfigurations_and_secrets.json",
    "trivy/scheme_2_many_vulns.json",
    "gitleaks/gitleaks8_many.json",
    "gitleaks/data_one.json",
    "checkov/checkov-report-severity.json",
    "detect_secrets/many_findings.json",
    "sarif/codeQL-output.sarif",
    "sarif/suppression_test.sarif",
    "sarif/taint-python-report.sarif",
    "nuclei/many_findings.json",
    "cyclonedx/jake2.json",
    "trufflehog/v3_git.json",
]


def identity(finding, report):
    target = report.targets[finding.target_index] if finding.target_index is not None else None
    return (
        fingerprint_of(finding),
        finding.rule_id,
        finding.title.strip().splitlines()[0][:1000],
        finding.severity,
        finding.finding_type,
        finding.file_path,
        finding.start_line,
        finding.end_line,
        finding.cve_id,
        tuple(sorted(finding.cwe_ids)),
        finding.package_name,
        finding.package_version,
        finding.fixed_version,
        finding.cvss_score,
        finding.suppressed,
        finding.partial_fingerprints,
        target.identifier if target else None,
    )


@pytest.mark.parametrize("name", REPORTS)
def test_the_servers_ris_parser_reads_back_what_the_agent_writes(name):
    original = parse_report((DATA / name).read_bytes())
    document = to_ris(original, scan_id="0193a5f0-7c1e-7d2a-9f3b-1a2b3c4d5e6f")

    back = ris.parse(json.dumps(document))

    assert back.tool_name == original.tool_name
    assert back.scan_id == "0193a5f0-7c1e-7d2a-9f3b-1a2b3c4d5e6f"
    assert len(back.findings) == len(original.findings)
    assert len(back.dependencies) == len(original.dependencies)
    assert [identity(f, back) for f in back.findings] == [
        identity(f, original) for f in original.findings
    ]
    assert [(d.name, d.version, d.purl) for d in back.dependencies] == [
        (d.name, d.version, d.purl) for d in original.dependencies
    ]


def test_a_multi_line_message_keeps_its_first_line_as_title_and_all_of_it_in_the_description():
    original = parse_report((DATA / "sarif/codeQL-output.sarif").read_bytes())
    long = next(f for f in original.findings if "\n" in f.title)
    back = ris.parse(json.dumps(to_ris(original)))
    returned = back.findings[original.findings.index(long)]
    assert returned.title == long.title.splitlines()[0]
    assert long.title in returned.description


def test_detail_objects_and_tool_extras_survive_the_trip():
    original = parse_report((DATA / "trivy/misconfigurations_and_secrets.json").read_bytes())
    back = ris.parse(json.dumps(to_ris(original)))
    misconfigured = [f for f in back.findings if "misconfiguration" in f.metadata]
    assert misconfigured
    assert misconfigured[0].metadata["misconfiguration"]["policy_id"]
    assert any("target" in f.metadata.get("properties", {}) for f in back.findings)


def test_the_scans_asset_becomes_the_reports_one_asset():
    original = parse_report((DATA / "bandit/one_vuln.json").read_bytes())
    attach_asset(original, ReportTarget(identifier="github.com/acme/api", type="repository"))
    document = to_ris(original)
    assert document["assets"] == [
        {"id": "asset-0", "type": "repository", "value": "github.com/acme/api"}
    ]
    back = ris.parse(json.dumps(document))
    assert back.targets[0].identifier == "github.com/acme/api"


def test_an_asset_without_a_type_gets_the_type_its_identifier_suggests():
    original = parse_report((DATA / "bandit/one_vuln.json").read_bytes())
    attach_asset(original, ReportTarget(identifier="https://shop.example.com"))
    assert to_ris(original)["assets"][0]["type"] == "website"
