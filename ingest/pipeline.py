"""The ingest pipeline: seven steps, batch by batch.

    1. targets → assets       normalise identifiers, detect providers, create or link
                              (and lock them: writers of an asset's findings serialise)
    2. fingerprint lookup     one SELECT per batch of BATCH findings
    3. new vs existing        in memory (findings/lifecycle.py decides)
    4+5. create and update    one INSERT … ON CONFLICT DO UPDATE per batch (an upsert:
                              new rows are created, known ones refreshed, same statement)
       resolve the missing    one UPDATE, for full runs only
    6. dependencies           snapshot refresh per asset: delete, upsert components, link
    7. asset stats            one aggregate, one update

The number of queries depends on the number of batches, never on the number of findings
within one (a test pins it). The whole ingest is one transaction: a report is stored
completely or not at all. `pipeline.py` knows nothing of scans: the caller passes the
scan session id and records the returned counts on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Field, Q
from django.utils import timezone

from findings.lifecycle import Sighting, on_sighting
from findings.models import (
    OPEN_STATUSES,
    Asset,
    AssetDependency,
    Component,
    Finding,
    FindingSighting,
    FindingStatus,
)
from findings.rules.assets import InvalidAssetIdentifier, normalize_asset
from findings.rules.categories import source_category_for_tool
from findings.services import AssetAllowance, assets_allowance
from findings.stats import assets_refresh_stats
from ingest.boundary import bound_report
from ingest.secrets import apply_secret_policy
from protocol.report import (
    Report,
    ReportDependency,
    ReportError,
    ReportFinding,
    ReportTarget,
    fingerprint_of,
)
from rediverio.lib.db import column_of, concrete_field, execute_server_bound
from rediverio.lib.ids import uuid7
from rediverio.models import Tenant

BATCH = 5000  # rows per lookup and per upsert statement

# Columns a sighting refreshes. first_seen_at, created_at and the identity columns keep
# the values of the first sighting.
REFRESHED = [
    "status",
    "finding_type",
    "source_category",
    "tool_name",
    "tool_version",
    "rule_id",
    "rule_name",
    "title",
    "description",
    "severity",
    "confidence",
    "partial_fingerprints",
    "file_path",
    "start_line",
    "end_line",
    "start_column",
    "end_column",
    "snippet",
    "url",
    "cve_id",
    "cwe_ids",
    "cvss_score",
    "cvss_vector",
    "epss_score",
    "package_name",
    "package_version",
    "fixed_version",
    "references",
    "metadata",
    "last_seen_at",
    "resolved_at",
    "reopen_count",
    "occurrence_count",
    "last_scan_session",
    "updated_at",
]
IDENTITY = ["tenant", "asset", "fingerprint"]


@dataclass
class IngestResult:
    assets_created: int = 0
    assets_updated: int = 0
    findings_created: int = 0
    findings_updated: int = 0
    findings_skipped: int = 0
    findings_fixed: int = 0
    findings_reopened: int = 0
    components: int = 0
    by_severity: dict[str, int] = field(default_factory=dict)
    asset_ids: list = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # New assets the plan refused (max_assets), as {"identifier", "type", "reason"}, and
    # what of the report was not stored with them.
    refused_assets: list[dict[str, str]] = field(default_factory=list)
    refused_findings: int = 0
    refused_dependencies: int = 0

    @property
    def findings_total(self) -> int:
        return sum(self.by_severity.values())

    def counts(self) -> dict[str, Any]:
        return {
            "assets_created": self.assets_created,
            "assets_updated": self.assets_updated,
            "findings_created": self.findings_created,
            "findings_updated": self.findings_updated,
            "findings_skipped": self.findings_skipped,
            "findings_fixed": self.findings_fixed,
            "findings_reopened": self.findings_reopened,
            "errors": self.errors,
            "refused": {
                "assets": self.refused_assets,
                "findings": self.refused_findings,
                "dependencies": self.refused_dependencies,
            },
        }


@transaction.atomic
def ingest_report(
    *,
    tenant: Tenant,
    report: Report,
    default_target: ReportTarget | None = None,
    scan_session_id=None,
    now: datetime | None = None,
    ingest_id=None,
) -> IngestResult:
    """Store `report`. Its findings belong to the assets it names; when it names none,
    to `default_target` (the caller's `asset`, or the target of the scan session it
    answers), else to an asset of this ingest alone (see `default_target_for`)."""
    now = now or timezone.now()
    # Every value made to fit its column first: from here on nothing the report holds
    # can make the database refuse the transaction (a 500 for the agent).
    bound_report(report)
    # No raw secret past this line: masked, and secret fingerprints keyed (ingest/secrets.py).
    apply_secret_policy(report)
    result = IngestResult(errors=list(report.warnings))
    targets = list(report.targets)
    named = bool(targets)
    if not targets:
        if default_target is not None:
            target, named = default_target, True
        else:
            target, named = default_target_for(report, ingest_id or uuid7())
        targets = [target]
        if not named:
            result.errors.append(
                f"the report names no asset; its findings were stored on {target.identifier} "
                "and resolve nothing — send `asset` (and `asset_type`) with the report, name "
                "its assets in it (RIS `assets`, flat `targets`, SARIF "
                "`versionControlProvenance`), or send it for a scan session (`scan_session`)"
            )
    report, assets = _without_refused(report, _assets_for(tenant, targets, result), result)
    result.asset_ids = [a.pk for a in dict.fromkeys(assets)]

    sightings = _dedupe(report, assets, result)
    for start in range(0, len(sightings), BATCH):
        _store_batch(tenant, sightings[start : start + BATCH], report, scan_session_id, now, result)

    if scan_session_id is not None:
        _record_sightings(tenant, scan_session_id, now)
    if _may_resolve(report, named=named):
        result.findings_fixed = _resolve_unseen(tenant, report, assets, now)
    result.components = _refresh_dependencies(tenant, report, assets)
    assets_refresh_stats(assets=dict.fromkeys(assets), scanned_at=now)
    return result


# ------------------------------------------------------------------ 1. targets → assets


ANONYMOUS_PREFIX = "scan:"


def default_target_for(report: Report, ingest_id) -> tuple[ReportTarget, bool]:
    """The asset of a report that names none, and whether the report named it.

    Its repository (`metadata.branch.repository_url`) names it. Otherwise the findings
    go to an asset of their own, `scan:<tool>:<ingest id>`, that no other report shares:
    two unnamed reports of different repositories must not meet on one asset, where
    the second would resolve the first one's findings. (The reference server's other
    guesses — a shared `asset_value`, the scope, a git host in paths — and the report's
    own scan id are not used: they can merge unrelated scans.)"""
    repository = report.branch.get("repository_url") if report.branch else None
    if repository:
        return ReportTarget(identifier=str(repository), type="repository"), True
    tool = report.tool_name or "unknown"
    return ReportTarget(identifier=f"{ANONYMOUS_PREFIX}{tool}:{ingest_id}", type="other"), False


def is_anonymous_asset(asset: Asset) -> bool:
    """Whether `asset` is one that `default_target_for` made for a report naming none."""
    return asset.type == "other" and asset.identifier.startswith(ANONYMOUS_PREFIX)


def _assets_for(
    tenant: Tenant, targets: list[ReportTarget], result: IngestResult
) -> list[Asset | None]:
    """One Asset per target (same order), created when new, locked for this ingest;
    None for a new one beyond the plan's `max_assets` (listed in `result.refused_assets`).

    Lock order: the tenant row, and only when the report names new assets (see
    findings/services.py `assets_allowance`), then the asset rows by primary key. Two
    ingests creating assets queue on the tenant row before holding any asset, so they
    cannot deadlock each other nor both take the last places. (Taking the tenant row
    after an asset would: A holds an asset and waits for the tenant, while B holds the
    tenant and waits for A's asset, which a third ingest created meanwhile.)"""
    normalized = []
    for index, target in enumerate(targets):
        try:
            normalized.append(
                normalize_asset(target.identifier, target.type or None, target.name or None)
            )
        except InvalidAssetIdentifier as exc:
            raise ReportError(str(exc), path=f"targets[{index}].identifier") from exc
    keys = {(n.type.value, n.identifier) for n in normalized}
    allowance = None
    if Asset.objects.for_tenant(tenant).filter(_matching(keys)).count() < len(keys):
        allowance = assets_allowance(tenant)
    by_key = _lock_assets(tenant, keys)
    named = {(n.type.value, n.identifier): n for n in normalized}  # one per asset
    missing = [n for key, n in named.items() if key not in by_key]
    if missing and allowance is None:
        # Deleted since the count above: asked now, after the asset locks (the rare
        # case the lock order above cannot cover).
        allowance = assets_allowance(tenant)
    allowed = missing if allowance is None or allowance.room is None else missing[: allowance.room]
    if allowed:
        Asset.objects.bulk_create(
            [
                Asset(
                    tenant=tenant,
                    type=n.type.value,
                    identifier=n.identifier,
                    name=n.name[:500],
                    provider=n.provider.value if n.provider else "",
                )
                for n in allowed
            ],
            ignore_conflicts=True,  # a concurrent ingest may have created it meanwhile
        )
        by_key = _lock_assets(tenant, keys)
    refused = [n for n in missing if (n.type.value, n.identifier) not in by_key]
    if refused:
        _refuse(tenant, refused, allowance or AssetAllowance(None), result)
    result.assets_created = len(missing) - len(refused)
    result.assets_updated = len(keys) - len(missing)
    return [by_key.get((n.type.value, n.identifier)) for n in normalized]


def _refuse(tenant: Tenant, refused: list, allowance: AssetAllowance, result: IngestResult) -> None:
    result.refused_assets = [
        {"identifier": n.identifier, "type": n.type.value, "reason": "max_assets"} for n in refused
    ]
    named = ", ".join(n.identifier for n in refused[:3])
    more = f" and {len(refused) - 3} more" if len(refused) > 3 else ""
    result.errors.append(
        f"{len(refused)} new asset(s) refused ({named}{more}), and what the report holds "
        f"for them not stored (the rest of the report was): {allowance.refusal(tenant)}"
    )


def _without_refused(
    report: Report, assets: list[Asset | None], result: IngestResult
) -> tuple[Report, list[Asset]]:
    """The report without the findings and dependencies of refused assets (nothing of
    theirs is stored, the rest is), its target indexes renumbered to the assets kept."""
    kept: list[Asset] = []
    renumbered: dict[int, int] = {}
    for index, asset in enumerate(assets):
        if asset is not None:
            renumbered[index] = len(kept)
            kept.append(asset)
    if len(kept) == len(assets):
        return report, kept

    def moved(items: list) -> list:
        out = []
        for item in items:
            old = item.target_index or 0
            new = renumbered.get(old)
            if new is not None:
                out.append(item if new == old else replace(item, target_index=new))
        return out

    findings, dependencies = moved(report.findings), moved(report.dependencies)
    result.refused_findings = len(report.findings) - len(findings)
    result.refused_dependencies = len(report.dependencies) - len(dependencies)
    return replace(report, findings=findings, dependencies=dependencies), kept


def _matching(keys: set[tuple[str, str]]) -> Q:
    match = Q()
    for kind, identifier in keys:
        match |= Q(type=kind, identifier=identifier)
    return match


def _lock_assets(tenant: Tenant, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Asset]:
    match = _matching(keys)
    # NO KEY UPDATE: writers of an asset's findings still queue behind each other, but
    # rows that merely reference the asset (a run starting on it inserts sessions and
    # commands, whose foreign-key checks take KEY SHARE locks) do not wait for the
    # ingest. With FOR UPDATE they did, and a run starting (holding its scan row) ⇄ an
    # ingest (holding the asset, recording into a session) ⇄ a completion (holding that
    # session, counting the run on the scan row) deadlocked.
    found = (
        Asset.objects.for_tenant(tenant).filter(match).order_by("pk").select_for_update(no_key=True)
    )
    return {(a.type, a.identifier): a for a in found}


# ------------------------------------------------------------- 2–5. findings in batches


@dataclass(slots=True)
class _Sighting:
    finding: ReportFinding
    asset: Asset
    fingerprint: str


def _dedupe(report: Report, assets: list[Asset], result: IngestResult) -> list[_Sighting]:
    """One sighting per (asset, fingerprint): a report listing a finding twice stores it
    once (the repeats count as skipped)."""
    seen: dict[tuple, _Sighting] = {}
    for finding in report.findings:
        asset = assets[finding.target_index or 0]
        key = (asset.pk, fingerprint_of(finding))
        if key in seen:
            result.findings_skipped += 1
            continue
        seen[key] = _Sighting(finding, asset, key[1])
    return list(seen.values())


def _store_batch(tenant, batch: list[_Sighting], report: Report, session_id, now, result) -> None:
    known = {
        (row["asset_id"], row["fingerprint"]): row
        for row in Finding.objects.for_tenant(tenant)
        .filter(
            asset_id__in={s.asset.pk for s in batch},
            fingerprint__in=[s.fingerprint for s in batch],
        )
        .values(
            "id",
            "asset_id",
            "fingerprint",
            "status",
            "first_seen_at",
            "reopen_count",
            "occurrence_count",
            "created_at",
            # The triage log lives beside the tool's details; a sighting must keep it.
            "metadata__triage",
        )
    }
    rows = []
    for sighting in batch:
        existing = known.get((sighting.asset.pk, sighting.fingerprint))
        row = _row(tenant, sighting, report, session_id, now)
        if existing is None:
            if sighting.finding.suppressed:
                row["status"] = FindingStatus.FALSE_POSITIVE.value
            result.findings_created += 1
        else:
            action = on_sighting(existing["status"])
            if action is Sighting.SKIP:
                result.findings_skipped += 1
                continue
            row["id"] = existing["id"]
            row["first_seen_at"] = existing["first_seen_at"]
            row["created_at"] = existing["created_at"]
            row["occurrence_count"] = existing["occurrence_count"] + 1
            row["reopen_count"] = existing["reopen_count"]
            row["status"] = existing["status"]
            if existing["metadata__triage"]:
                row["metadata"] = {**row["metadata"], "triage": existing["metadata__triage"]}
            if sighting.finding.suppressed:
                # The tool now says "suppressed" (e.g. a SARIF suppression): a decision
                # taken in the code, which only open findings follow.
                row["status"] = FindingStatus.FALSE_POSITIVE.value
            elif action is Sighting.REOPEN:
                row["status"] = FindingStatus.NEW.value
                row["reopen_count"] += 1
                result.findings_reopened += 1
            result.findings_updated += 1
        if row["status"] in OPEN_STATUSES:
            result.by_severity[row["severity"]] = result.by_severity.get(row["severity"], 0) + 1
        rows.append(row)
    _upsert(rows)


def _row(tenant, sighting: _Sighting, report: Report, session_id, now) -> dict[str, Any]:
    """The finding's columns (by attribute name), ready for the upsert."""
    f = sighting.finding
    tool = f.tool_name or report.tool_name
    return {
        "id": uuid7(),
        "tenant_id": tenant.pk,
        "asset_id": sighting.asset.pk,
        "fingerprint": sighting.fingerprint,
        "partial_fingerprints": f.partial_fingerprints,
        "finding_type": f.finding_type.value,
        "source_category": _category(tool, f),
        "tool_name": tool[:100],
        "tool_version": report.tool_version[:100],
        "rule_id": f.rule_id[:500],
        "rule_name": f.rule_name[:500],
        "title": f.title,
        "description": f.description,
        "severity": f.severity.value,
        "confidence": f.confidence,
        "status": FindingStatus.NEW.value,
        "file_path": f.file_path[:1024],
        "start_line": f.start_line,
        "end_line": f.end_line,
        "start_column": f.start_column,
        "end_column": f.end_column,
        "snippet": f.snippet,
        "url": f.url[:2048],
        "cve_id": f.cve_id[:64],
        "cwe_ids": f.cwe_ids,
        "cvss_score": None if f.cvss_score is None else Decimal(str(round(f.cvss_score, 1))),
        "cvss_vector": f.cvss_vector[:200],
        "epss_score": f.epss_score,
        "package_name": f.package_name[:500],
        "package_version": f.package_version[:200],
        "fixed_version": f.fixed_version[:200],
        "references": f.references,
        "metadata": f.metadata,
        "first_seen_at": now,
        "last_seen_at": now,
        "resolved_at": None,
        "reopen_count": 0,
        "occurrence_count": 1,
        "last_scan_session_id": session_id,
        "created_at": now,
        "updated_at": now,
    }


def _category(tool: str, finding: ReportFinding) -> str:
    category = source_category_for_tool(tool, finding.finding_type)
    return category.value if category else ""


_FIELDS = Finding._meta.concrete_fields
_REFRESHED_COLUMNS = [column_of(concrete_field(Finding, name)) for name in REFRESHED]
_IDENTITY_COLUMNS = [column_of(concrete_field(Finding, name)) for name in IDENTITY]


def _upsert(rows: list[dict[str, Any]]) -> None:
    """Insert new findings and refresh known ones: one statement per batch."""
    if not rows:
        return
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column_of(f)) for f in _FIELDS)
    conflict = (
        f"ON CONFLICT ({', '.join(map(quote, _IDENTITY_COLUMNS))}) DO UPDATE SET "
        + ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in _REFRESHED_COLUMNS)
    )
    table = quote(Finding._meta.db_table)
    if connection.vendor == "postgresql":
        # One array per column, unnested server-side: a single statement whatever the
        # batch size, and no per-value work in Django's compiler (the hot spot here).
        unnest, selected, params = [], [], []
        for f in _FIELDS:
            column_type = f.db_type(connection)
            assert column_type is not None  # a concrete field has one
            db_type = column_type.split("(")[0]
            values = [row[f.attname] for row in rows]
            if db_type == "jsonb":
                unnest.append("%b::text[]")
                selected.append(f"{quote(column_of(f))}::jsonb")
                values = [json.dumps(v) for v in values]
            else:
                unnest.append(f"%b::{db_type}[]")
                selected.append(quote(column_of(f)))
            params.append(values)
        execute_server_bound(
            f"INSERT INTO {table} ({columns}) SELECT {', '.join(selected)} "
            f"FROM UNNEST({', '.join(unnest)}) AS batch({columns}) {conflict}",
            params,
        )
        return
    # SQLite: one prepared statement run for every row, a single call into the library
    # (Django's bulk_create would split the batch into many 999-variable INSERTs).
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(_FIELDS))}) {conflict}"
    params = [[f.get_db_prep_save(row[f.attname], connection) for f in _FIELDS] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _record_sightings(tenant: Tenant, session_id, now: datetime) -> None:
    """Which findings this session saw (the findings' history of runs): one
    INSERT … SELECT of the rows the upserts just stamped, however many there are."""
    quote = connection.ops.quote_name

    def prep(name: str) -> Field:
        return concrete_field(FindingSighting, name)

    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(FindingSighting._meta.db_table)} "
            "(tenant_id, finding_id, scan_session_id, seen_at) "
            "SELECT tenant_id, id, last_scan_session_id, last_seen_at "
            f"FROM {quote(Finding._meta.db_table)} "
            "WHERE tenant_id = %s AND last_scan_session_id = %s AND last_seen_at = %s "
            "ON CONFLICT DO NOTHING",
            [
                prep("tenant").get_db_prep_value(tenant.pk, connection),
                prep("scan_session").get_db_prep_value(session_id, connection),
                prep("seen_at").get_db_prep_value(now, connection),
            ],
        )


# ---------------------------------------------------------------- resolve what is gone


def _may_resolve(report: Report, *, named: bool) -> bool:
    """Only a full run on the default branch, of an asset the report names (or that the
    caller named for it), proves that a finding is gone: a report about an asset it does
    not name may be about another asset altogether."""
    if not named or report.coverage != "full":
        return False
    return report.branch.get("is_default_branch", True) is not False


def _resolve_unseen(tenant: Tenant, report: Report, assets: list[Asset], now: datetime) -> int:
    tools = {report.tool_name} | {f.tool_name for f in report.findings if f.tool_name}
    return (
        Finding.objects.for_tenant(tenant)
        .open()
        .filter(asset__in={a.pk for a in assets}, tool_name__in=tools, last_seen_at__lt=now)
        .update(status=FindingStatus.RESOLVED, resolved_at=now, updated_at=now)
    )


# ---------------------------------------------------------------- 6. dependency snapshot


def _refresh_dependencies(tenant: Tenant, report: Report, assets: list[Asset]) -> int:
    """Replace the dependency snapshot of each asset the report lists dependencies for
    (a report without dependencies leaves the snapshot alone: a SAST run knows nothing
    of packages)."""
    if not report.dependencies and not report.metadata.get("sbom"):
        return 0
    refreshed = {assets[d.target_index or 0].pk for d in report.dependencies}
    if report.metadata.get("sbom"):
        refreshed |= {a.pk for a in assets}
    AssetDependency.objects.for_tenant(tenant).filter(asset__in=refreshed).delete()
    if not report.dependencies:
        return 0
    packages: dict[str, ReportDependency] = {}
    for dep in report.dependencies:
        purl = dep.purl or _purl(dep)
        packages.setdefault(purl, dep)
    Component.objects.bulk_create(
        [
            Component(
                tenant=tenant,
                purl=purl[:1000],
                name=dep.name[:500],
                version=dep.version[:200],
                ecosystem=dep.ecosystem[:64],
                type=dep.type if dep.type in ("library", "application", "framework") else "other",
                licenses=dep.licenses,
            )
            for purl, dep in packages.items()
        ],
        ignore_conflicts=True,
        batch_size=BATCH,
    )
    ids = dict(
        Component.objects.for_tenant(tenant)
        .filter(purl__in=[p[:1000] for p in packages])
        .values_list("purl", "id")
    )
    links: dict[tuple[Any, Any, str], AssetDependency] = {}
    for dep in report.dependencies:
        asset = assets[dep.target_index or 0]
        component_id = ids[(dep.purl or _purl(dep))[:1000]]
        links.setdefault(
            (asset.pk, component_id, dep.path[:1024]),
            AssetDependency(
                tenant=tenant,
                asset=asset,
                component_id=component_id,
                relationship=dep.relationship,
                path=dep.path[:1024],
                depends_on=dep.depends_on,
            ),
        )
    AssetDependency.objects.bulk_create(list(links.values()), batch_size=BATCH)
    return len(packages)


def _purl(dep) -> str:
    """A package URL for a dependency that came without one."""
    ecosystem = (dep.ecosystem or "generic").lower()
    name = dep.name.strip()
    return f"pkg:{ecosystem}/{name}@{dep.version}" if dep.version else f"pkg:{ecosystem}/{name}"
