"""For any secret, in any field of any format that holds one, nothing of it is stored.

A secret `s` (8 to 64 printable characters) is placed where each format puts a secret —
gitleaks' `Secret` and `Match`, its SARIF snippet, trufflehog's `Raw`, trufflehog3's
`secret` and line, detect-secrets' hash, checkov's code block, a semgrep secret rule's
line, bandit's message and code, RIS and flat `secret_value`, snippet, description and
`metadata.secret` — and the report is ingested twice (`ingest_submit`). Then:

* no text, JSON or binary column of any row the tenant owns holds `s` or its first four
  characters (`tests.ingest.test_secret_policy.stored_strings`);
* the second ingest finds the finding the first one stored: one finding, seen twice,
  under a keyed fingerprint (ingest/secrets.py).

A four-character prefix can occur in a report by chance ("ERRO" in a severity word):
each placement is first ingested with a secret made of characters `s` never uses, and
a prefix found in what that stored is not drawn.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from findings.models import Finding
from ingest.secrets import KEYED_PREFIX
from ingest.services import ingest_submit
from tests.factories import TenantFactory
from tests.ingest.test_secret_policy import (
    bandit_password,
    checkov_secret,
    flat_secret,
    gitleaks_sarif,
    ris_secret,
    semgrep_secret_rule,
    stored_strings,
)
from tests.properties.strategies import properties

# The head never holds a digit, a lower-case letter or "-" and "_": no date, hex digest,
# UUID or "CWE-…" of a report begins a secret by chance.
_HEAD = "ABCDEFGHIJKLMNOPQRSTUVWXYZ!#$%&+=?@^~|"
_TAIL = _HEAD + "abcdefghijklmnopqrstuvwxyz0123456789-_./:*'"
SECRETS = st.builds(
    str.__add__,
    st.text(alphabet=_HEAD, min_size=4, max_size=4),
    st.text(alphabet=_TAIL, min_size=4, max_size=60),
)
# What a placement stores around its secret is learnt with this one: no character of it
# is in the alphabets above.
_NEUTRAL = "\u00a7" * 12


def gitleaks_v8(s: str) -> list[dict]:
    return [
        {
            "RuleID": "generic-api-key",
            "Description": "Generic API Key",
            "File": "app/settings.py",
            "StartLine": 7,
            "EndLine": 7,
            "Match": f"api_key = {s}",
            "Secret": s,
            "Commit": "9c3f4d641d14eba2740febccd902cde300218a8d",
            "Tags": [],
            "Entropy": 4.2,
        }
    ]


def gitleaks_v7(s: str) -> list[dict]:
    return [
        {
            "rule": "Generic Credential",
            "file": "app/settings.py",
            "lineNumber": 7,
            "line": f"password={s}",
            "offender": s,
            "commit": "9c3f4d641d14eba2740febccd902cde300218a8d",
            "tags": "key, generic",
        }
    ]


def trufflehog(s: str) -> str:
    record = {
        "SourceMetadata": {"Data": {"Filesystem": {"file": "config/.env", "line": 12}}},
        "DetectorName": "Github",
        "DecoderName": "PLAIN",
        "Verified": False,
        "Raw": s,
        "RawV2": s,
        "Redacted": s,
        "ExtraData": {"note": f"token {s}"},
    }
    return json.dumps(record) + "\n"


def trufflehog3_current(s: str) -> list[dict]:
    return [
        {
            "rule": {"id": "generic.token", "message": "Generic token", "severity": "HIGH"},
            "path": "config.py",
            "line": "3",
            "secret": s,
            "context": {"2": "# settings", "3": f'TOKEN = "{s}"'},
            "id": "6ac0ab3b-5f34-3d2a-886c-08424de77b23",
        }
    ]


def trufflehog3_legacy(s: str) -> list[dict]:
    return [
        {
            "path": "fixtures/users.json",
            "reason": "High entropy",
            "stringsFound": [f"+token = {s}"],
            "commitHash": "3e2d1f58bf2ee974fb1195373d8526876fd6348b",
            "commit": "Update users.json",
        }
    ]


def detect_secrets(s: str) -> dict:
    entry = {
        "type": "Secret Keyword",
        "filename": "deploy/env.sh",
        "hashed_secret": s,  # a stand-in for the hash: kept nowhere either
        "is_verified": False,
        "line_number": 3,
    }
    return {"version": "1.5.0", "plugins_used": [], "results": {"deploy/env.sh": [entry]}}


def checkov(s: str) -> dict:
    document = checkov_secret(s)
    document["results"]["failed_checks"][0]["code_block"] = [[3, f'AWS_SECRET="{s}"\n']]
    document["results"]["failed_checks"][0]["resource"] = s
    return document


def semgrep_sarif(s: str) -> dict:
    document = gitleaks_sarif(f'token = "{s}"')
    run = document["runs"][0]
    run["tool"]["driver"] = {
        "name": "Semgrep OSS",
        "rules": [{"id": "generic.secrets.security.detected-generic-secret"}],
    }
    run["results"][0]["ruleId"] = "generic.secrets.security.detected-generic-secret"
    run["results"][0]["message"] = {"text": "Generic secret detected"}
    return document


def bandit_sarif(s: str) -> dict:
    document = gitleaks_sarif(f'DB_PASSWORD = "{s}"\n')
    run = document["runs"][0]
    run["tool"]["driver"] = {
        "name": "Bandit",
        "rules": [
            {
                "id": "B105",
                "name": "hardcoded_password_string",
                "properties": {"tags": ["security", "external/cwe/cwe-259"]},
            }
        ],
    }
    run["results"][0] |= {
        "ruleId": "B105",
        "message": {"text": f"Possible hardcoded password: '{s}'"},
        "partialFingerprints": {},
    }
    return document


def ris_title_and_detail(s: str) -> dict:
    document = ris_secret(s)
    finding = document["findings"][0]
    finding["title"] = f"Token {s} committed"
    finding["secret"] = {"secret_type": "github", "raw": s, "match": f"TOKEN={s}"}
    finding["tags"] = [f"found:{s}"]
    return document


def flat_secret_as_text(s: str) -> dict:
    document = flat_secret(s)
    document["findings"][0]["metadata"] = {"secret": s, "origin": f"scan of {s}"}
    return document


# placement: (format to name, or None to detect; the report with `s` in place)
PLACEMENTS: dict[str, tuple[str | None, Callable[[str], Any]]] = {
    "gitleaks_v8": (None, gitleaks_v8),
    "gitleaks_v7": (None, gitleaks_v7),
    "gitleaks_sarif": (None, gitleaks_sarif),
    "trufflehog": ("trufflehog", trufflehog),
    "trufflehog3_current": (None, trufflehog3_current),
    "trufflehog3_legacy": (None, trufflehog3_legacy),
    "detect_secrets": (None, detect_secrets),
    "checkov": (None, checkov),
    "semgrep_json": (None, semgrep_secret_rule),
    "semgrep_sarif": (None, semgrep_sarif),
    "bandit_json": (None, bandit_password),
    "bandit_sarif": (None, bandit_sarif),
    "ris_secret_value": ("ris", ris_secret),
    "ris_title_and_detail": ("ris", ris_title_and_detail),
    "flat_secret_value": ("flat", flat_secret),
    "flat_secret_as_text": ("flat", flat_secret_as_text),
}


def raw_of(document: Any) -> bytes:
    return (document if isinstance(document, str) else json.dumps(document)).encode()


@cache
def _around(placement: str) -> str:
    """What the placement stores around a secret that shares no character with ours."""
    format, build = PLACEMENTS[placement]
    tenant = TenantFactory()
    ingest_submit(tenant=tenant, raw=raw_of(build(_NEUTRAL)), format=format, options={})
    return "\n".join(stored_strings(tenant))


class NoSecretIsStoredWhateverItIs(TestCase):
    def holds(self, placement: str, secret: str) -> None:
        assume(secret[:4] not in _around(placement))
        format, build = PLACEMENTS[placement]
        tenant = TenantFactory()
        for _ in range(2):
            run = ingest_submit(
                tenant=tenant,
                raw=raw_of(build(secret)),
                format=format,
                options={"asset": "github.com/acme/app"},
            )
            self.assertEqual(run.status, "completed", run.error)
        self.assertEqual(run.result["findings_created"], 0)
        [finding] = Finding.objects.for_tenant(tenant)
        self.assertEqual((finding.finding_type, finding.occurrence_count), ("secret", 2))
        self.assertTrue(finding.fingerprint.startswith(KEYED_PREFIX), finding.fingerprint)
        for stored in stored_strings(tenant):
            self.assertNotIn(secret[:4], stored)

    @properties(10)
    @given(secret=SECRETS)
    def test_gitleaks_json_secret_and_match(self, secret):
        self.holds("gitleaks_v8", secret)

    @properties(10)
    @given(secret=SECRETS)
    def test_gitleaks_7_offender_and_line(self, secret):
        self.holds("gitleaks_v7", secret)

    @properties(10)
    @given(secret=SECRETS)
    def test_gitleaks_sarif_snippet(self, secret):
        self.holds("gitleaks_sarif", secret)

    @properties(10)
    @given(secret=SECRETS)
    def test_trufflehog_raw_redacted_and_extra_data(self, secret):
        self.holds("trufflehog", secret)

    @properties(10)
    @given(secret=SECRETS)
    def test_trufflehog3_secret_and_line(self, secret):
        self.holds("trufflehog3_current", secret)

    @properties(10)
    @given(secret=SECRETS)
    def test_trufflehog3_legacy_string_found(self, secret):
        self.holds("trufflehog3_legacy", secret)

    @properties(10)
    @given(secret=SECRETS)
    def test_detect_secrets_hash(self, secret):
        self.holds("detect_secrets", secret)

    @properties(10)
    @given(secret=SECRETS)
    def test_checkov_code_block_and_resource(self, secret):
        self.holds("checkov", secret)

    @properties(10)
    @given(secret=SECRETS)
    def test_semgrep_secret_rule_line(self, secret):
        self.holds("semgrep_json", secret)

    @properties(10)
    @given(secret=SECRETS)
    def test_semgrep_sarif_secret_rule_snippet(self, secret):
        self.holds("semgrep_sarif", secret)

    @properties(10)
    @given(secret=SECRETS)
    def test_bandit_message_and_code(self, secret):
        self.holds("bandit_json", secret)

    @properties(10)
    @given(secret=SECRETS)
    def test_bandit_sarif_message_and_snippet(self, secret):
        self.holds("bandit_sarif", secret)

    @properties(10)
    @given(secret=SECRETS)
    def test_ris_secret_value_snippet_description_and_properties(self, secret):
        self.holds("ris_secret_value", secret)

    @properties(10)
    @given(secret=SECRETS)
    def test_ris_title_value_keys_and_tags(self, secret):
        self.holds("ris_title_and_detail", secret)

    @properties(10)
    @given(secret=SECRETS)
    def test_flat_secret_value_message_snippet_and_description(self, secret):
        self.holds("flat_secret_value", secret)

    @properties(10)
    @given(secret=SECRETS)
    def test_flat_secret_as_text_in_metadata(self, secret):
        self.holds("flat_secret_as_text", secret)
