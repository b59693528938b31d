"""The scanners this agent can drive, found on this machine (never imported).

`adapter_for(name)` answers an adapter ready to run, or raises ToolMissing with the
reason; `installed_tools()` lists what is here, for the heartbeat and `tools`.
"""

from __future__ import annotations

from agents.runtime.adapters.bandit import BanditAdapter
from agents.runtime.adapters.base import Adapter, ScanError, ToolInfo, ToolMissing
from agents.runtime.adapters.checkov import CheckovAdapter
from agents.runtime.adapters.detect_secrets import DetectSecretsAdapter
from agents.runtime.adapters.gitleaks import GitleaksAdapter
from agents.runtime.adapters.nuclei import NucleiAdapter
from agents.runtime.adapters.sarif_command import SarifCommandAdapter, SarifTool
from agents.runtime.adapters.semgrep import SemgrepAdapter
from agents.runtime.adapters.trivy import TrivyAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    cls.name: cls
    for cls in (
        SemgrepAdapter,
        BanditAdapter,
        DetectSecretsAdapter,
        CheckovAdapter,
        GitleaksAdapter,
        TrivyAdapter,
        NucleiAdapter,
    )
}
# Names the server may use for one of our adapters (scan definitions name tool variants).
ALIASES = {
    "trivy-fs": "trivy",
    "trivy-config": "trivy",
    "trivy-image": "trivy",
    "detect_secrets": "detect-secrets",
}


def adapter_for(
    name: str,
    *,
    tool_paths: dict[str, str] | None = None,
    sarif_tools: dict[str, SarifTool] | None = None,
    payload_command: object = None,
    allow_payload_commands: bool = False,
) -> Adapter:
    name = (name or "").strip().lower()
    sarif_tools = sarif_tools or {}
    if name in sarif_tools or (name == "sarif" and payload_command is not None):
        if name in sarif_tools:
            tool = sarif_tools[name]
        elif not allow_payload_commands:
            raise ScanError(
                "this agent does not run commands sent in a scan's configuration "
                "(start it with --allow-payload-commands, or define the tool locally)"
            )
        else:
            try:
                tool = SarifTool.from_config("sarif", {"command": payload_command})
            except ValueError as exc:
                raise ScanError(str(exc)) from exc
        path = tool.locate()
        if path is None:
            raise ToolMissing(f"{tool.name} is not installed on this agent ({tool.command[0]})")
        return SarifCommandAdapter(path, tool=tool)
    base = ALIASES.get(name, name)
    cls = ADAPTERS.get(base)
    if cls is None:
        known = ", ".join(sorted([*ADAPTERS, *ALIASES, *sarif_tools]))
        raise ScanError(f"this agent has no adapter for {name!r}; it knows: {known}")
    path = cls.locate(tool_paths)
    if path is None:
        where = (tool_paths or {}).get(cls.name)
        raise ToolMissing(
            f"{name} is not installed on this agent"
            + (f" (configured path {where} is not executable)" if where else " (not on PATH)")
        )
    return cls(path, tool_name=name)


def target_kinds_of(name: str, sarif_tools: dict[str, SarifTool] | None = None):
    """The target kinds a scanner accepts, known without it being installed (None for
    a name this agent does not know)."""
    name = (name or "").strip().lower()
    if name in (sarif_tools or {}):
        return sarif_tools[name].targets  # type: ignore[index]
    cls = ADAPTERS.get(ALIASES.get(name, name))
    return cls.target_kinds if cls else None


def installed_tools(
    tool_paths: dict[str, str] | None = None, sarif_tools: dict[str, SarifTool] | None = None
) -> list[ToolInfo]:
    found = []
    for cls in ADAPTERS.values():
        path = cls.locate(tool_paths)
        if path is not None:
            found.append(cls(path).info())
    for tool in (sarif_tools or {}).values():
        path = tool.locate()
        if path is not None:
            found.append(SarifCommandAdapter(path, tool=tool).info())
    return found


def advertised_names(tools: list[ToolInfo]) -> list[str]:
    """Tool names for the heartbeat: each tool plus the variants it answers to."""
    names = {t.name for t in tools}
    names |= {alias for alias, base in ALIASES.items() if base in names and "-" in alias}
    return sorted(names)


__all__ = [
    "ADAPTERS",
    "Adapter",
    "ScanError",
    "SarifTool",
    "ToolInfo",
    "ToolMissing",
    "adapter_for",
    "advertised_names",
    "installed_tools",
    "target_kinds_of",
]
