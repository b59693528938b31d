from __future__ import annotations

import json
from collections import Counter

import pytest

from findings.rules.categories import FindingType
from findings.rules.fingerprint import misconfig_fingerprint, secret_fingerprint
from findings.rules.severity import Severity
from ingest.parsers import checkov
from protocol.report import ReportError, fingerprint_of
from tests.shared_data import DATA

FILES = DATA / "checkov"

FINDINGS_PER_FILE = {
    "checkov-report-0-vuln.json": 0,
    "checkov-report-many-vuln.json": 3,
    "checkov-report-severity.json": 4,
}


def parse(name: str):
    return checkov.parse((FILES / name).read_bytes())


def document_of(name: str) -> dict:
    return json.loads((FILES / name).read_bytes())


def json_documents():
    for path in sorted(DATA.rglob("*")):
        try:
            document = json.loads(path.read_bytes()) if path.is_file() else None
        except ValueError:
            continue  # JSON lines, empty files, the README: not one JSON document
        if isinstance(document, dict | list):
            yield pytest.param(path, document, id=str(path.relative_to(DATA)))


def framework(check_type: str, failed: list, passed: list | None = None) -> dict:
    return {
        "check_type": check_type,
        "results": {"passed_checks": passed or [], "failed_checks": failed, "skipped_checks": []},
        "summary": {
            "passed": len(passed or []),
            "failed": len(failed),
            "checkov_version": "3.3.30",
        },
    }


def check(**fields) -> dict:
    return {
        "check_id": "CKV_DOCKER_3",
        "check_name": "Ensure that a user for the container has been created",
        "check_result": {"result": "FAILED"},
        "file_path": "/Dockerfile",
        "file_line_range": [1, 6],
        "resource": "/Dockerfile.",
        "guideline": "https://docs.prismacloud.io/policy",
        "severity": None,
        **fields,
    }


def test_every_checkov_file_has_an_expected_count():
    assert sorted(p.name for p in FILES.iterdir()) == sorted(FINDINGS_PER_FILE)


@pytest.mark.parametrize(("name", "count"), FINDINGS_PER_FILE.items())
def test_each_failed_check_becomes_one_finding(name, count):
    report = parse(name)
    assert report.tool_name == "checkov"
    assert len(report.findings) == count


@pytest.mark.parametrize(("path", "document"), list(json_documents()))
def test_it_recognizes_checkov_output_and_nothing_else(path, document):
    assert checkov.recognizes(document) is (path.parent.name == "checkov")


def test_the_version_comes_from_the_summary():
    assert parse("checkov-report-0-vuln.json").tool_version == "1.0.467"
    assert parse("checkov-report-severity.json").tool_version == "2.2.34"


def test_checks_without_a_severity_are_medium_misconfigurations():
    findings = parse("checkov-report-many-vuln.json").findings
    assert [f.rule_id for f in findings] == ["CKV_AZURE_41", "CKV_AZURE_42", "CKV_AZURE_43"]
    assert {f.severity for f in findings} == {Severity.MEDIUM}
    first = findings[0]
    assert first.finding_type is FindingType.MISCONFIGURATION
    assert first.title == "Ensure the key vault is recoverable"
    assert (first.file_path, first.start_line, first.end_line) == ("file_path", 1, 16)
    assert first.metadata["resource"] == "azurerm_key_vault.main"
    assert first.metadata["misconfiguration"]["resource_type"] == "azurerm_key_vault"
    assert first.references == [
        "https://docs.bridgecrew.io/docs/ensure-the-key-vault-is-recoverable"
    ]


def test_severities_given_by_checkov_are_kept():
    findings = parse("checkov-report-severity.json").findings
    assert Counter(f.severity for f in findings) == {
        Severity.MEDIUM: 2,
        Severity.LOW: 1,
        Severity.HIGH: 1,
    }
    public = findings[3]
    assert (public.rule_id, public.severity) == ("CKV_GCP_28", Severity.HIGH)
    assert (public.file_path, public.start_line, public.end_line) == ("/gcs.tf", 17, 21)
    assert public.finding_type is FindingType.MISCONFIGURATION
    assert public.snippet.startswith(
        'resource "google_storage_bucket_iam_binding" "allow_public_read" {'
    )
    assert public.metadata["guideline"] == "https://docs.bridgecrew.io/docs/bc_gcp_public_1"
    assert public.metadata["bc_category"] == "Public"
    assert public.metadata["evaluated_keys"] == ["members", "member"]


def test_the_pipeline_fingerprints_a_check_by_resource_rule_and_file():
    findings = parse("checkov-report-severity.json").findings
    assert {f.fingerprint for f in findings} == {""}
    assert fingerprint_of(findings[0]) == misconfig_fingerprint(
        resource_type="google_storage_bucket",
        resource_name="google_storage_bucket.terragoat_website",
        rule_id="CKV_GCP_29",
        path="/gcs.tf",
    )
    assert len({fingerprint_of(f) for f in findings}) == 4


def test_several_frameworks_arrive_as_a_list():
    document = [
        document_of("checkov-report-severity.json"),
        framework("dockerfile", [check()], passed=[check(check_id="CKV_DOCKER_2")]),
    ]
    assert checkov.recognizes(document)
    report = checkov.parse(json.dumps(document))
    assert [f.rule_id for f in report.findings][-1] == "CKV_DOCKER_3"
    assert len(report.findings) == 5  # 4 + 1: passed checks are not findings
    assert report.findings[-1].severity is Severity.MEDIUM  # "severity": null
    assert report.findings[-1].metadata["framework"] == "dockerfile"


def test_skipped_checks_are_not_findings():
    document = framework("terraform", [])
    document["results"]["skipped_checks"] = [check(check_result={"result": "SKIPPED"})]
    assert checkov.parse(json.dumps(document)).findings == []


def test_a_run_that_scanned_nothing_is_only_a_summary():
    summary = {
        "passed": 0,
        "failed": 0,
        "skipped": 0,
        "parsing_errors": 0,
        "resource_count": 0,
        "checkov_version": "3.3.30",
    }
    assert checkov.recognizes(summary)
    report = checkov.parse(json.dumps(summary))
    assert (report.findings, report.tool_version) == ([], "3.3.30")


def test_a_secrets_check_is_a_secret_fingerprinted_by_checkovs_hash():
    secret = check(
        check_id="CKV_SECRET_2",
        check_name="AWS Access Key",
        file_path="/app.py",
        file_line_range=[4, 5],
        resource="25910f981e85ca04baf359199dd0bd4a3ae738b6",
        code_block=[[4, 'key = "AKIA**********"\n']],
    )
    [finding] = checkov.parse(json.dumps(framework("secrets", [secret]))).findings
    assert finding.finding_type is FindingType.SECRET
    assert finding.snippet == ""
    assert finding.fingerprint == secret_fingerprint(
        path="/app.py",
        rule_id="CKV_SECRET_2",
        start_line=4,
        secret="25910f981e85ca04baf359199dd0bd4a3ae738b6",
    )
    assert "25910f981e85ca04baf359199dd0bd4a3ae738b6" not in repr(finding.metadata)


def test_invalid_json_is_rejected():
    with pytest.raises(ReportError, match="not valid JSON"):
        checkov.parse(b"{")


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (b"[1,2]", "[0]"),
        (b'{"check_type": "terraform"}', "results"),
        (
            json.dumps(framework("terraform", [check(check_id=None)])),
            "results.failed_checks[0].check_id",
        ),
        (
            json.dumps(
                [framework("terraform", []), framework("k8s", [check(file_line_range=[1])])]
            ),
            "[1].results.failed_checks[0].file_line_range",
        ),
        (
            json.dumps(framework("terraform", [check(severity="SEVERE-ISH")])),
            "results.failed_checks[0].severity",
        ),
        (
            json.dumps(framework("terraform", [check(code_block=[[1]])])),
            "results.failed_checks[0].code_block[0]",
        ),
    ],
)
def test_a_malformed_report_is_rejected_with_its_path(raw, path):
    with pytest.raises(ReportError) as caught:
        checkov.parse(raw)
    assert caught.value.path == path
