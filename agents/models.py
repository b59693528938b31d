"""Remote workers (agents), their API keys, and the work queue they poll (commands)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from protocol.commands import CONTROL_TYPES
from protocol.commands import CommandType as Wire
from rediverio.lib.db import check_constraint_for
from rediverio.lib.ids import uuid7
from rediverio.tenancy import TenantOwned, TenantQuerySet


class AgentType(models.TextChoices):
    RUNNER = "runner", "Runner (CI, one-shot)"
    WORKER = "worker", "Worker (daemon)"
    COLLECTOR = "collector", "Collector"
    SENSOR = "sensor", "Sensor"


class ExecutionMode(models.TextChoices):
    STANDALONE = "standalone", "Standalone"
    DAEMON = "daemon", "Daemon"


class AgentStatus(models.TextChoices):
    """Administrative state: gates authentication."""

    ACTIVE = "active", "Active"
    DISABLED = "disabled", "Disabled"
    REVOKED = "revoked", "Revoked"


class AgentHealth(models.TextChoices):
    """Observed state: derived from heartbeats."""

    UNKNOWN = "unknown", "Unknown"
    ONLINE = "online", "Online"
    OFFLINE = "offline", "Offline"
    ERROR = "error", "Error"


class AgentQuerySet(TenantQuerySet):
    def active(self) -> AgentQuerySet:
        return self.filter(status=AgentStatus.ACTIVE)

    def online(self) -> AgentQuerySet:
        return self.filter(health=AgentHealth.ONLINE)


class Agent(TenantOwned):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=16, choices=AgentType.choices, default=AgentType.WORKER)
    execution_mode = models.CharField(
        max_length=16, choices=ExecutionMode.choices, default=ExecutionMode.DAEMON
    )
    status = models.CharField(
        max_length=16, choices=AgentStatus.choices, default=AgentStatus.ACTIVE
    )
    health = models.CharField(
        max_length=16, choices=AgentHealth.choices, default=AgentHealth.UNKNOWN
    )
    # Configured by an operator (API, dashboard, createagent); heartbeats never change them.
    capabilities = models.JSONField(default=list, blank=True, help_text="e.g. sast, sca.")
    tools = models.JSONField(default=list, blank=True, help_text="e.g. semgrep, trivy.")
    labels = models.JSONField(default=dict, blank=True, help_text='e.g. {"region": "eu"}.')
    max_concurrent_jobs = models.PositiveSmallIntegerField(default=5)

    # Reported by heartbeats.
    version = models.CharField(max_length=64, blank=True)
    hostname = models.CharField(max_length=255, blank=True)
    region = models.CharField(max_length=64, blank=True)
    cpu_percent = models.FloatField(null=True, blank=True)
    memory_percent = models.FloatField(null=True, blank=True)
    active_jobs = models.PositiveIntegerField(default=0)
    # What the agent found on its machine, as its last heartbeat said (replaced whole by
    # each heartbeat that names them). Selection uses configured ∪ reported: see
    # `effective_tools`.
    reported_tools = models.JSONField(
        default=list, blank=True, help_text="Found on its machine, per its last heartbeat."
    )
    reported_capabilities = models.JSONField(
        default=list, blank=True, help_text="Given by the tools it found, per its last heartbeat."
    )
    last_seen_at = models.DateTimeField(null=True, blank=True)
    status_message = models.CharField(max_length=500, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[models.Manager[Agent]] = AgentQuerySet.as_manager()
    # Work commands it holds now, when a selector annotates it (agents/selectors.py).
    held: int = 0

    class Meta:
        db_table = "agents"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="agents_name_unique"),
            check_constraint_for("type", AgentType, name="agents_type_valid"),
            check_constraint_for("execution_mode", ExecutionMode, name="agents_mode_valid"),
            check_constraint_for("status", AgentStatus, name="agents_status_valid"),
            check_constraint_for("health", AgentHealth, name="agents_health_valid"),
            models.CheckConstraint(
                condition=models.Q(max_concurrent_jobs__gte=1), name="agents_has_a_job_slot"
            ),
        ]
        # No index on last_seen_at: it changes on every heartbeat, and an indexed
        # column would stop PostgreSQL from updating the row in place (HOT). The
        # offline sweep reads the (small) agents table instead.

    def __str__(self) -> str:
        return self.name

    @property
    def effective_tools(self) -> list[str]:
        """The tools work may ask of this agent: what an operator configured plus what
        the agent reports having. A report adds, it never takes away a configured tool."""
        return sorted({*self.tools, *self.reported_tools})

    @property
    def effective_capabilities(self) -> list[str]:
        """Configured plus reported capabilities (same merge rule as the tools)."""
        return sorted({*self.capabilities, *self.reported_capabilities})

    @property
    def takes_work(self) -> bool:
        """Whether the agent may be handed scan or collect work at all: administratively
        active and online. Control commands (cancel…) reach it whatever its health."""
        return self.status == AgentStatus.ACTIVE and self.health == AgentHealth.ONLINE

    # An authenticated agent is DRF's `request.user` on the agent API.
    is_authenticated = True
    is_anonymous = False


class AgentKeyQuerySet(TenantQuerySet):
    def usable(self) -> AgentKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class AgentKey(TenantOwned):
    """An agent's API key: only its SHA-256 digest and visible prefix are stored."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="keys")
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise a key.")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 hex of the key.")
    name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager[AgentKey]] = AgentKeyQuerySet.as_manager()

    class Meta:
        db_table = "agent_keys"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["prefix"], name="agent_keys_by_prefix")]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.agent})"


class CommandType(models.TextChoices):
    """The contract's command types (protocol/commands.py), as the column's choices."""

    SCAN = Wire.SCAN.value, "Scan"
    COLLECT = Wire.COLLECT.value, "Collect"
    HEALTH_CHECK = Wire.HEALTH_CHECK.value, "Health check"
    CONFIG_UPDATE = Wire.CONFIG_UPDATE.value, "Config update"
    CANCEL = Wire.CANCEL.value, "Cancel"


class CommandPriority(models.IntegerChoices):
    """Stored as a number so the queue index sorts by urgency; spoken as a word on the wire."""

    LOW = 0, "low"
    NORMAL = 10, "normal"
    HIGH = 20, "high"
    CRITICAL = 30, "critical"

    @classmethod
    def from_word(cls, word: str) -> CommandPriority:
        for member in cls:
            if member.label == word:
                return member
        raise ValueError(f"unknown priority {word!r}")


class CommandStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"
    EXPIRED = "expired", "Expired"
    DEAD = "dead", "Dead"


FINAL_COMMAND_STATUSES = (
    CommandStatus.COMPLETED,
    CommandStatus.CANCELED,
    CommandStatus.EXPIRED,
    CommandStatus.DEAD,
)


class Command(TenantOwned):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    type = models.CharField(max_length=16, choices=CommandType.choices)
    priority = models.SmallIntegerField(
        choices=CommandPriority.choices, default=CommandPriority.NORMAL
    )
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=CommandStatus.choices, default=CommandStatus.PENDING
    )

    # Routing: who may take it.
    target_agent = models.ForeignKey(
        Agent, on_delete=models.CASCADE, null=True, blank=True, related_name="targeted_commands"
    )
    required_capabilities = models.JSONField(default=list, blank=True)
    required_tools = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list, blank=True, help_text="Agent labels that must match.")
    run_on_tenant_runner = models.BooleanField(default=False)

    # Lease: who holds it, until when.
    agent = models.ForeignKey(
        Agent, on_delete=models.SET_NULL, null=True, blank=True, related_name="commands"
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    available_at = models.DateTimeField(
        default=timezone.now, help_text="Not handed out before (retry backoff)."
    )
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Time to live.")
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)

    progress = models.PositiveSmallIntegerField(default=0)
    progress_message = models.CharField(max_length=500, blank=True)
    result = models.JSONField(null=True, blank=True)
    error_message = models.TextField(blank=True)

    # What it belongs to: the scan and the session it runs.
    scan = models.ForeignKey(
        "scans.Scan", on_delete=models.SET_NULL, null=True, blank=True, related_name="commands"
    )
    scan_session = models.ForeignKey(
        "scans.ScanSession",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="commands",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[models.Manager[Command]] = TenantQuerySet.as_manager()

    class Meta:
        db_table = "commands"
        ordering = ["-priority", "created_at"]
        constraints = [
            check_constraint_for("type", CommandType, name="commands_type_valid"),
            check_constraint_for("status", CommandStatus, name="commands_status_valid"),
            models.CheckConstraint(
                condition=models.Q(priority__in=CommandPriority.values),
                name="commands_priority_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="commands_progress_percent"
            ),
        ]
        indexes = [
            # The queue: pending work of a tenant, most urgent first, then oldest.
            models.Index(
                "tenant",
                models.F("priority").desc(),
                "created_at",
                condition=models.Q(status="pending"),
                name="commands_pending_queue",
            ),
            # Control commands are claimed first and are rare: without their own index
            # the claim would walk every pending scan to find none.
            models.Index(
                "tenant",
                models.F("priority").desc(),
                "created_at",
                condition=models.Q(status="pending", type__in=CONTROL_TYPES),
                name="commands_pending_control",
            ),
            # What an agent holds (its free slots, lost leases): live rows only, not the
            # days of finished history the plain agent index also carries.
            models.Index(
                fields=["agent"],
                condition=models.Q(status__in=["pending", "acknowledged", "running"]),
                name="commands_held_by_agent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id} ({self.status})"

    @property
    def priority_word(self) -> str:
        return CommandPriority(self.priority).label


class CommandEvent(TenantOwned):
    """One transition of a command, with its time: the command's audit trail."""

    id = models.BigAutoField(primary_key=True)
    command = models.ForeignKey(Command, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, choices=CommandStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=CommandStatus.choices)
    agent = models.ForeignKey(
        Agent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        db_table = "command_events"
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '∅'} → {self.to_status}"
