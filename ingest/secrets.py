"""The secret policy: what the server stores of a finding about a secret.

Applied once to every report, in `ingest_report` before anything is stored, whatever
the format and whoever built the report (a parser here, or the agent, whose RIS never
carries the raw value). For each finding (ingest/parsers/credentials.py has the rules):

1. every value the finding knows — `secret_values` from its parser, a value a sender
   put in `metadata.secret` (`secret_value`, `value`, `raw`…) or in `secret_value`
   anywhere — is masked wherever it occurs, then dropped: nothing keeps it past this
   step. A secret finding keeps `metadata.secret.masked_value` = the fixed mask (no
   prefix, no length) and its snippet only when it shows that mask;
2. a secret finding's fingerprint becomes keyed: `hmac-sha256:` + HMAC-SHA256, under
   the server's fingerprint key, of the identity it had — the fingerprint its tool or
   sender gave, else the reference SDK's secret formula (path, rule, line and
   sha256(secret)[:16], or the tool's hash of the secret when the report has only that:
   detect-secrets' `hashed_secret`). The same secret at the same place keeps one
   fingerprint across runs, and the agent's report and an upload of the same file
   agree, but a leaked database cannot confirm a guess: without the key no guess can
   be hashed the same way. Partial fingerprints that hash a line (`…Hash`) are keyed
   the same way.

The key: `SECRET_FINGERPRINT_KEY` when set, else `SECRET_KEY`, either one derived for
this purpose only (`salted_hmac` with a purpose string). Changing it changes every
secret finding's identity: the next full run files them anew and resolves the old ones.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache

from django.conf import settings
from django.utils.crypto import salted_hmac

from findings.rules.categories import FindingType
from ingest.parsers.credentials import conceal
from protocol.report import Report, ReportFinding, fingerprint_of

KEYED_PREFIX = "hmac-sha256:"
_PURPOSE = "rediverio.ingest.secrets.fingerprint"


def fingerprint_key() -> bytes:
    """The server's key for secret fingerprints (see the module doc)."""
    configured = getattr(settings, "SECRET_FINGERPRINT_KEY", "") or settings.SECRET_KEY
    return _derived(configured)


@cache
def _derived(secret: str) -> bytes:
    return salted_hmac(_PURPOSE, b"", secret=secret, algorithm="sha256").digest()


def keyed_fingerprint(identity: str, key: bytes) -> str:
    """The stored fingerprint of a secret finding whose identity is `identity`."""
    # surrogatepass: a JSON "\\ud800" in an agent's fingerprint must hash, not raise.
    digest = hmac.new(key, identity.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return KEYED_PREFIX + digest.hexdigest()


def is_keyed(fingerprint: str) -> bool:
    return fingerprint.startswith(KEYED_PREFIX)


def apply_secret_policy(report: Report) -> Report:
    """Apply the policy to every finding of `report` (in place, and returned)."""
    key = fingerprint_key()
    for finding in report.findings:
        protect(finding, key)
    return report


def protect(finding: ReportFinding, key: bytes) -> ReportFinding:
    """One finding under the policy: masked, keyed when a secret, raw values dropped."""
    is_secret = finding.finding_type is FindingType.SECRET
    # The identity first: the sender's fields as sent, as its earlier sightings had it.
    identity = fingerprint_of(finding) if is_secret else ""
    conceal(finding)
    if is_secret:
        finding.fingerprint = keyed_fingerprint(identity, key)
        finding.partial_fingerprints = {
            name: keyed_fingerprint(value, key) if "hash" in name.lower() else value
            for name, value in finding.partial_fingerprints.items()
        }
    finding.secret_values = []
    return finding
