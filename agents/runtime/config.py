"""The agent's settings: defaults, then the environment, then flags, then what the
server last sent in a `config_update` (persisted in `<work dir>/agent-config.json`, so
that it survives a restart; delete the file to go back to flags and environment).

| variable                  | flag                   | default                |
| ------------------------- | ---------------------- | ---------------------- |
| API_URL                   | --api-url              | (required to talk)     |
| API_KEY                   | --api-key              | (required to talk)     |
| AGENT_ID                  | --agent-id             | sent as X-Agent-ID     |
| AGENT_NAME                | --name                 | the host name          |
| AGENT_TYPE                | --agent-type           | worker                 |
| AGENT_MAX_JOBS            | --max-jobs             | 2                      |
| AGENT_POLL_INTERVAL       | --poll-interval        | 30 (seconds)           |
| AGENT_HEARTBEAT_INTERVAL  | --heartbeat-interval   | 30 (seconds)           |
| AGENT_WORK_DIR            | --work-dir             | ~/.rediverio-agent     |
| AGENT_LABELS              | --label k=v (repeat)   | none; env "k=v,k2=v2"  |
| AGENT_TOOL_PATHS          | --tool-path name=path  | none; env "n=p,n2=p2"  |
| AGENT_SARIF_TOOLS         | --sarif-tool name=cmd  | none; env is JSON      |
| AGENT_SHUTDOWN_GRACE      | --shutdown-grace       | 120 (seconds)          |
| AGENT_REGION              | --region               | empty                  |
| AGENT_RETRIES             | --retries              | 3 (per request)        |
| AGENT_ALLOW_PAYLOAD_COMMANDS | --allow-payload-commands | off              |
| AGENT_WORK_ROOTS          | --work-root (repeat)   | the working directory  |

Work roots are the directories scans may read (agents/runtime/confine.py); in the
variable, separated by the path separator (":"). A config_update never changes them.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from agents.runtime.adapters.sarif_command import SarifTool
from agents.runtime.confine import WorkRoots, default_work_roots

AGENT_TYPES = ("worker", "collector", "runner")
PERSISTED_FILE = "agent-config.json"
# What a config_update may change, and how each value is read.
UPDATABLE = {
    "poll_interval": "seconds",
    "heartbeat_interval": "seconds",
    "max_jobs": "count",
    "labels": "labels",
    "tool_paths": "mapping",
    "shutdown_grace": "seconds",
    "region": "text",
}
_UPDATE_ALIASES = {
    "max_concurrent_jobs": "max_jobs",
    "poll_interval_seconds": "poll_interval",
    "heartbeat_interval_seconds": "heartbeat_interval",
}


class ConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class AgentConfig:
    api_url: str = ""
    api_key: str = ""
    agent_id: str = ""
    name: str = field(default_factory=socket.gethostname)
    agent_type: str = "worker"
    max_jobs: int = 2
    poll_interval: float = 30.0
    heartbeat_interval: float = 30.0
    spool_interval: float = 60.0
    shutdown_grace: float = 120.0
    work_dir: Path = field(default_factory=lambda: Path.home() / ".rediverio-agent")
    # The directories scans may read; not in UPDATABLE: the server must not widen them.
    work_roots: tuple[Path, ...] = field(default_factory=default_work_roots)
    labels: Mapping[str, str] = field(default_factory=dict)
    tool_paths: Mapping[str, str] = field(default_factory=dict)
    sarif_tools: Mapping[str, SarifTool] = field(default_factory=dict)
    region: str = ""
    allow_payload_commands: bool = False
    request_timeout: float = 30.0
    retries: int = 3
    backoff: float = 2.0

    @property
    def spool_dir(self) -> Path:
        return self.work_dir / "spool"

    @property
    def persisted_path(self) -> Path:
        return self.work_dir / PERSISTED_FILE

    @property
    def checkouts_dir(self) -> Path:
        return self.work_dir / "checkouts"

    @property
    def scan_roots(self) -> WorkRoots:
        """Where scans may read: the work roots and the agent's own clones, but not the
        rest of the work directory (its spool holds other scans' reports)."""
        return WorkRoots.of([*self.work_roots, self.checkouts_dir], private=[self.work_dir])

    def with_persisted(self) -> AgentConfig:
        """These settings with the server's last config_update applied."""
        try:
            saved = json.loads(self.persisted_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return self
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{self.persisted_path} is unreadable: {exc}") from exc
        return replace(self, **validate_update(saved)[0])

    def apply_update(self, changes: Mapping[str, Any]) -> tuple[AgentConfig, dict, list[str]]:
        """(new settings, what changed, ignored keys). Persists the accumulated updates;
        raises ConfigError, changing nothing, when a value is bad."""
        values, ignored = validate_update(changes)
        if not values:
            return self, {}, ignored
        try:
            saved = json.loads(self.persisted_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            saved = {}
        saved.update({k: _plain(v) for k, v in values.items()})
        self.work_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.persisted_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(saved, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(temporary, self.persisted_path)
        return replace(self, **values), {k: _plain(v) for k, v in values.items()}, ignored


def validate_update(changes: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    values: dict[str, Any] = {}
    ignored = []
    for raw_key, value in changes.items():
        key = _UPDATE_ALIASES.get(raw_key, raw_key)
        kind = UPDATABLE.get(key)
        if kind is None:
            ignored.append(raw_key)
            continue
        values[key] = _read(kind, value, raw_key)
    return values, sorted(ignored)


def _read(kind: str, value: Any, key: str) -> Any:
    if kind == "seconds":
        number = _number(value, key)
        if not 1 <= number <= 86_400:
            raise ConfigError(f"{key} must be between 1 and 86400 seconds")
        return number
    if kind == "retries":
        number = _number(value, key)
        if number != int(number) or not 0 <= number <= 10:
            raise ConfigError(f"{key} must be a whole number between 0 and 10")
        return int(number)
    if kind == "count":
        number = _number(value, key)
        if number != int(number) or not 1 <= number <= 64:
            raise ConfigError(f"{key} must be a whole number between 1 and 64")
        return int(number)
    if kind in ("labels", "mapping"):
        if isinstance(value, str):
            return parse_pairs(value.split(","), key)
        if isinstance(value, list):
            return parse_pairs(value, key)
        if isinstance(value, dict) and all(isinstance(v, str | int) for v in value.values()):
            return {str(k): str(v) for k, v in value.items()}
        raise ConfigError(f"{key} must be an object of strings or a list of key=value")
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string")
    return value


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{key} must be a number")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key} must be a number, not {value!r}") from exc


def parse_pairs(items: list, what: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(f"{what}: {item!r} is not key=value")
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not key.strip():
            raise ConfigError(f"{what}: {item!r} is not key=value")
        # A bare label ("gpu") is a label with an empty value, as the server reads tags.
        pairs[key.strip()] = value.strip() if sep else ""
    return pairs


def parse_work_roots(items: list[str], what: str) -> tuple[Path, ...]:
    """Existing directories, resolved: a root that is a typo would confine every scan
    to nothing without saying why."""
    roots = []
    for item in items:
        if not item.strip():
            continue
        path = Path(item.strip()).expanduser()
        if not path.is_dir():
            raise ConfigError(f"{what}: {item!r} is not a directory")
        roots.append(path.resolve())
    if not roots:
        raise ConfigError(f"{what}: name at least one directory")
    return tuple(dict.fromkeys(roots))


def parse_sarif_tools(specs: Mapping[str, Any]) -> dict[str, SarifTool]:
    try:
        return {name: SarifTool.from_config(name, spec) for name, spec in specs.items()}
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from exc


def from_environment(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings the environment gives (only those it gives)."""
    env = os.environ if env is None else env
    found: dict[str, Any] = {}
    for name, key in (
        ("API_URL", "api_url"),
        ("API_KEY", "api_key"),
        ("AGENT_ID", "agent_id"),
        ("AGENT_NAME", "name"),
        ("AGENT_TYPE", "agent_type"),
        ("AGENT_REGION", "region"),
    ):
        if env.get(name):
            found[key] = env[name]
    for name, key, kind in (
        ("AGENT_MAX_JOBS", "max_jobs", "count"),
        ("AGENT_POLL_INTERVAL", "poll_interval", "seconds"),
        ("AGENT_HEARTBEAT_INTERVAL", "heartbeat_interval", "seconds"),
        ("AGENT_SHUTDOWN_GRACE", "shutdown_grace", "seconds"),
        ("AGENT_RETRIES", "retries", "retries"),
    ):
        if env.get(name):
            found[key] = _read(kind, env[name], name)
    if env.get("AGENT_WORK_DIR"):
        found["work_dir"] = Path(env["AGENT_WORK_DIR"])
    if env.get("AGENT_LABELS"):
        found["labels"] = parse_pairs(env["AGENT_LABELS"].split(","), "AGENT_LABELS")
    if env.get("AGENT_TOOL_PATHS"):
        found["tool_paths"] = parse_pairs(env["AGENT_TOOL_PATHS"].split(","), "AGENT_TOOL_PATHS")
    if env.get("AGENT_SARIF_TOOLS"):
        try:
            specs = json.loads(env["AGENT_SARIF_TOOLS"])
        except ValueError as exc:
            raise ConfigError(f"AGENT_SARIF_TOOLS is not JSON: {exc}") from exc
        if not isinstance(specs, dict):
            raise ConfigError("AGENT_SARIF_TOOLS must be a JSON object of name: command")
        found["sarif_tools"] = parse_sarif_tools(specs)
    if env.get("AGENT_WORK_ROOTS"):
        found["work_roots"] = parse_work_roots(
            env["AGENT_WORK_ROOTS"].split(os.pathsep), "AGENT_WORK_ROOTS"
        )
    if env.get("AGENT_ALLOW_PAYLOAD_COMMANDS", "").lower() in ("1", "true", "yes", "on"):
        found["allow_payload_commands"] = True
    return found


def build_config(overrides: Mapping[str, Any], env: Mapping[str, str] | None = None) -> AgentConfig:
    """Defaults < environment < flags (`overrides`, None meaning "not given")."""
    known = {f.name for f in fields(AgentConfig)}
    values = from_environment(env)
    values.update({k: v for k, v in overrides.items() if v is not None and k in known})
    if values.get("agent_type", "worker") not in AGENT_TYPES:
        raise ConfigError(f"agent type must be one of {', '.join(AGENT_TYPES)}")
    if "work_dir" in values:
        # Absolute: tools run inside their target directory, so a relative output path
        # would land (or fail) there instead of in the work directory.
        values["work_dir"] = Path(values["work_dir"]).expanduser().resolve()
    return AgentConfig(**values)


def _plain(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value
