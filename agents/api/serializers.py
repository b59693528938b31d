"""Wire shapes of the agent protocol and the agent management API."""

from __future__ import annotations

import re

from rest_framework import serializers

from agents.models import (
    Agent,
    AgentKey,
    AgentStatus,
    AgentType,
    Command,
    CommandPriority,
    ExecutionMode,
)
from rediverio.validators import no_null_characters

SLUG = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,63}$")
LABEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$")
REPORTED_STATUSES = ["running", "stopped", "stopping", "error"]
MAX_INT = 2**31 - 1  # PostgreSQL's integer


class CommandSerializer(serializers.ModelSerializer):
    """A command as agents receive it (the reference SDK's Command)."""

    priority = serializers.SerializerMethodField()
    source_id = serializers.UUIDField(source="scan_id", allow_null=True, read_only=True)

    class Meta:
        model = Command
        fields = [
            "id",
            "tenant_id",
            "source_id",
            "type",
            "priority",
            "payload",
            "status",
            "error_message",
            "progress",
            "attempts",
            "max_attempts",
            "created_at",
            "expires_at",
            "lease_expires_at",
            "acknowledged_at",
            "started_at",
            "completed_at",
            "result",
        ]
        read_only_fields = fields

    def get_priority(self, command: Command) -> str:
        return CommandPriority(command.priority).label


_PRIORITY_WORDS = {p.value: p.label for p in CommandPriority}


def _when(moment) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def command_wire(command: Command) -> dict:
    """What CommandSerializer gives, built by hand: the poll answers every few seconds
    for every agent, and DRF's field machinery costs more than the query. A test keeps
    the two identical."""
    return {
        "id": str(command.pk),
        "tenant_id": str(command.tenant_id),
        "source_id": None if command.scan_id is None else str(command.scan_id),
        "type": command.type,
        "priority": _PRIORITY_WORDS[command.priority],
        "payload": command.payload,
        "status": command.status,
        "error_message": command.error_message,
        "progress": command.progress,
        "attempts": command.attempts,
        "max_attempts": command.max_attempts,
        "created_at": _when(command.created_at),
        "expires_at": _when(command.expires_at),
        "lease_expires_at": _when(command.lease_expires_at),
        "acknowledged_at": _when(command.acknowledged_at),
        "started_at": _when(command.started_at),
        "completed_at": _when(command.completed_at),
        "result": command.result,
    }


# The agent protocol's bodies. drf-spectacular names each component after its class
# (without "Serializer"), so these names are the wire documentation's too.


class HeartbeatRequestSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    status = serializers.ChoiceField(choices=REPORTED_STATUSES, required=False)
    version = serializers.CharField(required=False, allow_blank=True, max_length=64)
    hostname = serializers.CharField(required=False, allow_blank=True, max_length=255)
    message = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    region = serializers.CharField(required=False, allow_blank=True, max_length=64)
    scanners = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=200
    )
    collectors = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=200
    )
    tools = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=200
    )
    capabilities = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=100
    )
    # Bounded: a number past the database's integer column is a 400, not a 500.
    uptime_seconds = serializers.IntegerField(required=False, min_value=0, max_value=MAX_INT)
    total_scans = serializers.IntegerField(required=False, min_value=0, max_value=MAX_INT)
    # DRF's metaclass takes declared fields off the class: this `errors` is the
    # heartbeat's field, and `Serializer.errors` stays what it is.
    errors = serializers.IntegerField(  # type: ignore[assignment]
        required=False, min_value=0, max_value=MAX_INT
    )
    cpu_percent = serializers.FloatField(required=False, min_value=0, max_value=100)
    memory_percent = serializers.FloatField(required=False, min_value=0, max_value=100)
    active_jobs = serializers.IntegerField(required=False, min_value=0, max_value=MAX_INT)


class HeartbeatReplySerializer(serializers.Serializer):
    status = serializers.CharField()
    agent_id = serializers.UUIDField()
    tenant_id = serializers.UUIDField()


class CommandsPollQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(required=False, min_value=1, default=10)


class CommandProgressRequestSerializer(serializers.Serializer):
    percent = serializers.IntegerField(min_value=0, max_value=100, required=False)
    progress = serializers.IntegerField(min_value=0, max_value=100, required=False)
    message = serializers.CharField(required=False, allow_blank=True, max_length=500)

    def validate(self, attrs):
        if "percent" not in attrs and "progress" not in attrs:
            raise serializers.ValidationError({"percent": "This field is required."})
        return attrs


class CommandCompleteRequestSerializer(serializers.Serializer):
    result = serializers.DictField(required=False, default=dict, validators=[no_null_characters])


class CommandFailRequestSerializer(serializers.Serializer):
    error_message = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    error = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


def _slugs(values: list[str]) -> list[str]:
    bad = [v for v in values if not SLUG.match(v)]
    if bad:
        raise serializers.ValidationError(
            f"{', '.join(bad)}: use lower-case letters, digits, '.', '_', '+' or '-'."
        )
    return sorted(set(values))


class AgentSerializer(serializers.ModelSerializer):
    capabilities = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="What an operator configured."
    )
    tools = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="What an operator configured."
    )
    reported_capabilities = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="What the agent's heartbeats report; selection uses both sets.",
    )
    reported_tools = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="What the agent's heartbeats report; selection uses both sets.",
    )
    labels = serializers.DictField(child=serializers.CharField(max_length=200), required=False)
    type = serializers.ChoiceField(choices=AgentType.choices, required=False)
    execution_mode = serializers.ChoiceField(choices=ExecutionMode.choices, required=False)
    status = serializers.ChoiceField(choices=AgentStatus.choices, required=False)
    max_concurrent_jobs = serializers.IntegerField(min_value=1, max_value=1000, required=False)

    class Meta:
        model = Agent
        fields = [
            "id",
            "name",
            "description",
            "type",
            "execution_mode",
            "status",
            "health",
            "capabilities",
            "tools",
            "reported_capabilities",
            "reported_tools",
            "labels",
            "max_concurrent_jobs",
            "version",
            "hostname",
            "region",
            "cpu_percent",
            "memory_percent",
            "active_jobs",
            "last_seen_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "health",
            "version",
            "hostname",
            "region",
            "cpu_percent",
            "memory_percent",
            "active_jobs",
            "last_seen_at",
            "created_at",
            "updated_at",
        ]

    def validate_capabilities(self, values: list[str]) -> list[str]:
        return _slugs(values)

    def validate_tools(self, values: list[str]) -> list[str]:
        return _slugs(values)

    def validate_status(self, status: str) -> str:
        revoked = self.instance is not None and self.instance.status == AgentStatus.REVOKED
        if revoked and status != AgentStatus.REVOKED:
            raise serializers.ValidationError(
                "A revoked agent stays revoked; register a new agent instead."
            )
        return status

    def validate_labels(self, labels: dict[str, str]) -> dict[str, str]:
        bad = [key for key in labels if not LABEL_KEY.match(key)]
        if bad:
            raise serializers.ValidationError(f"bad label key(s): {', '.join(bad)}")
        return labels

    def validate_name(self, name: str) -> str:
        name = name.strip()
        tenant = self.context["tenant"]
        clash = Agent.objects.for_tenant(tenant).filter(name=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError("An agent of this team already has this name.")
        return name


class AgentKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = AgentKey
        fields = ["id", "prefix", "name", "created_at", "last_used_at", "expires_at", "revoked_at"]
        read_only_fields = fields


class AgentPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = AgentSerializer(many=True)


class AgentCreatedSerializer(AgentSerializer):
    api_key = serializers.CharField(read_only=True, help_text="Shown once; store it now.")

    class Meta(AgentSerializer.Meta):
        fields = [*AgentSerializer.Meta.fields, "api_key"]


class AgentKeyRotateRequestSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    revoke_others = serializers.BooleanField(
        required=False, default=False, help_text="Revoke the agent's other keys at once."
    )


class AgentKeyIssuedSerializer(serializers.Serializer):
    api_key = serializers.CharField(help_text="Shown once; store it now.")
    key = AgentKeySerializer()
