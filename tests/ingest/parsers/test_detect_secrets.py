from __future__ import annotations

import json

import pytest

from findings.rules.categories import FindingType
from findings.rules.fingerprint import secret_fingerprint
from findings.rules.severity import Severity
from ingest.parsers import detect_secrets
from protocol.report import ReportError
from tests.shared_data import DATA

FILES = DATA / "detect_secrets"

FINDINGS_PER_FILE = {"many_findings.json": 4, "no_findings.json": 0}
HASHED_SECRETS = [
    "bd564db5d5cc358eb0e3523d3e03041739f230d5",
    "535850f35566365fddf9eb01a0d36962c0ffed8c",
    "0f7a136b462b257b9996c246e2e50cbd629e7928",
    "b732fb611fd46a38e8667f9972e0cde777fbe37f",
]


def parse(name: str):
    return detect_secrets.parse((FILES / name).read_bytes())


def json_documents():
    for path in sorted(DATA.rglob("*")):
        try:
            document = json.loads(path.read_bytes()) if path.is_file() else None
        except ValueError:
            continue  # JSON lines, empty files, the README: not one JSON document
        if isinstance(document, dict | list):
            yield pytest.param(path, document, id=str(path.relative_to(DATA)))


def baseline(results: dict) -> str:
    return json.dumps({"version": "1.5.0", "plugins_used": [], "results": results})


def entry(**fields) -> dict:
    return {
        "type": "AWS Access Key",
        "filename": "deploy/env.sh",
        "hashed_secret": "25910f981e85ca04baf359199dd0bd4a3ae738b6",
        "is_verified": False,
        "line_number": 3,
        **fields,
    }


def test_every_detect_secrets_file_has_an_expected_count():
    assert sorted(p.name for p in FILES.iterdir()) == sorted(FINDINGS_PER_FILE)


@pytest.mark.parametrize(("name", "count"), FINDINGS_PER_FILE.items())
def test_each_secret_becomes_one_finding(name, count):
    report = parse(name)
    assert (report.tool_name, report.tool_version) == ("detect-secrets", "1.0.3")
    assert len(report.findings) == count


@pytest.mark.parametrize(("path", "document"), list(json_documents()))
def test_it_recognizes_detect_secrets_output_and_nothing_else(path, document):
    assert detect_secrets.recognizes(document) is (path.parent.name == "detect_secrets")


def test_secrets_in_three_files_are_high_secret_findings():
    findings = parse("many_findings.json").findings
    assert {f.file_path for f in findings} == {
        "modules_images",
        "example/pkg/docker_registry_watcher/docker_config.go",
        "example/pkg/docker_registry_watcher/docker_registry_watcher.go",
    }
    assert {f.severity for f in findings} == {Severity.HIGH}
    assert {f.finding_type for f in findings} == {FindingType.SECRET}
    first = findings[0]
    assert (first.rule_id, first.file_path, first.start_line) == (
        "Secret Keyword",
        "modules_images",
        151,
    )
    # No value to show: the fixed mask says only that there is one.
    assert first.metadata["secret"] == {"secret_type": "Secret Keyword", "masked_value": "••••••••"}
    assert first.secret_values == []  # only its hash is known, folded into the fingerprint


def test_the_fingerprint_is_the_secret_formula_over_the_hashed_secret():
    first = parse("many_findings.json").findings[0]
    assert first.fingerprint == secret_fingerprint(
        path="modules_images",
        rule_id="Secret Keyword",
        start_line=151,
        secret="bd564db5d5cc358eb0e3523d3e03041739f230d5",
    )


def test_another_secret_on_the_same_line_is_another_finding():
    before = detect_secrets.parse(baseline({"deploy/env.sh": [entry()]})).findings[0]
    rotated = entry(hashed_secret="0000000000000000000000000000000000000000")
    after = detect_secrets.parse(baseline({"deploy/env.sh": [rotated]})).findings[0]
    assert before.fingerprint != after.fingerprint


def test_the_hashed_secret_is_kept_only_inside_the_fingerprint():
    text = repr(parse("many_findings.json"))
    for hashed in HASHED_SECRETS:
        assert hashed not in text


def test_an_audited_false_positive_arrives_suppressed():
    by_line = {f.start_line: f for f in parse("many_findings.json").findings}
    assert by_line[112].suppressed is True  # "is_secret": false
    assert by_line[156].suppressed is False  # "is_secret": true
    assert by_line[156].metadata["audited_as_secret"] is True
    assert by_line[151].suppressed is False  # not audited
    assert "audited_as_secret" not in by_line[151].metadata


def test_a_verified_secret_is_marked_valid():
    report = detect_secrets.parse(baseline({"deploy/env.sh": [entry(is_verified=True)]}))
    assert report.findings[0].metadata["secret"]["valid"] is True


def test_invalid_json_is_rejected():
    with pytest.raises(ReportError, match="not valid JSON"):
        detect_secrets.parse(b"{")


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (b"[1,2]", "body"),
        (b'{"plugins_used": [], "results": []}', "results"),
        (baseline({"a.py": {}}), 'results["a.py"]'),
        (baseline({"a.py": [entry(line_number=None)]}), 'results["a.py"][0].line_number'),
        (baseline({"a.py": [entry(), entry(type=None)]}), 'results["a.py"][1].type'),
        (baseline({"a.py": [entry(hashed_secret="")]}), 'results["a.py"][0].hashed_secret'),
    ],
)
def test_a_malformed_baseline_is_rejected_with_its_path(raw, path):
    with pytest.raises(ReportError) as caught:
        detect_secrets.parse(raw)
    assert caught.value.path == path
