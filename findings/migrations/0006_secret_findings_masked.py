"""Mask the secrets already stored and key their fingerprints, as an ingest now does
(ingest/secrets.py, ingest/parsers/credentials.py; README: Security).

What older ingests left: masks showing a prefix and the length in `metadata.secret`
("AKIA****", `length`), the same masks in snippets and bandit's messages, gitleaks'
SARIF results stored as vulnerabilities with the secret itself as their snippet, the
matched lines of secret rules without a CWE tag, RIS and flat secret findings with the
value in their snippet, description or `metadata.secret.secret_value`, and fingerprints
that are an unsalted SHA-256 over the secret.

Which rows: every finding of type secret, and every vulnerability the parsers now file
as a secret (`finds_secret` over the stored tool, rule, CWEs and labels: a secret
scanner's results, bandit B105–B107, CWE-798/259/321, secret-detection rules), which
becomes one (its type and source category change).

What each keeps is what an ingest would store (`conceal`): the values the row still
shows — a value a sender left in `metadata.secret` or `secret_value`, the snippet of a
secret scanner's result stored as a vulnerability (gitleaks' SARIF writes the secret
itself there), what the title quotes (bandit's message), and the old masks, whose
prefix is part of the secret (the stored `masked_value`, runs of `*`) — masked wherever
they occur; the snippet only when it shows the mask around some context; and
`metadata.secret` without a value, a length or an old mask. Audit events name a finding
by its title: their `target_name` and notes are masked the same way.

Fingerprints are recomputed, not kept. A stored fingerprint *is* the identity that an
ingest computes before keying it (the tool's or sender's fingerprint, else the formula
over the finding's fields, the secret's hash included), and a reclassified finding keeps
that identity by design (`credentials.as_secret`). So the new fingerprint is the keyed
HMAC of the stored one: exactly what the next ingest of the same secret at the same
place computes, and nothing of the unsalted hash remains. Partial fingerprints that
hash a line are keyed likewise. Rows already keyed (`hmac-sha256:…`, stored by the new
code before this migration ran) keep their fingerprint.

Duplicates: an already keyed row may hold the new fingerprint of an old one on the same
asset — the same finding, sighted by the new code during a rolling deployment. The two
become one, the older row (its id, first sighting and triage history): it takes the
other's sightings, the later last sighting, both occurrence counts, a triage decision if
either row has one (else the later row's status), and the other row is deleted; the
unique (tenant, asset, fingerprint) constraint never sees two. The asset's counters
follow at its next ingest (findings/stats.py).

Reverse: a no-op. The raw values are gone by design, and the older code reads masked
rows and keyed fingerprints as they are.
"""

from __future__ import annotations

import re

from django.db import migrations
from django.db.models import Q

from findings.rules.categories import (
    TOOL_CATEGORIES,
    FindingType,
    SourceCategory,
    source_category_for_tool,
)
from findings.rules.severity import Severity
from ingest.parsers.credentials import (
    BANDIT_PASSWORD_TESTS,
    CREDENTIAL_CWES,
    MASK,
    conceal,
    finds_secret,
    is_secrets_tool,
    labels_of,
    quoted_values,
)
from protocol.report import ReportFinding
from ingest.secrets import fingerprint_key, is_keyed, keyed_fingerprint

BATCH = 500
TRIAGED = ("false_positive", "accepted", "duplicate")
TRIAGE_LOG_MAX = 100  # findings/services.py
# Trivy's mask (one * per character) and trufflehog3's "****": the length shows.
ASTERISKS = re.compile(r"\*{3,}")
CHANGED = [
    "fingerprint",
    "partial_fingerprints",
    "finding_type",
    "source_category",
    "rule_name",
    "title",
    "description",
    "snippet",
    "url",
    "references",
    "metadata",
]


def candidates() -> Q:
    """Rows that may be secrets: a broad text filter; `finds_secret` decides."""
    maybe = Q(rule_id__in=BANDIT_PASSWORD_TESTS) | Q(rule_id__icontains="secret")
    maybe |= Q(metadata__icontains="secret") | Q(tool_name__icontains="secret")
    for cwe in CREDENTIAL_CWES:
        maybe |= Q(cwe_ids__icontains=cwe)
    for tool, category in TOOL_CATEGORIES.items():
        if category is SourceCategory.SECRETS:
            maybe |= Q(tool_name__icontains=tool)
    return Q(finding_type="secret") | (Q(finding_type="vulnerability") & maybe)


def mask_stored_secrets(apps, schema_editor):
    Finding = apps.get_model("findings", "Finding")
    key = fingerprint_key()
    last = None
    while True:
        page = Finding.objects.filter(candidates()).order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        # Keyset batches, not one open cursor: SQLite gives no isolation between a
        # cursor and updates of the same table on one connection.
        batch = list(page[:BATCH])
        if not batch:
            return
        last = batch[-1].pk
        masked = {}
        for row in batch:
            before = [getattr(row, name) for name in CHANGED]
            values = _remasked(row, key)
            if values is not None and [getattr(row, name) for name in CHANGED] != before:
                masked[row.pk] = (row, values)
        _store(apps, [row for row, _ in masked.values()])
        _mask_audit_events(apps, {pk: values for pk, (_, values) in masked.items()})


def _remasked(row, key: bytes) -> list[str] | None:
    """Mask `row` in memory as an ingest would; the values masked, or None when the row
    is not a secret."""
    metadata = row.metadata if isinstance(row.metadata, dict) else {}
    reclassified = row.finding_type == "vulnerability"
    cwe_ids = [c for c in row.cwe_ids if isinstance(c, str)] if row.cwe_ids else []
    if reclassified and not finds_secret(row.tool_name, row.rule_id, cwe_ids, *labels_of(metadata)):
        return None
    detail = metadata.get("secret")
    old_mask = detail.get("masked_value") if isinstance(detail, dict) else None
    old_masks = [old_mask] if isinstance(old_mask, str) and "*" in old_mask else []
    values = [*old_masks, *quoted_values(row.title)]
    if reclassified and is_secrets_tool(row.tool_name):
        values.append(row.snippet)  # gitleaks' SARIF: the snippet is the secret itself
    snippet = row.snippet
    for value in old_masks:
        snippet = snippet.replace(value, MASK)
    finding = ReportFinding(
        rule_id=row.rule_id,
        title=row.title,
        severity=Severity(row.severity),
        finding_type=FindingType.SECRET,
        description=row.description,
        rule_name=row.rule_name,
        file_path=row.file_path,
        snippet=ASTERISKS.sub(MASK, snippet),
        url=row.url,
        references=[r for r in row.references if isinstance(r, str)] if row.references else [],
        partial_fingerprints={str(k): str(v) for k, v in (row.partial_fingerprints or {}).items()},
        metadata=dict(metadata),
        secret_values=values,
    )
    return _apply(row, conceal(finding), key, reclassified)


def _apply(row, finding: ReportFinding, key: bytes, reclassified: bool) -> list[str]:
    if not is_keyed(row.fingerprint):
        row.fingerprint = keyed_fingerprint(row.fingerprint, key)
    row.partial_fingerprints = {
        name: keyed_fingerprint(value, key)
        if "hash" in name.lower() and isinstance(value, str) and not is_keyed(value)
        else value
        for name, value in finding.partial_fingerprints.items()
    }
    if reclassified:
        row.finding_type = "secret"
        category = source_category_for_tool(row.tool_name, "secret")
        row.source_category = category.value if category else ""
    row.title = finding.title
    row.description = finding.description
    row.rule_name = finding.rule_name[:500]
    row.snippet = finding.snippet
    row.url = finding.url[:2048]
    row.references = finding.references
    row.metadata = finding.metadata
    return finding.secret_values


def _store(apps, rows: list) -> None:
    """Save `rows`, merging any whose new fingerprint an already keyed row holds."""
    if not rows:
        return
    Finding = apps.get_model("findings", "Finding")
    taken = {
        (f.tenant_id, f.asset_id, f.fingerprint): f
        for f in Finding.objects.filter(fingerprint__in={row.fingerprint for row in rows})
    }
    plain = []
    for row in rows:
        other = taken.get((row.tenant_id, row.asset_id, row.fingerprint))
        if other is None or other.pk == row.pk:
            plain.append(row)
        else:
            _merge(apps, row, other)
    Finding.objects.bulk_update(plain, CHANGED)


def _merge(apps, row, other) -> None:
    """One finding out of `row` (masked, keyed) and `other` (already keyed, the same)."""
    Finding = apps.get_model("findings", "Finding")
    FindingSighting = apps.get_model("findings", "FindingSighting")
    older, newer = sorted((row, other), key=lambda f: (f.first_seen_at, f.created_at))
    later = max((row, other), key=lambda f: f.last_seen_at)
    triaged = [f for f in (newer, older) if f.status in TRIAGED]
    decided = triaged[0] if triaged else later
    status, resolved_at = decided.status, decided.resolved_at
    log = _triage(older) + _triage(newer)
    seen_by_older = FindingSighting.objects.filter(finding_id=older.pk).values("scan_session_id")
    FindingSighting.objects.filter(finding_id=newer.pk, scan_session_id__in=seen_by_older).delete()
    FindingSighting.objects.filter(finding_id=newer.pk).update(finding_id=older.pk)
    Finding.objects.filter(pk=newer.pk).delete()
    survivor = row if older is row else other
    survivor.status, survivor.resolved_at = status, resolved_at
    survivor.last_seen_at = later.last_seen_at
    survivor.last_scan_session_id = later.last_scan_session_id
    survivor.occurrence_count = row.occurrence_count + other.occurrence_count
    survivor.reopen_count = max(row.reopen_count, other.reopen_count)
    if log:
        log.sort(key=lambda entry: str(entry.get("at", "")))
        survivor.metadata = {**survivor.metadata, "triage": log[-TRIAGE_LOG_MAX:]}
    survivor.save()


def _triage(finding) -> list[dict]:
    log = finding.metadata.get("triage") if isinstance(finding.metadata, dict) else None
    return [entry for entry in log if isinstance(entry, dict)] if isinstance(log, list) else []


def _mask_audit_events(apps, values_by_finding: dict) -> None:
    AuditEvent = apps.get_model("rediverio", "AuditEvent")
    ids = {str(pk): values for pk, values in values_by_finding.items() if values}
    if not ids:
        return
    changed = []
    for event in AuditEvent.objects.filter(target_type="finding", target_id__in=list(ids)):
        values = sorted({v for v in ids[event.target_id] if v}, key=len, reverse=True)
        name, details = (
            _masked(event.target_name, values)[:200],
            _masked_json(event.details, values),
        )
        if (name, details) != (event.target_name, event.details):
            event.target_name, event.details = name, details
            changed.append(event)
    AuditEvent.objects.bulk_update(changed, ["target_name", "details"])


def _masked(text: str, values: list[str]) -> str:
    for value in values:
        text = text.replace(value, MASK)
    return text


def _masked_json(value, values: list[str]):
    if isinstance(value, str):
        return _masked(value, values)
    if isinstance(value, dict):
        return {k: _masked_json(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked_json(v, values) for v in value]
    return value


class Migration(migrations.Migration):
    dependencies = [
        ("findings", "0005_risk_score_bands"),
        ("rediverio", "0003_audit_events"),
    ]

    operations = [
        migrations.RunPython(mask_stored_secrets, migrations.RunPython.noop, elidable=True)
    ]
