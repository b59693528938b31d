"""The commands the server queues for agents, and their payloads: built here by the
server (scans/workflows.py starts a stage, agents/queue.py cancels) and read here by the
agent program (agents/runtime/worker.py), so the two cannot drift. The wire is the
reference SDK's: `{"id", "type", "priority", "payload", …}` with these payload keys.

Reading is lenient where the SDK is (a payload that is not an object is empty, a
`config` that is not an object is none) and strict where a command cannot be run (a
scan that names no scanner, a timeout that is not a number): `PayloadError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar


class CommandType(StrEnum):
    SCAN = "scan"
    COLLECT = "collect"
    HEALTH_CHECK = "health_check"
    CONFIG_UPDATE = "config_update"
    CANCEL = "cancel"


# Work fills one of an agent's job slots and goes only to an agent fit to run it;
# control commands are answered at once, even by a busy agent.
WORK_TYPES: tuple[CommandType, ...] = (CommandType.SCAN, CommandType.COLLECT)
CONTROL_TYPES: tuple[CommandType, ...] = (
    CommandType.HEALTH_CHECK,
    CommandType.CONFIG_UPDATE,
    CommandType.CANCEL,
)


class PayloadError(ValueError):
    """A command whose payload cannot be run."""


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class ScanCommand:
    """Run one tool on one target: one scan session.

    `scan_id` is the session's id (the SDK's name for it), `scan_definition_id` the
    scan's, `run_id` the run's (one trigger of the scan) and `stage` the workflow stage
    the session belongs to. `timeout_seconds` None lets the agent use its default."""

    type: ClassVar[CommandType] = CommandType.SCAN

    scanner: str
    target: str
    target_type: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    timeout_seconds: float | None = None
    report_progress: bool = True
    custom_templates: list[dict[str, Any]] = field(default_factory=list)
    scan_id: str = ""
    scan_definition_id: str = ""
    run_id: str = ""
    stage: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {
            "scanner": self.scanner,
            "target": self.target,
            "target_type": self.target_type,
            "config": self.config,
            "timeout_seconds": self.timeout_seconds,
            "report_progress": self.report_progress,
            "custom_templates": self.custom_templates,
            "scan_id": self.scan_id,
            "scan_definition_id": self.scan_definition_id,
            "run_id": self.run_id,
            "stage": self.stage,
        }

    @classmethod
    def from_wire(cls, payload: Any) -> ScanCommand:
        payload = _object(payload)
        scanner = payload.get("scanner")
        if not isinstance(scanner, str) or not scanner:
            raise PayloadError("the scan command names no scanner")
        timeout = payload.get("timeout_seconds")
        if timeout is not None and timeout != "":
            try:
                timeout = float(timeout)
            except (TypeError, ValueError) as exc:
                raise PayloadError(f"timeout_seconds {timeout!r} is not a number") from exc
        templates = payload.get("custom_templates")
        stage = payload.get("stage")
        return cls(
            scanner=scanner,
            target=_text(payload.get("target")),
            target_type=_text(payload.get("target_type")),
            config=_object(payload.get("config")),
            timeout_seconds=timeout or None,
            report_progress=payload.get("report_progress", True) is not False,
            custom_templates=templates if isinstance(templates, list) else [],
            scan_id=_text(payload.get("scan_id")),
            scan_definition_id=_text(payload.get("scan_definition_id")),
            run_id=_text(payload.get("run_id")),
            stage=stage if type(stage) is int else 0,
        )


@dataclass(frozen=True, slots=True)
class CollectCommand:
    """Read a report a tool already wrote (a collector agent): `source_config` names it
    (`path` on the agent's machine or `url`, optional `format`, `headers`, `asset`,
    `asset_type`); a payload without `source_config` is its own source."""

    type: ClassVar[CommandType] = CommandType.COLLECT

    source_config: dict[str, Any] = field(default_factory=dict)
    asset: str = ""
    scan_id: str = ""

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"source_config": self.source_config, "scan_id": self.scan_id}
        if self.asset:
            wire["asset"] = self.asset
        return wire

    @classmethod
    def from_wire(cls, payload: Any) -> CollectCommand:
        payload = _object(payload)
        source = payload.get("source_config")
        return cls(
            source_config=source if isinstance(source, dict) else payload,
            asset=_text(payload.get("asset")),
            scan_id=_text(payload.get("scan_id")),
        )


@dataclass(frozen=True, slots=True)
class CancelCommand:
    """Stop the command `command_id` (kill its tool if it runs, drop it if it waits)."""

    type: ClassVar[CommandType] = CommandType.CANCEL

    command_id: str
    reason: str = ""

    def to_wire(self) -> dict[str, Any]:
        return {"command_id": self.command_id, "reason": self.reason}

    @classmethod
    def from_wire(cls, payload: Any) -> CancelCommand:
        payload = _object(payload)
        return cls(command_id=_text(payload.get("command_id")), reason=_text(payload.get("reason")))


@dataclass(frozen=True, slots=True)
class HealthCheckCommand:
    """Answer with the agent's health now."""

    type: ClassVar[CommandType] = CommandType.HEALTH_CHECK

    def to_wire(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_wire(cls, payload: Any) -> HealthCheckCommand:
        return cls()


@dataclass(frozen=True, slots=True)
class ConfigUpdateCommand:
    """Change the agent's settings: `config` (or, as the SDK also sends it, the payload
    itself) holds the settings to change; the agent applies those it knows."""

    type: ClassVar[CommandType] = CommandType.CONFIG_UPDATE

    config: dict[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {"config": self.config}

    @classmethod
    def from_wire(cls, payload: Any) -> ConfigUpdateCommand:
        payload = _object(payload)
        config = payload.get("config")
        return cls(config=config if isinstance(config, dict) else payload)


AnyCommand = ScanCommand | CollectCommand | CancelCommand | HealthCheckCommand | ConfigUpdateCommand

_BY_TYPE: dict[str, type[AnyCommand]] = {
    kind.type.value: kind
    for kind in (
        ScanCommand,
        CollectCommand,
        CancelCommand,
        HealthCheckCommand,
        ConfigUpdateCommand,
    )
}


def command_from_wire(command_type: Any, payload: Any) -> AnyCommand:
    """The typed payload of a command as it arrives; PayloadError for a type this
    contract does not know."""
    kind = _BY_TYPE.get(command_type) if isinstance(command_type, str) else None
    if kind is None:
        raise PayloadError(f"unknown command type {command_type!r}")
    return kind.from_wire(payload)
