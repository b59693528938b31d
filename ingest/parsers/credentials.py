"""Secrets in findings: which findings are about one, and what such a finding may keep.

One rule for every format, Django-free (the agent runs the parsers too):

* **Which findings are secrets.** Those a secret scanner reports (gitleaks, trufflehog,
  trufflehog3, detect-secrets, checkov's `secrets` framework, trivy's secrets), whatever
  format it wrote — gitleaks' SARIF included — and the hard-coded credentials other
  tools find: bandit's password checks (B105–B107), a CWE of hard-coded credentials
  (798, 259, 321) in any format, and secret-detection rules known by their name or
  metadata (semgrep's `…secrets…` rule ids, `category`/`technology` "secrets"), with or
  without a CWE tag. `as_secret` reclassifies such a finding without changing its
  identity: its fingerprint stays what it was as a vulnerability, so the stored
  finding it was keeps being the same finding (findings/migrations/0006).
* **What it may keep.** Parsers put the raw value(s) they read in the finding's
  `secret_values` (memory only) and call `conceal`: every occurrence of a value in the
  title, description, snippet, references, partial fingerprints and metadata becomes
  `MASK`; a secret finding's `metadata.secret` keeps its descriptive fields with
  `masked_value` = `MASK` and never a length or a value; its snippet stays only when it
  shows the mask around some context (it was masked), since a snippet we cannot find the
  value in may be nothing but the secret. `MASK` is fixed: no prefix, no length.

The server applies the same `conceal` once more to every report before storing it and
replaces a secret finding's fingerprint with a keyed one (ingest/secrets.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from findings.rules.categories import (
    FindingType,
    SourceCategory,
    known_tool,
    source_category_for_tool,
)
from protocol.report import ReportFinding, fingerprint_of

# The one mask: it says "there was a secret here" and nothing about it.
MASK = "••••••••"

# Hard-coded credentials (798), passwords (259) and cryptographic keys (321): the matched
# line holds the secret itself.
CREDENTIAL_CWES = frozenset({"CWE-798", "CWE-259", "CWE-321"})
# bandit: B105 password string, B106 password argument, B107 password default.
BANDIT_PASSWORD_TESTS = frozenset({"B105", "B106", "B107"})

# Keys of `metadata.secret` that hold the value itself (RIS senders and the flat format
# use several names), dropped once their value is known; and the one key that names a
# secret's value wherever it appears in the metadata.
VALUE_KEYS = frozenset({"secret_value", "value", "raw", "raw_v2", "secret", "match", "offender"})
VALUE_KEY = "secret_value"
# What `metadata.secret` never keeps from the tool: a value, the value's length, a mask
# of its own (it may show a prefix: "AKIA****").
_DROPPED_DETAILS = VALUE_KEYS | {"length", "masked_value"}

_QUOTED = re.compile(r"'([^']*)'")
_OUTERMOST_QUOTED = re.compile(r"'(.*)'", re.DOTALL)
_SECRET_WORDS = frozenset({"secret", "secrets"})
# Dotted rule paths only: "aws-ssm-secret-use-customer-key" (tfsec) is a misconfiguration
# of a secret store, not a secret found.
_RULE_SEGMENTS = re.compile(r"[./:]")
_CHECKOV_SECRET = re.compile(r"CKV_SECRET_\d+", re.IGNORECASE)


def finds_secret(tool_name: str, rule_id: str, cwe_ids: Iterable[str], *labels: Any) -> bool:
    """Whether a finding of `tool_name`'s rule `rule_id` is about a secret (see the module
    doc). `labels`: the rule's category, technology, tags… as the tool gave them."""
    return (
        is_secrets_tool(tool_name)
        or (rule_id in BANDIT_PASSWORD_TESTS and known_tool(tool_name) == "bandit")
        or is_hard_coded_credential(cwe_ids)
        or is_secret_rule(rule_id, *labels)
    )


def labels_of(metadata: dict[str, Any]) -> tuple[Any, ...]:
    """The labels of a rule that `finds_secret` reads, as parsers keep them in metadata
    (semgrep's category, subcategory and technology; SARIF and RIS tags)."""
    return tuple(metadata.get(key) for key in ("category", "subcategory", "technology", "tags"))


def is_hard_coded_credential(cwe_ids: Iterable[str]) -> bool:
    return not CREDENTIAL_CWES.isdisjoint(cwe_ids)


def is_secrets_tool(tool_name: str) -> bool:
    """A secret scanner by name (the Secrets row of findings/rules/categories.py)."""
    return source_category_for_tool(tool_name) is SourceCategory.SECRETS


def is_secret_rule(rule_id: str, *labels: Any) -> bool:
    """A secret-detection rule: a dotted rule id with a `secrets` segment
    (`generic.secrets.security.detected-aws-key`), checkov's `CKV_SECRET_<n>`, or a label
    — semgrep's `category`, `subcategory`, `technology`, a SARIF tag — that says
    "secret(s)"."""
    if _CHECKOV_SECRET.fullmatch(rule_id) or _SECRET_WORDS & set(
        _RULE_SEGMENTS.split(rule_id.lower())
    ):
        return True
    for label in labels:
        words = label if isinstance(label, list | tuple) else [label]
        if any(isinstance(w, str) and w.strip().lower() in _SECRET_WORDS for w in words):
            return True
    return False


def quoted_values(text: str) -> list[str]:
    """What a message quotes: bandit writes "Possible hardcoded password: 'hunter2'". The
    span from the first quote to the last counts too: a password may hold a quote."""
    outermost = _OUTERMOST_QUOTED.search(text)
    spans = [*_QUOTED.findall(text), outermost.group(1) if outermost else ""]
    return list(dict.fromkeys(value for value in spans if value))


def as_secret(finding: ReportFinding, values: Iterable[str] = ()) -> ReportFinding:
    """Make `finding` a secret finding about `values`, keeping its identity: the
    fingerprint it had as a vulnerability (its tool's, else the formula for its fields)
    is pinned before the type changes the formula."""
    finding.fingerprint = fingerprint_of(finding)
    finding.finding_type = FindingType.SECRET
    finding.secret_values.extend(value for value in values if value)
    detail = finding.metadata.get("secret")
    if not isinstance(detail, dict):
        finding.metadata["secret"] = {"secret_type": finding.rule_name or finding.rule_id}
    return finding


def classified(finding: ReportFinding, tool_name: str) -> ReportFinding:
    """`finding` as sent in our own formats (RIS, flat), a secret when it is one, concealed:
    a sender that files a hard-coded credential as a vulnerability (an older agent, a
    script) gets the treatment the tools' own formats get."""
    if finding.finding_type is FindingType.VULNERABILITY and finds_secret(
        finding.tool_name or tool_name,
        finding.rule_id,
        finding.cwe_ids,
        *labels_of(finding.metadata),
    ):
        as_secret(finding, quoted_values(finding.title))
    return conceal(finding)


def conceal(finding: ReportFinding) -> ReportFinding:
    """Mask every known value of `finding` wherever it occurs (see the module doc)."""
    is_secret = finding.finding_type is FindingType.SECRET
    metadata = finding.metadata
    if not (is_secret or finding.secret_values or "secret" in metadata or VALUE_KEY in metadata):
        return finding  # the common case, kept cheap: nothing here is about a secret
    finding.metadata = _without_values(metadata, finding.secret_values, top=is_secret)
    values = _maskable(finding.secret_values)
    if values:
        finding.title = _masked(finding.title, values)
        finding.description = _masked(finding.description, values)
        finding.rule_name = _masked(finding.rule_name, values)
        finding.url = _masked(finding.url, values)
        finding.references = [_masked(ref, values) for ref in finding.references]
        finding.partial_fingerprints = {
            key: _masked(value, values) for key, value in finding.partial_fingerprints.items()
        }
        finding.metadata = _masked_json(finding.metadata, values)
        finding.snippet = _masked(finding.snippet, values)
    if is_secret and (MASK not in finding.snippet or not finding.snippet.replace(MASK, "").strip()):
        finding.snippet = ""  # not masked (may be nothing but the secret), or only the mask
    if is_secret:
        detail = finding.metadata.get("secret")
        detail = detail if isinstance(detail, dict) else {}
        kept = {k: v for k, v in detail.items() if k not in _DROPPED_DETAILS}
        finding.metadata["secret"] = {**kept, "masked_value": MASK}
    return finding


def _maskable(values: list[str]) -> list[str]:
    # Longest first: a value inside another must not leave the rest of it showing. A
    # value made of the mask's own characters would only mask the masks.
    unique = {v for v in values if isinstance(v, str) and v and v.strip(MASK[0])}
    return sorted(unique, key=len, reverse=True)


def _masked(text: str, values: list[str]) -> str:
    if not text:
        return text
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def _masked_json(value: Any, values: list[str]) -> Any:
    if isinstance(value, str):
        return _masked(value, values)
    if isinstance(value, dict):
        return {_masked(str(k), values): _masked_json(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked_json(v, values) for v in value]
    return value


def _without_values(metadata: Any, found: list[str], *, top: bool | None = None) -> Any:
    """`metadata` without the keys that hold a secret's value (their values go to
    `found`): any key of the `secret` detail object that names a value, `secret_value`
    at any depth and, in a secret finding (`top` True), a `secret` that is no object."""
    if isinstance(metadata, list):
        return [_without_values(item, found) for item in metadata]
    if not isinstance(metadata, dict):
        return metadata
    kept = {}
    for key, item in metadata.items():
        if key == VALUE_KEY:
            found.extend(_strings(item))
            continue
        if top is not None and key == "secret":
            if not isinstance(item, dict):
                if top:  # a secret finding's `"secret": "<the value>"`
                    found.extend(_strings(item))
                    continue
                kept[key] = item
                continue
            found.extend(s for k, v in item.items() if k in VALUE_KEYS for s in _strings(v))
            item = {k: v for k, v in item.items() if k not in VALUE_KEYS}
        kept[key] = _without_values(item, found)
    return kept


def _strings(value: Any, *, nested: bool = False) -> list[str]:
    """The text of a value: itself, a number's digits (a PIN is a secret too), the strings
    inside an object or a list — not their numbers, which are positions and counts."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item, nested=True)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item, nested=True)]
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return [str(value)] if is_number and not nested else []
