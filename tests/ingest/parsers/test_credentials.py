"""The secret rules every parser shares (ingest/parsers/credentials.py): which findings are
secrets, and what `conceal` leaves of a secret's value."""

from __future__ import annotations

import json

import pytest

from findings.rules.categories import FindingType
from findings.rules.severity import Severity
from ingest.parsers import flat, ris
from ingest.parsers.credentials import MASK, conceal, finds_secret, quoted_values
from protocol.report import ReportFinding, fingerprint_of

TOKEN = "ghp_R8x2Lq7Vn4Tz9Kp3Wm6Hb1Jd5Fs0Yc2Ng8Ea"


def secret(**fields) -> ReportFinding:
    defaults = {"rule_id": "github-pat", "title": "GitHub token", "severity": Severity.HIGH}
    return ReportFinding(**defaults | fields, finding_type=FindingType.SECRET, file_path="ci.sh")


class TestWhichFindingsAreSecrets:
    @pytest.mark.parametrize(
        ("tool", "rule", "cwes", "labels"),
        [
            ("gitleaks", "generic-api-key", [], ()),
            ("trufflehog3", "high-entropy", [], ()),
            ("detect_secrets", "Secret Keyword", [], ()),
            ("bandit", "B106", [], ()),
            ("codeql", "py/hardcoded-credentials", ["CWE-798"], ()),
            ("semgrep", "rules.key", ["CWE-321"], ()),
            ("semgrep", "generic.secrets.security.detected-aws-key", [], ()),
            ("semgrep", "rules.token", [], ("security", None, ["Secrets", "aws"], None)),
            ("checkov", "CKV_SECRET_2", [], ()),
        ],
    )
    def test_secret_scanners_hard_coded_credentials_and_secret_rules(
        self, tool, rule, cwes, labels
    ):
        assert finds_secret(tool, rule, cwes, *labels)

    @pytest.mark.parametrize(
        ("tool", "rule", "cwes"),
        [
            ("semgrep", "python.lang.security.audit.eval", ["CWE-95"]),
            ("checkov", "CKV_AWS_149", []),  # "Secrets Manager is encrypted": a setting
            ("tfsec", "aws-ssm-secret-use-customer-key", []),
            ("semgrep", "B105", []),  # bandit's test id means nothing to another tool
        ],
    )
    def test_other_rules_are_not(self, tool, rule, cwes):
        assert not finds_secret(tool, rule, cwes)

    def test_a_quoted_password_holding_a_quote_is_read_whole(self):
        assert "it's-a-secret" in quoted_values("Possible hardcoded password: 'it's-a-secret'")


class TestConceal:
    def test_every_occurrence_of_a_value_is_masked_and_the_value_dropped_from_metadata(self):
        finding = conceal(
            secret(
                description=f"{TOKEN} leaked",
                snippet=f"TOKEN={TOKEN}",
                metadata={
                    "secret": {"secret_type": "github", "secret_value": TOKEN, "length": 40},
                    "properties": {"raw_copy": {"secret_value": TOKEN}, "note": f"was {TOKEN}"},
                },
            )
        )
        assert finding.description == f"{MASK} leaked"
        assert finding.snippet == f"TOKEN={MASK}"
        assert finding.metadata == {
            "secret": {"secret_type": "github", "masked_value": MASK},
            "properties": {"raw_copy": {}, "note": f"was {MASK}"},
        }
        assert finding.secret_values == [TOKEN, TOKEN]  # for the server's policy

    def test_a_value_inside_another_leaves_nothing_of_the_longer_one(self):
        finding = conceal(secret(snippet=f"a={TOKEN}", secret_values=[TOKEN[:10], TOKEN]))
        assert finding.snippet == f"a={MASK}"

    @pytest.mark.parametrize(
        "snippet",
        [f"export TOKEN={TOKEN[:-1]}", TOKEN, "  ", "no secret shown here"],
    )
    def test_a_secret_findings_snippet_stays_only_when_it_shows_the_mask_in_context(self, snippet):
        # Not the value (perhaps another form of it), the value alone, nothing masked.
        assert conceal(secret(snippet=snippet, secret_values=[TOKEN])).snippet == ""

    def test_a_secret_given_as_text_in_metadata_is_a_value(self):
        finding = conceal(secret(title=f"token {TOKEN}", metadata={"secret": TOKEN}))
        assert finding.title == f"token {MASK}"
        assert finding.metadata == {"secret": {"masked_value": MASK}}

    def test_a_finding_that_is_no_secret_keeps_its_snippet_and_metadata(self):
        finding = ReportFinding(
            rule_id="py/sqli",
            title="SQL injection",
            severity=Severity.HIGH,
            snippet="cursor.execute(q)",
            metadata={"secret": "not-a-dict-but-no-secret-finding", "level": "error"},
        )
        assert conceal(finding).snippet == "cursor.execute(q)"
        assert finding.metadata["secret"] == "not-a-dict-but-no-secret-finding"


class TestOurOwnFormats:
    def test_a_ris_vulnerability_of_a_hard_coded_credential_becomes_a_secret(self):
        document = {
            "version": "1.0",
            "metadata": {},
            "tool": {"name": "semgrep"},
            "findings": [
                {
                    "type": "vulnerability",
                    "title": f"Hard-coded password '{TOKEN}'",
                    "severity": "high",
                    "rule_id": "rules.password",
                    "location": {"path": "app.py", "start_line": 3, "snippet": f"pw='{TOKEN}'"},
                    "vulnerability": {"cwe_ids": ["CWE-259"]},
                }
            ],
        }
        [finding] = ris.parse(json.dumps(document)).findings
        assert finding.finding_type is FindingType.SECRET
        assert (finding.title, finding.snippet) == (
            f"Hard-coded password '{MASK}'",
            f"pw='{MASK}'",
        )
        # Its identity is the one it had as a vulnerability.
        assert finding.fingerprint == fingerprint_of(
            ReportFinding(
                rule_id="rules.password",
                title="",
                severity=Severity.HIGH,
                file_path="app.py",
                start_line=3,
            )
        )

    def test_a_flat_secret_finding_keeps_no_value_in_its_metadata(self):
        document = {
            "metadata": {"tool_name": "custom"},
            "findings": [
                {
                    "type": "secret",
                    "rule_id": "token",
                    "severity": "high",
                    "message": "Token found",
                    "snippet": f"T={TOKEN}",
                    "metadata": {"secret": {"value": TOKEN, "masked_value": TOKEN[:4] + "****"}},
                }
            ],
        }
        [finding] = flat.parse(json.dumps(document)).findings
        assert finding.metadata == {"secret": {"masked_value": MASK}}
        assert finding.snippet == f"T={MASK}"
