"""Scan definitions, reusable scan profiles, and scan sessions (one execution each)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models

from agents.models import CommandPriority
from rediverio.lib.db import check_constraint_for
from rediverio.lib.ids import uuid7
from rediverio.tenancy import TenantOwned, TenantQuerySet
from scans.schedules import Schedule


class Intensity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class ScanProfile(TenantOwned):
    """A reusable configuration: which tools, how hard, how long."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    tools_config = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per tool: {"enabled", "severity", "timeout", "options"}.',
    )
    intensity = models.CharField(max_length=8, choices=Intensity.choices, default="medium")
    max_concurrent_scans = models.PositiveSmallIntegerField(default=5)
    timeout_seconds = models.PositiveIntegerField(default=3600)
    tags = models.JSONField(default=list, blank=True)
    quality_gate = models.JSONField(default=dict, blank=True)
    is_default = models.BooleanField(default=False)
    is_system = models.BooleanField(default=False, help_text="Shipped with the product; read-only.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "scan_profiles"
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="scan_profiles_name_unique"),
            models.UniqueConstraint(
                fields=["tenant"],
                condition=models.Q(is_default=True),
                name="scan_profiles_one_default",
            ),
            check_constraint_for("intensity", Intensity, name="scan_profiles_intensity_valid"),
            models.CheckConstraint(
                condition=models.Q(max_concurrent_scans__gte=1, timeout_seconds__gte=1),
                name="scan_profiles_positive_limits",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ScanType(models.TextChoices):
    SINGLE = "single", "Single scanner"
    WORKFLOW = "workflow", "Workflow"


class ScheduleType(models.TextChoices):
    MANUAL = "manual", "Manual"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    CRONTAB = "crontab", "Cron expression"


class ScanStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    DISABLED = "disabled", "Disabled"


class ScanQuerySet(TenantQuerySet):
    def active(self) -> ScanQuerySet:
        return self.filter(status=ScanStatus.ACTIVE)

    def due(self, now) -> ScanQuerySet:
        return self.active().filter(next_run_at__lte=now)


class Scan(TenantOwned):
    """A scan definition: what to run, on which assets, when."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    scan_type = models.CharField(max_length=16, choices=ScanType.choices, default="single")
    scanner_name = models.CharField(max_length=100, blank=True, help_text="For single scans.")
    scanner_config = models.JSONField(default=dict, blank=True)
    pipeline = models.JSONField(
        default=list, blank=True, help_text="Workflow stages: a list of lists of tools."
    )
    profile = models.ForeignKey(
        ScanProfile, on_delete=models.PROTECT, null=True, blank=True, related_name="scans"
    )
    targets = models.ManyToManyField("findings.Asset", blank=True, related_name="scans")
    asset_group = models.CharField(
        max_length=100, blank=True, help_text="Also target every asset carrying this tag."
    )
    targets_per_job = models.PositiveSmallIntegerField(default=1)

    schedule_type = models.CharField(max_length=16, choices=ScheduleType.choices, default="manual")
    schedule_cron = models.CharField(max_length=120, blank=True)
    schedule_day = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Weekday 0–6 (Monday 0) or day of month 1–31."
    )
    schedule_time = models.TimeField(null=True, blank=True)
    schedule_timezone = models.CharField(max_length=64, default="UTC")
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)

    tags = models.JSONField(default=list, blank=True, help_text="Agent labels to route to.")
    run_on_tenant_runner = models.BooleanField(default=False)
    priority = models.SmallIntegerField(
        choices=CommandPriority.choices, default=CommandPriority.NORMAL
    )
    status = models.CharField(max_length=16, choices=ScanStatus.choices, default="active")

    # Run accounting (scans/runs.py): total = successful + failed + canceled + active.
    total_runs = models.PositiveIntegerField(default=0)
    successful_runs = models.PositiveIntegerField(default=0)
    failed_runs = models.PositiveIntegerField(default=0)
    canceled_runs = models.PositiveIntegerField(default=0)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[models.Manager[Scan]] = ScanQuerySet.as_manager()

    class Meta:
        db_table = "scans"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="scans_name_unique"),
            check_constraint_for("scan_type", ScanType, name="scans_type_valid"),
            check_constraint_for("schedule_type", ScheduleType, name="scans_schedule_valid"),
            check_constraint_for("status", ScanStatus, name="scans_status_valid"),
            models.CheckConstraint(
                condition=models.Q(priority__in=CommandPriority.values),
                name="scans_priority_valid",
            ),
            # A run is counted once when it starts and closed once: never more runs
            # closed than started (the rest are active).
            models.CheckConstraint(
                condition=models.Q(
                    total_runs__gte=models.F("successful_runs")
                    + models.F("failed_runs")
                    + models.F("canceled_runs")
                ),
                name="scans_runs_add_up",
            ),
        ]
        indexes = [
            # The per-minute tick: active scans whose next run is due.
            models.Index(
                fields=["next_run_at"],
                condition=models.Q(status="active", next_run_at__isnull=False),
                name="scans_due",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def schedule(self) -> Schedule:
        return Schedule.from_fields(vars(self))

    @property
    def active_runs(self) -> int:
        """Runs started and not yet decided (scans/runs.py keeps the counters adding up)."""
        return self.total_runs - self.successful_runs - self.failed_runs - self.canceled_runs

    @property
    def run_tally(self) -> str:
        """The runs at a glance, e.g. "12 runs: 10 passed · 1 failed · 1 running"."""
        parts = [
            f"{count} {word}"
            for count, word in (
                (self.successful_runs, "passed"),
                (self.failed_runs, "failed"),
                (self.canceled_runs, "canceled"),
                (self.active_runs, "running"),
            )
            if count
        ]
        runs = f"{self.total_runs} run{'' if self.total_runs == 1 else 's'}"
        return f"{runs}: {' · '.join(parts)}" if parts else runs

    @property
    def stages(self) -> list[dict]:
        """The tools to run, stage by stage: one stage of one tool for a single scan."""
        if self.scan_type == ScanType.SINGLE:
            return [{"tools": [self.scanner_name], "continue_on_failure": False}]
        stages = []
        for stage in self.pipeline:
            if isinstance(stage, dict):
                stages.append(
                    {
                        "tools": list(stage.get("tools", [])),
                        "continue_on_failure": bool(stage.get("continue_on_failure", False)),
                    }
                )
            else:
                stages.append({"tools": list(stage), "continue_on_failure": False})
        return stages


class SessionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


FINAL_SESSION_STATUSES = (SessionStatus.COMPLETED, SessionStatus.FAILED, SessionStatus.CANCELED)


class TriggerType(models.TextChoices):
    MANUAL = "manual", "Manual"
    SCHEDULED = "scheduled", "Scheduled"
    CATCH_UP = "catch_up", "Catch-up after downtime"
    RETRY = "retry", "Retry"
    CI = "ci", "CI runner"
    UPLOAD = "upload", "Report upload"


class ScanSessionQuerySet(TenantQuerySet):
    def active(self) -> ScanSessionQuerySet:
        return self.filter(status__in=[SessionStatus.PENDING, SessionStatus.RUNNING])


class ScanSession(TenantOwned):
    """One execution of one scanner on one target."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    scan = models.ForeignKey(
        Scan, on_delete=models.CASCADE, null=True, blank=True, related_name="sessions"
    )
    run_id = models.UUIDField(
        default=uuid7, db_index=True, help_text="Groups the sessions started by one trigger."
    )
    trigger = models.CharField(max_length=16, choices=TriggerType.choices, default="manual")
    stage = models.PositiveSmallIntegerField(
        default=0, help_text="Workflow stage (0 for single-scanner scans)."
    )
    retry_of = models.OneToOneField(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="retried_by",
        help_text="The earlier attempt this session retries, in the same run.",
    )
    scheduled_for = models.DateTimeField(
        null=True, blank=True, help_text="The schedule slot this run fills."
    )
    agent = models.ForeignKey(
        "agents.Agent", on_delete=models.SET_NULL, null=True, blank=True, related_name="sessions"
    )
    status = models.CharField(max_length=16, choices=SessionStatus.choices, default="pending")
    progress = models.PositiveSmallIntegerField(default=0)

    scanner_name = models.CharField(max_length=100)
    scanner_version = models.CharField(max_length=100, blank=True)
    scanner_type = models.CharField(max_length=32, blank=True)
    asset = models.ForeignKey(
        "findings.Asset",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="scan_sessions",
    )
    asset_type = models.CharField(max_length=32, blank=True)
    asset_value = models.CharField(max_length=1000, blank=True)

    findings_total = models.PositiveIntegerField(default=0)
    findings_new = models.PositiveIntegerField(default=0)
    findings_fixed = models.PositiveIntegerField(default=0)
    findings_by_severity = models.JSONField(default=dict, blank=True)
    quality_gate_result = models.JSONField(null=True, blank=True)
    error_message = models.TextField(blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveBigIntegerField(null=True, blank=True)

    objects: ClassVar[models.Manager[ScanSession]] = ScanSessionQuerySet.as_manager()

    class Meta:
        db_table = "scan_sessions"
        ordering = ["-created_at"]
        constraints = [
            check_constraint_for("status", SessionStatus, name="scan_sessions_status_valid"),
            check_constraint_for("trigger", TriggerType, name="scan_sessions_trigger_valid"),
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="scan_sessions_progress_percent"
            ),
            # Exactly one session per (scanner, target) per schedule slot, whichever
            # scheduler tick or cluster gets there first.
            models.UniqueConstraint(
                fields=["scan", "scheduled_for", "scanner_name", "asset_value"],
                condition=models.Q(scheduled_for__isnull=False),
                name="scan_sessions_one_per_slot",
            ),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "status", "-created_at"], name="scan_sessions_by_status"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scanner_name} on {self.asset_value or '—'} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINAL_SESSION_STATUSES


class ScanDraft(TenantOwned):
    """A new scan half-way through the wizard: what its steps have saved so far.

    `data` holds the scan's settings under the Scan field names (targets and profile as
    ids); `step` is the last step completed, so the wizard knows how far one may jump.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    step = models.PositiveSmallIntegerField(default=0, help_text="Last step completed (0–4).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "scan_drafts"
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.data.get("name") or f"Draft {self.pk}"
