"""What we know about the estate: assets, their findings and their dependencies (SBOM)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from findings.rules.assets import AssetType as AssetTypeRule
from findings.rules.assets import Provider as ProviderRule
from findings.rules.categories import FindingType as FindingTypeRule
from findings.rules.categories import SourceCategory as SourceCategoryRule
from findings.rules.severity import Severity as SeverityRule
from rediverio.lib.db import check_constraint_for, text_choices_from
from rediverio.lib.ids import uuid7
from rediverio.tenancy import TenantOwned, TenantQuerySet

Severity = text_choices_from(SeverityRule)
AssetType = text_choices_from(AssetTypeRule, labels={"ip_address": "IP address"})
Provider = text_choices_from(
    ProviderRule,
    labels={
        "github": "GitHub",
        "gitlab": "GitLab",
        "azure_devops": "Azure DevOps",
        "aws": "AWS",
        "gcp": "GCP",
        "docker_hub": "Docker Hub",
    },
)
FindingType = text_choices_from(FindingTypeRule)
SourceCategory = text_choices_from(
    SourceCategoryRule, labels={c.value: c.label for c in SourceCategoryRule}
)


class FindingStatus(models.TextChoices):
    NEW = "new", "New"
    CONFIRMED = "confirmed", "Confirmed"
    IN_PROGRESS = "in_progress", "In progress"
    RESOLVED = "resolved", "Resolved"
    FALSE_POSITIVE = "false_positive", "False positive"
    ACCEPTED = "accepted", "Accepted"
    DUPLICATE = "duplicate", "Duplicate"


# Statuses a scan may move on its own: open findings get resolved when a full run no
# longer reports them, resolved ones reopen. Triage decisions are never overridden.
OPEN_STATUSES = (FindingStatus.NEW, FindingStatus.CONFIRMED, FindingStatus.IN_PROGRESS)
TRIAGED_STATUSES = (FindingStatus.FALSE_POSITIVE, FindingStatus.ACCEPTED, FindingStatus.DUPLICATE)


class AssetQuerySet(TenantQuerySet):
    def with_open_findings(self) -> AssetQuerySet:
        return self.filter(findings__status__in=OPEN_STATUSES).distinct()


class Asset(TenantOwned):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    type = models.CharField(max_length=32, choices=AssetType.choices)
    name = models.CharField(max_length=500)
    identifier = models.CharField(
        max_length=1024, help_text="Normalised, e.g. github.com/org/repo; unique per type."
    )
    provider = models.CharField(
        max_length=32, choices=Provider.choices, blank=True, help_text="Empty when none applies."
    )
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    criticality = models.CharField(max_length=16, choices=Severity.choices, default="medium")
    metadata = models.JSONField(default=dict, blank=True)

    critical_count = models.PositiveIntegerField(default=0)
    high_count = models.PositiveIntegerField(default=0)
    medium_count = models.PositiveIntegerField(default=0)
    low_count = models.PositiveIntegerField(default=0)
    info_count = models.PositiveIntegerField(default=0)
    risk_score = models.FloatField(default=0.0, help_text="0–100; see findings.stats.")

    last_scanned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[models.Manager[Asset]] = AssetQuerySet.as_manager()

    class Meta:
        db_table = "assets"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "type", "identifier"], name="assets_identifier_unique"
            ),
            check_constraint_for("type", AssetType, name="assets_type_valid"),
            check_constraint_for(
                "provider", Provider, name="assets_provider_valid", allow_blank=True
            ),
            check_constraint_for("criticality", Severity, name="assets_criticality_valid"),
            models.CheckConstraint(
                condition=models.Q(risk_score__gte=0, risk_score__lte=100),
                name="assets_risk_score_range",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "-risk_score"], name="assets_by_risk")]

    def __str__(self) -> str:
        return f"{self.name} ({self.type})"

    @property
    def open_findings_count(self) -> int:
        return (
            self.critical_count
            + self.high_count
            + self.medium_count
            + self.low_count
            + self.info_count
        )


class FindingQuerySet(TenantQuerySet):
    def open(self) -> FindingQuerySet:
        return self.filter(status__in=OPEN_STATUSES)


class Finding(TenantOwned):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="findings")
    fingerprint = models.CharField(max_length=512)
    partial_fingerprints = models.JSONField(default=dict, blank=True)

    finding_type = models.CharField(
        max_length=32, choices=FindingType.choices, default=FindingTypeRule.VULNERABILITY.value
    )
    source_category = models.CharField(
        max_length=16, choices=SourceCategory.choices, blank=True, help_text="Empty when unknown."
    )
    tool_name = models.CharField(max_length=100)
    tool_version = models.CharField(max_length=100, blank=True)
    rule_id = models.CharField(max_length=500, blank=True)
    rule_name = models.CharField(max_length=500, blank=True)
    title = models.TextField(help_text="The finding's message (legacy `message`, RIS `title`).")
    description = models.TextField(blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=FindingStatus.choices, default="new")

    # Location: a file and lines for code, a URL for running services.
    file_path = models.CharField(max_length=1024, blank=True)
    start_line = models.PositiveIntegerField(null=True, blank=True)
    end_line = models.PositiveIntegerField(null=True, blank=True)
    start_column = models.PositiveIntegerField(null=True, blank=True)
    end_column = models.PositiveIntegerField(null=True, blank=True)
    snippet = models.TextField(blank=True)
    url = models.CharField(max_length=2048, blank=True)

    # Vulnerability details.
    cve_id = models.CharField(max_length=64, blank=True)
    cwe_ids = models.JSONField(default=list, blank=True)
    cvss_score = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    cvss_vector = models.CharField(max_length=200, blank=True)
    epss_score = models.FloatField(null=True, blank=True)
    package_name = models.CharField(max_length=500, blank=True)
    package_version = models.CharField(max_length=200, blank=True)
    fixed_version = models.CharField(max_length=200, blank=True)
    references = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    # Tracking across runs.
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    reopen_count = models.PositiveIntegerField(default=0)
    occurrence_count = models.PositiveIntegerField(default=1)
    last_scan_session = models.ForeignKey(
        "scans.ScanSession",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="findings",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[models.Manager[Finding]] = FindingQuerySet.as_manager()

    class Meta:
        db_table = "findings"
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "asset", "fingerprint"], name="findings_fingerprint_unique"
            ),
            check_constraint_for("status", FindingStatus, name="findings_status_valid"),
            check_constraint_for("severity", Severity, name="findings_severity_valid"),
            check_constraint_for("finding_type", FindingType, name="findings_type_valid"),
            check_constraint_for(
                "source_category",
                SourceCategory,
                name="findings_source_category_valid",
                allow_blank=True,
            ),
            models.CheckConstraint(
                condition=~models.Q(status=FindingStatus.RESOLVED)
                | models.Q(resolved_at__isnull=False),
                name="findings_resolved_has_time",
            ),
            models.CheckConstraint(
                condition=models.Q(occurrence_count__gte=1), name="findings_seen_at_least_once"
            ),
            models.CheckConstraint(
                condition=models.Q(cvss_score__isnull=True)
                | models.Q(cvss_score__gte=0, cvss_score__lte=10),
                name="findings_cvss_range",
            ),
        ]
        indexes = [
            # The findings list: newest sightings first, with the id as tie-breaker (one
            # ingest stamps all its findings with the same time), whole or filtered by
            # severity and status, read straight off the index for keyset pages.
            models.Index(fields=["tenant", "-last_seen_at", "-id"], name="findings_recent"),
            models.Index(
                fields=["tenant", "severity", "status", "-last_seen_at", "-id"],
                name="findings_triage",
            ),
            # A full run resolves what an (asset, tool) pair stopped reporting.
            models.Index(
                fields=["asset", "tool_name"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="findings_open_by_asset_tool",
            ),
        ]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.title[:80]}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class FindingSighting(TenantOwned):
    """A scan session that reported a finding: the finding's history of runs."""

    id = models.BigAutoField(primary_key=True)
    # Written for every finding of every ingest: as few indexes as reads need. Reads go
    # by finding (the unique index leads with it); the tenant scope rides along.
    tenant = models.ForeignKey(
        "rediverio.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    finding = models.ForeignKey(
        Finding, on_delete=models.CASCADE, related_name="sightings", db_index=False
    )
    scan_session = models.ForeignKey(
        "scans.ScanSession", on_delete=models.CASCADE, related_name="sightings"
    )
    seen_at = models.DateTimeField()

    class Meta:
        db_table = "finding_sightings"
        ordering = ["-seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["finding", "scan_session"], name="finding_sightings_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.finding_id} seen by {self.scan_session_id}"


class ComponentType(models.TextChoices):
    LIBRARY = "library", "Library"
    APPLICATION = "application", "Application"
    FRAMEWORK = "framework", "Framework"
    OTHER = "other", "Other"


class Component(TenantOwned):
    """A package at a version, identified by its package URL (purl)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    purl = models.CharField(max_length=1000)
    name = models.CharField(max_length=500)
    version = models.CharField(max_length=200, blank=True)
    ecosystem = models.CharField(max_length=64, blank=True)
    type = models.CharField(max_length=16, choices=ComponentType.choices, default="library")
    licenses = models.JSONField(default=list, blank=True)
    assets = models.ManyToManyField(Asset, through="AssetDependency", related_name="components")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "components"
        ordering = ["name", "version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "purl"], name="components_purl_unique"),
            check_constraint_for("type", ComponentType, name="components_type_valid"),
        ]

    def __str__(self) -> str:
        return self.purl


class DependencyRelationship(models.TextChoices):
    DIRECT = "direct", "Direct"
    TRANSITIVE = "transitive", "Transitive"
    UNKNOWN = "unknown", "Unknown"


class AssetDependency(TenantOwned):
    """One component in an asset's current dependency snapshot."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="dependencies")
    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="usages")
    relationship = models.CharField(
        max_length=16, choices=DependencyRelationship.choices, default="unknown"
    )
    path = models.CharField(
        max_length=1024, blank=True, help_text="Manifest that declares it, e.g. package-lock.json."
    )
    depends_on = models.JSONField(default=list, blank=True, help_text="purls it depends on.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "asset_dependencies"
        verbose_name_plural = "asset dependencies"
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "component", "path"], name="asset_dependencies_unique"
            ),
            check_constraint_for(
                "relationship", DependencyRelationship, name="asset_dependencies_relationship_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.asset} → {self.component}"
