from __future__ import annotations

import json

import pytest

from findings.rules.categories import FindingType
from findings.rules.fingerprint import secret_fingerprint
from findings.rules.severity import Severity
from ingest.parsers import gitleaks
from protocol.report import ReportError
from tests.shared_data import DATA

FILES = DATA / "gitleaks"

FINDINGS_PER_FILE = {"data_one.json": 1, "gitleaks8_many.json": 4, "no_findings.json": 0}
# The secret values that appear in the files (Secret/offender, and the matched text).
SECRETS = {
    "data_one.json": ["-----BEGIN PRIVATE KEY-----", "BEGIN PRIVATE KEY"],
    "gitleaks8_many.json": [
        "secretAWSsecret",
        "-----BEGIN RSA PRIVATE KEY-----",
        "BEGIN RSA PRIVATE KEY",
        "dfjksdjfs3294dfjlsdaf213",
        'apikey = "dfjksdjfs3294dfjlsdaf213"',
    ],
}


def parse(name: str):
    return gitleaks.parse((FILES / name).read_bytes())


def json_documents():
    for path in sorted(DATA.rglob("*")):
        try:
            document = json.loads(path.read_bytes()) if path.is_file() else None
        except ValueError:
            continue  # JSON lines, empty files, the README: not one JSON document
        if isinstance(document, dict | list):
            yield pytest.param(path, document, id=str(path.relative_to(DATA)))


def leak(**fields):
    return {
        "Description": "Slack token",
        "StartLine": 3,
        "EndLine": 3,
        "StartColumn": 9,
        "EndColumn": 60,
        "Match": "token = xoxb-1234567890-abcdefghijkl",
        "Secret": "xoxb-1234567890-abcdefghijkl",
        "File": "config/slack.py",
        "Commit": "abc123",
        "Tags": [],
        "RuleID": "slack-bot-token",
        **fields,
    }


def test_every_gitleaks_file_has_an_expected_count():
    assert sorted(p.name for p in FILES.iterdir()) == sorted(FINDINGS_PER_FILE)


@pytest.mark.parametrize(("name", "count"), FINDINGS_PER_FILE.items())
def test_each_leak_becomes_one_finding(name, count):
    report = parse(name)
    assert report.tool_name == "gitleaks"
    assert len(report.findings) == count


@pytest.mark.parametrize(("path", "document"), list(json_documents()))
def test_it_recognizes_gitleaks_output_and_nothing_else(path, document):
    assert gitleaks.recognizes(document) is (path.parent.name == "gitleaks")


def test_an_empty_report_is_null_or_an_empty_array():
    assert gitleaks.parse(b"null").findings == []
    assert gitleaks.parse(b"[]").findings == []


@pytest.mark.parametrize("name", SECRETS)
def test_no_raw_secret_is_kept_anywhere_in_the_report(name):
    text = repr(parse(name))
    for secret in SECRETS[name]:
        assert secret not in text


def test_gitleaks_8_leaks_are_high_secrets_at_their_location():
    findings = parse("gitleaks8_many.json").findings
    assert {f.severity for f in findings} == {Severity.HIGH}
    assert {f.finding_type for f in findings} == {FindingType.SECRET}
    first = findings[0]
    assert (first.rule_id, first.file_path, first.start_line) == (
        "aws-access-token",
        "/conf/aws.tf",
        2,
    )
    assert (first.start_column, first.end_column) == (24038, 24057)
    assert (
        first.metadata["commit"]
        == "74d53286c550630f80847d37f68aa3065554ac813544072ccd1278da71fafe31"
    )
    # The fixed mask: no prefix of the secret, no length.
    assert first.metadata["secret"] == {"secret_type": "AWS", "masked_value": "••••••••"}
    # The raw value is held for the server's secret policy alone (not in repr, not stored).
    assert first.secret_values == ["secretAWSsecret"]
    # The match is the secret and nothing else: no snippet rather than only the mask.
    assert first.snippet == ""


def test_the_match_is_kept_with_the_secret_masked():
    api_key = parse("gitleaks8_many.json").findings[3]
    assert (api_key.rule_id, api_key.start_line) == ("generic-api-key", 21)
    assert api_key.snippet == 'apikey = "••••••••"'
    assert api_key.metadata["secret"]["entropy"] == 4.132944


def test_without_a_gitleaks_fingerprint_the_secret_formula_applies():
    findings = parse("gitleaks8_many.json").findings
    assert findings[3].fingerprint == secret_fingerprint(
        path="tests/api.py",
        rule_id="generic-api-key",
        start_line=21,
        secret="dfjksdjfs3294dfjlsdaf213",
    )
    # The same secret at the same place in two commits is one finding, as in the SDK.
    assert findings[0].fingerprint == findings[1].fingerprint
    assert len({f.fingerprint for f in findings}) == 3


def test_gitleaks_own_fingerprint_is_used_when_present():
    document = [leak(Fingerprint="abc123:config/slack.py:slack-bot-token:3")]
    [finding] = gitleaks.parse(json.dumps(document)).findings
    assert finding.fingerprint == "abc123:config/slack.py:slack-bot-token:3"
    assert "xoxb" not in repr(finding)
    assert finding.snippet == "token = ••••••••"


@pytest.mark.parametrize("secret", ["hunter2", "xoxb-1234567890-abcdefghijkl"])
def test_every_secret_gets_the_same_mask_whatever_its_length(secret):
    [finding] = gitleaks.parse(json.dumps([leak(Secret=secret, Match=f"pw={secret}")])).findings
    assert finding.snippet == "pw=••••••••"
    assert finding.metadata["secret"]["masked_value"] == "••••••••"
    assert "length" not in finding.metadata["secret"]


def test_a_match_without_the_secret_in_it_is_dropped():
    # The rule captured a part of the match we cannot locate: the match may be the secret.
    [finding] = gitleaks.parse(json.dumps([leak(Secret="abc", Match="xyzsecretxyz")])).findings
    assert finding.snippet == ""


def test_old_gitleaks_leaks_are_read_by_rule_name():
    [finding] = parse("data_one.json").findings
    assert finding.rule_id == "Asymmetric Private Key"
    assert finding.severity is Severity.HIGH
    assert finding.finding_type is FindingType.SECRET
    assert finding.file_path == "cert-key.pem"
    assert finding.start_line is None  # gitleaks 7 wrote no line number here
    assert finding.metadata["tags"] == ["key", "AsymmetricPrivateKey"]
    assert finding.metadata["secret"]["masked_value"] == "••••••••"


def test_invalid_json_is_rejected():
    with pytest.raises(ReportError, match="not valid JSON"):
        gitleaks.parse(b"{")


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (b"[1,2]", "[0]"),
        (b'{"RuleID": "x"}', "body"),
        (json.dumps([leak(), {"File": "a.py"}]), "[1].RuleID"),
        (json.dumps([leak(StartLine="three")]), "[0].StartLine"),
        (json.dumps([leak(Tags="a,b")]), "[0].Tags"),
    ],
)
def test_a_malformed_report_is_rejected_with_its_path(raw, path):
    with pytest.raises(ReportError) as caught:
        gitleaks.parse(raw)
    assert caught.value.path == path
