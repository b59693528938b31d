"""Where the agent may read: its work roots.

A scan command names directories and files on this machine: the target (a local path
or `file://`), `config.path` (a local checkout of the target), rule and template files
(`config.rules`, `config.templates`, `config.config_file`), the report a `collect`
command imports. Whoever can define a scan on the server could otherwise make the
agent read any directory of its host, and see what it holds in findings. So every such
path is resolved (`~` expanded, `..` removed, symlinks followed) and must lie inside one
of the agent's work roots, whatever the server sends; a command that names a path
outside them fails before anything runs, and its error says so.

The roots are the operator's (`--work-root`, `AGENT_WORK_ROOTS`); a `config_update`
from the server cannot change them. The agent's own clones (`<work dir>/checkouts`)
are always inside, and rule files may also come from the rules the agent ships.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


class OutsideWorkRoots(Exception):
    """A path a command names is outside every work root; the message says which."""


def real(path: str | os.PathLike[str]) -> Path:
    """The path as the file system sees it: absolute, `~` expanded, symlinks followed.
    Relative paths are relative to the agent's working directory."""
    return Path(os.path.realpath(Path(path).expanduser()))


def default_work_roots() -> tuple[Path, ...]:
    """The directory the agent was started in, unless that is the file system's root
    (a service manager's default), which would confine nothing."""
    here = real(Path.cwd())
    return () if here == Path(here.anchor) else (here,)


@dataclass(frozen=True, slots=True)
class WorkRoots:
    roots: tuple[Path, ...]
    # Inside a root but not to be read (the agent's work directory: its spool holds
    # other scans' reports), except where a root lies inside it (its clones).
    private: tuple[Path, ...] = ()

    @classmethod
    def of(
        cls,
        paths: Iterable[str | os.PathLike[str]],
        private: Iterable[str | os.PathLike[str]] = (),
    ) -> WorkRoots:
        return cls(
            tuple(dict.fromkeys(real(p) for p in paths)),
            tuple(dict.fromkeys(real(p) for p in private)),
        )

    def check(
        self,
        path: str | os.PathLike[str],
        what: str,
        *,
        also: Iterable[Path] = (),
        named: str = "",
    ) -> Path:
        """`path` resolved, when it lies inside a work root (or one of `also`);
        OutsideWorkRoots otherwise, naming the path as the command spelled it (`named`).
        Checked before the path is looked at, so a refusal says nothing about whether
        it exists."""
        resolved = real(path)
        named = named or str(path)
        allowed = (*self.roots, *(real(p) for p in also))
        inside = [root for root in allowed if resolved.is_relative_to(root)]
        for private in self.private:
            if resolved.is_relative_to(private) and not any(
                root != private and root.is_relative_to(private) for root in inside
            ):
                raise OutsideWorkRoots(
                    f"{what} {named!r} is inside this agent's own work directory, "
                    "which commands may not read: the command was refused before anything ran"
                )
        if inside:
            return resolved
        where = ", ".join(str(root) for root in self.roots) or "none"
        raise OutsideWorkRoots(
            f"{what} {named!r} is outside this agent's work roots ({where}): the "
            "command was refused before anything ran. The agent's operator can add a root "
            "with --work-root or AGENT_WORK_ROOTS"
        )
