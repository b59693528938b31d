"""What a scan looks at, and getting it onto this machine.

Kinds: a local `path`; a `git` repository (shallow-cloned into the work directory,
removed afterwards, then scanned as a path); a container `image`; a `url` (a web
address, host or IP). Each adapter says which kinds it accepts; an unsupported pair
fails the command with a reason that names both.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from agents.runtime.confine import OutsideWorkRoots, WorkRoots
from agents.runtime.process import run_process
from findings.rules.assets import AssetType, InvalidAssetIdentifier, normalize_asset
from protocol.report import ReportTarget

PATH, GIT, IMAGE, URL = "path", "git", "image", "url"

_URL_ASSET_TYPES = {
    "website",
    "web_application",
    "api",
    "http_service",
    "discovered_url",
    "domain",
    "subdomain",
    "ip_address",
    "host",
    "server",
    "service",
    "open_port",
}
_IMAGE_ASSET_TYPES = {"container", "container_registry"}
_GIT_SCHEMES = ("https://", "http://", "ssh://", "git://", "git@")
# host/owner/repo with a dot in the host: how the server spells repository assets.
_BARE_REPO = re.compile(r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:\d+)?/[^\s]+/[^\s]+$")
_CLONE_TIMEOUT = 600


class TargetError(Exception):
    """The target cannot be scanned here; the message says why."""


@dataclass(slots=True)
class Target:
    kind: str
    value: str
    # The directory to scan, for path and (once cloned) git targets.
    local_path: Path | None = None
    clone_url: str = ""
    # The asset the report is about; None lets the server decide.
    asset: ReportTarget | None = None
    _clone_dir: Path | None = None

    def describe(self) -> str:
        return f"{self.kind} {self.value}"


def resolve_target(
    value: str,
    target_type: str = "",
    config: dict | None = None,
    roots: WorkRoots | None = None,
) -> Target:
    """Classify a scan payload's target. `config["path"]` names a local checkout of the
    target (e.g. a repository asset whose code is already on this machine). With
    `roots`, a local path outside them is refused (agents/runtime/confine.py)."""
    config = config or {}
    value = (value or "").strip()
    target_type = (target_type or "").strip().lower()
    asset = ReportTarget(identifier=value, type=target_type) if value else None
    local = config.get("path")
    if local not in (None, "") and not isinstance(local, str):
        raise TargetError(f"config.path must name a directory, not {local!r}")
    if local:
        return _local(local, value or local, asset, roots, "config.path", local)
    if not value:
        raise TargetError("the scan names no target")
    if value.startswith("file://"):
        return _local(value[len("file://") :], value, asset, roots, named=value)
    if target_type in _IMAGE_ASSET_TYPES or value.startswith("docker://"):
        return Target(IMAGE, value.removeprefix("docker://"), asset=asset)
    if target_type in _URL_ASSET_TYPES:
        return Target(URL, value, asset=asset)
    if os.path.isabs(value) or value.startswith("."):
        return _local(value, value, asset, roots)
    if target_type == "repository" or _looks_like_git(value):
        if value.startswith(_GIT_SCHEMES):
            return Target(GIT, value, clone_url=value, asset=asset)
        if _BARE_REPO.match(value):
            return Target(GIT, value, clone_url=f"https://{value}", asset=asset)
        raise TargetError(f"{value!r} is neither a directory on this agent nor a git URL")
    if value.startswith(("http://", "https://")):
        return Target(URL, value, asset=asset)
    raise TargetError(
        f"cannot tell what {value!r} is (type {target_type or 'unknown'}): give a local path, "
        "a git URL, a container image or a URL"
    )


def _looks_like_git(value: str) -> bool:
    if value.startswith(("http://", "https://")):
        # A code host's address is a repository; any other web address is a site.
        try:
            return normalize_asset(value).type == AssetType.REPOSITORY
        except InvalidAssetIdentifier:
            return False
    return value.startswith(_GIT_SCHEMES) or value.endswith(".git")


def _local(
    path: str,
    value: str,
    asset: ReportTarget | None,
    roots: WorkRoots | None,
    what: str = "the target",
    named: str = "",
) -> Target:
    if roots is not None:
        try:
            directory = roots.check(path, what, named=named or path)
        except OutsideWorkRoots as exc:
            raise TargetError(str(exc)) from exc
    else:
        directory = Path(path).expanduser().resolve()
    if not directory.exists():
        raise TargetError(f"the path {path!r} does not exist on this agent")
    return Target(PATH, value, local_path=directory, asset=asset)


def prepare(
    target: Target,
    work_dir: Path,
    *,
    ref: str = "",
    cancel: threading.Event | None = None,
    timeout: float = _CLONE_TIMEOUT,
) -> None:
    """Clone a git target (shallow) into the work directory; other kinds need nothing."""
    if target.kind != GIT:
        return
    git = shutil.which("git")
    if git is None:
        raise TargetError("git is not installed on this agent, so it cannot clone " + target.value)
    dest = work_dir / "checkouts" / uuid.uuid4().hex
    dest.parent.mkdir(parents=True, exist_ok=True)
    argv = [git, "clone", "--quiet", "--depth", "1"]
    if ref:
        argv += ["--branch", ref]
    argv += ["--", target.clone_url, str(dest)]
    # Never wait for a password on a terminal nobody watches.
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    target._clone_dir = dest
    result = run_process(argv, timeout=timeout, env=env, cancel=cancel, output_dir=_log_dir(dest))
    if result.cancelled:
        cleanup(target)
        raise TargetError("cancelled while cloning " + target.value)
    if result.timed_out or result.exit_code != 0:
        cleanup(target)
        why = (
            "timed out" if result.timed_out else (result.stderr_tail or f"exit {result.exit_code}")
        )
        raise TargetError(f"git clone of {target.clone_url} failed: {why}")
    target.local_path = dest


def cleanup(target: Target) -> None:
    if target._clone_dir is not None:
        shutil.rmtree(target._clone_dir, ignore_errors=True)
        shutil.rmtree(_log_dir(target._clone_dir), ignore_errors=True)
        target._clone_dir = None


def _log_dir(checkout: Path) -> Path:
    return checkout.with_name(checkout.name + ".log")
