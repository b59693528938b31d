from __future__ import annotations

import base64
import hashlib
import json

import pytest

from findings.rules.categories import FindingType
from findings.rules.severity import Severity
from ingest.parsers import trufflehog
from protocol.report import ReportError, fingerprint_of
from tests.shared_data import DATA, read

AWS_KEY = "AKIAYVP4CIPPERUVIFXG"


def records() -> list[dict]:
    return [json.loads(text) for text in read("trufflehog/v3_git.json").splitlines()]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def secret_formula(path: str, rule: str, line: int, secret: str) -> str:
    return sha256(f"secret:{path}:{rule}:{line}:{sha256(secret)[:16]}")


def record(**fields: object) -> dict:
    """A record as TruffleHog 3.6x writes it: Raw as text, with RawV2 and DecoderName."""
    return {
        "SourceMetadata": {"Data": {"Filesystem": {"file": "config/.env", "line": 12}}},
        "SourceName": "trufflehog - filesystem",
        "DetectorName": "Github",
        "DecoderName": "PLAIN",
        "Verified": False,
        "Raw": "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "RawV2": "",
        "Redacted": "",
        "ExtraData": {"username": "octocat"},
        **fields,
    }


class TestSharedFile:
    def test_every_trufflehog_file_is_counted_here(self):
        assert {p.name for p in (DATA / "trufflehog").iterdir()} == {"v3_git.json"}

    def test_each_of_the_four_records_is_a_finding(self):
        # The README says 3 lines; the file holds 4 records on 4 lines (no final newline),
        # the 4th repeating the 2nd. Entries are not deduplicated here.
        report = trufflehog.parse(read("trufflehog/v3_git.json"))
        assert len(report.findings) == 4
        assert [f.rule_id for f in report.findings] == ["AWS", "URI", "PrivateKey", "URI"]
        assert {f.severity for f in report.findings} == {Severity.CRITICAL}  # all verified
        assert {f.finding_type for f in report.findings} == {FindingType.SECRET}

    def test_the_first_finding(self):
        finding = trufflehog.parse(read("trufflehog/v3_git.json")).findings[0]
        assert (finding.rule_id, finding.title, finding.file_path, finding.start_line) == (
            "AWS",
            "AWS secret",
            "keys",
            4,
        )
        # The fixed mask: no prefix, no length.
        assert finding.metadata["secret"] == {
            "secret_type": "AWS",
            "valid": True,
            "masked_value": "••••••••",
        }
        assert finding.metadata["commit"] == "fbc14303ffbf8fb1c2c1914e8dda7d0121633aca"
        assert finding.metadata["extra"]["account"] == "595918472158"

    def test_the_fingerprint_is_the_sdk_secret_formula_over_the_decoded_secret(self):
        finding = trufflehog.parse(read("trufflehog/v3_git.json")).findings[0]
        assert finding.fingerprint == secret_formula("keys", "aws", 4, AWS_KEY)
        assert fingerprint_of(finding) == finding.fingerprint

    def test_a_repeated_record_has_the_same_fingerprint(self):
        findings = trufflehog.parse(read("trufflehog/v3_git.json")).findings
        assert findings[1].fingerprint == findings[3].fingerprint
        assert len({f.fingerprint for f in findings}) == 3

    def test_the_shared_repository_is_the_target(self):
        report = trufflehog.parse(read("trufflehog/v3_git.json"))
        assert [t.identifier for t in report.targets] == [
            "https://github.com/trufflesecurity/test_keys"
        ]


class TestNoSecretSurvives:
    def sensitive_values(self) -> list[str]:
        values = []
        for item in records():
            secret = base64.b64decode(item["Raw"]).decode()
            values += [item["Raw"], secret, secret[4:], item["Redacted"]]
        return values

    def test_no_raw_or_redacted_value_is_in_the_report(self):
        text = repr(trufflehog.parse(read("trufflehog/v3_git.json")))
        assert AWS_KEY not in text
        for value in self.sensitive_values():
            assert value not in text

    def test_extra_data_holding_the_secret_is_dropped(self):
        secret = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
        item = record(
            ExtraData={"token": secret, "url": f"https://x:{secret}@github.com", "user": "octocat"}
        )
        [finding] = trufflehog.parse(json.dumps(item)).findings
        assert finding.metadata["extra"] == {"user": "octocat"}
        assert secret not in repr(finding)

    @pytest.mark.parametrize("secret", ["hunter2", "12345678", "123456789", AWS_KEY])
    def test_no_secret_is_partly_shown_whatever_its_length(self, secret):
        [finding] = trufflehog.parse(json.dumps(record(Raw=secret))).findings
        assert finding.metadata["secret"]["masked_value"] == "••••••••"
        assert "length" not in finding.metadata["secret"]

    def test_every_sensitive_value_is_held_for_the_servers_policy_only(self):
        findings = trufflehog.parse(read("trufflehog/v3_git.json")).findings
        for item, finding in zip(records(), findings, strict=True):
            secret = base64.b64decode(item["Raw"]).decode()
            assert set(finding.secret_values) == {secret, item["Raw"], item["Redacted"]} - {""}


class TestCurrentFormat:
    def test_raw_is_the_secret_itself_when_the_record_has_rawv2_and_decoder(self):
        [finding] = trufflehog.parse(json.dumps(record())).findings
        secret = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
        assert finding.fingerprint == secret_formula("config/.env", "github", 12, secret)
        assert finding.metadata["secret"]["masked_value"] == "••••••••"
        assert finding.metadata["secret"]["decoder"] == "PLAIN"

    def test_rawv2_wins_over_raw(self):
        item = record(Raw="AKIAEXAMPLE", RawV2="AKIAEXAMPLEwJalrXUtnFEMI/K7MDENG")
        [finding] = trufflehog.parse(json.dumps(item)).findings
        assert finding.fingerprint == secret_formula(
            "config/.env", "github", 12, "AKIAEXAMPLEwJalrXUtnFEMI/K7MDENG"
        )

    def test_an_unverified_secret_is_high(self):
        [finding] = trufflehog.parse(json.dumps(record())).findings
        assert (finding.severity, finding.metadata["secret"]["valid"]) == (Severity.HIGH, False)

    def test_files_in_different_repositories_give_no_target(self):
        first = record(
            SourceMetadata={
                "Data": {"Git": {"repository": "https://github.com/a/b", "file": "x", "line": 1}}
            }
        )
        second = record(
            SourceMetadata={
                "Data": {"Git": {"repository": "https://github.com/c/d", "file": "x", "line": 1}}
            }
        )
        report = trufflehog.parse("\n".join(json.dumps(r) for r in (first, second)))
        assert report.targets == []


class TestMalformedRecords:
    @pytest.mark.parametrize(
        ("fields", "path"),
        [
            ({"SourceMetadata": None}, "line 1.SourceMetadata"),
            ({"Raw": 12345}, "line 1.Raw"),
            ({"DetectorName": ""}, "line 1.DetectorName"),
        ],
    )
    def test_a_wrong_shape_names_its_place(self, fields, path):
        with pytest.raises(ReportError) as caught:
            trufflehog.parse(json.dumps(record(**fields)))
        assert caught.value.path == path

    def test_a_line_that_is_not_json_is_named(self):
        with pytest.raises(ReportError) as caught:
            trufflehog.parse(json.dumps(record()) + "\nnot json")
        assert caught.value.path == "line 2"

    @pytest.mark.parametrize(
        "document", [[], [{"DetectorName": "AWS"}], {"SourceMetadata": {}}, [{"info": {}}]]
    )
    def test_other_documents_are_not_trufflehog(self, document):
        assert not trufflehog.recognizes(document)
