"""Any tool that writes SARIF 2.1.0, described by an argv template.

    {"name": "njsscan", "command": ["njsscan", "--sarif", "-o", "{output}", "{target}"],
     "exit_codes": [0, 1], "targets": ["path"]}

Placeholders: `{target}` (the directory to scan, or the image or URL), `{output}` (the
file the tool should write; without it, stdout is read), `{work_dir}` (the job's own
directory). Each argument is substituted whole and never passed through a shell.

The capabilities the tool gives come from the shared table when it knows the name
(njsscan is sast); `capabilities` in the definition adds to them, for a tool the table
does not know.

Definitions come from the agent's own configuration. A scan payload may carry one in
`config.command` only when the agent was started with `--allow-payload-commands`: with
it, whoever can queue scans can run any program on this machine.
"""

from __future__ import annotations

import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from agents.runtime.adapters.base import Adapter, Job, ScanError
from agents.runtime.targets import GIT, IMAGE, PATH, URL

_KINDS = {PATH, GIT, IMAGE, URL}


@dataclass(frozen=True, slots=True)
class SarifTool:
    name: str
    command: tuple[str, ...]
    exit_codes: frozenset[int] = frozenset({0, 1})
    capabilities: tuple[str, ...] = ()
    targets: frozenset[str] = frozenset({PATH, GIT})

    @classmethod
    def from_config(cls, name: str, spec: object) -> SarifTool:
        if isinstance(spec, str):
            spec = {"command": spec}
        if not isinstance(spec, dict):
            raise ValueError(f"SARIF tool {name!r}: a command string or an object")
        command = spec.get("command")
        if isinstance(command, str):
            command = shlex.split(command)
        if (
            not isinstance(command, list)
            or not command
            or not all(isinstance(a, str) for a in command)
        ):
            raise ValueError(f"SARIF tool {name!r}: `command` must be a non-empty argv list")
        targets = frozenset(spec.get("targets") or (PATH, GIT))
        if not targets <= _KINDS:
            raise ValueError(f"SARIF tool {name!r}: targets are among {', '.join(sorted(_KINDS))}")
        return cls(
            name=name,
            command=tuple(command),
            exit_codes=frozenset(int(c) for c in spec.get("exit_codes") or (0, 1)),
            capabilities=tuple(spec.get("capabilities") or ()),
            targets=targets | ({GIT} if PATH in targets else set()),
        )

    def locate(self) -> str | None:
        program = self.command[0]
        if os.sep in program:
            return program if os.access(program, os.X_OK) else None
        return shutil.which(program)


class SarifCommandAdapter(Adapter):
    name = "sarif"
    executable = ""
    report_format = "sarif"

    def __init__(self, path: str, *, tool: SarifTool) -> None:
        super().__init__(path, tool_name=tool.name)
        self.tool = tool
        # Per instance: each definition has its own exit codes and target kinds.
        self.ok_exit_codes = tool.exit_codes  # type: ignore[misc]
        self.target_kinds = tool.targets  # type: ignore[misc]

    def capabilities(self) -> tuple[str, ...]:
        return tuple(sorted({*super().capabilities(), *self.tool.capabilities}))

    def command(self, job: Job) -> list[str]:
        target = job.target
        where = str(target.local_path) if target.local_path is not None else target.value
        values = {"target": where, "output": str(job.output_file), "work_dir": str(job.job_dir)}
        try:
            rest = [arg.format_map(values) for arg in self.tool.command[1:]]
        except (KeyError, ValueError) as exc:
            raise ScanError(f"{self.tool_name}: bad placeholder in its command: {exc}") from exc
        return [self.path, *rest]

    def cwd(self, job: Job) -> Path | None:
        return job.target.local_path or job.job_dir

    def version(self) -> str:
        return ""
