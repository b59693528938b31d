"""Which scanner settings a member may set (issue #13, item 6, "Trust boundaries").

A scan's `scanner_config`, and the `options` of each tool of a scan profile, reach the
agent as they are (`scans.workflows.tool_config`). Some keys only tune a scan: severity
thresholds, excludes, a rule set the agent ships. Others name files or directories on
the agent's host (`path`, rule and template files) or pass flags or commands to the
tool, and would let whoever sets them make an agent read outside its work area and
show what it found there as findings. Agents are the admins' to manage, so those keys
are theirs too.

The rule is an allow-list: a member may set only the keys listed in MEMBER_KEYS, each
with a value of its shape; every other key, known or not, needs the admin role. A
member may keep what an admin set (a key whose value does not change is not judged),
but not add, change or remove it. The agent confines scans to its work roots whatever
it is sent (agents/runtime/confine.py); this is the server's half of the boundary.

Every write of these settings goes through `scanner_config_refusals` or
`tools_config_refusals`, called by the scan and profile services.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from agents.runtime.adapters.semgrep import bundled_rule_sets
from rediverio.models import ROLE_RANK, Membership, Role, Tenant

# Refusals: the field at fault ("scanner_config.path") -> why.
Refusals = dict[str, str]

MAX_ITEMS = 100
MAX_TEXT = 500
MAX_TIMEOUT_SECONDS = 86_400
# A word a tool takes as an option's value: a severity, a check id, a framework name.
_WORD = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:+=@-]*$")
# A git branch or tag: what `git clone --branch` takes; never an option, never "..".
_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./+-]*$")


def _items(value: Any) -> list | None:
    """A string (comma-separated, as the adapters read one) or a list, as a list."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",")]
    if isinstance(value, list) and len(value) <= MAX_ITEMS:
        return value
    return None


def _words(value: Any) -> str | None:
    items = _items(value)
    if items is None:
        return f"a word or a list of at most {MAX_ITEMS} words"
    for item in items:
        if not isinstance(item, str) or len(item) > 100 or not _WORD.match(item):
            return f"{item!r} is not a word (letters, digits, '_', '.', ':', '-')"
    return None


def _patterns(value: Any) -> str | None:
    """Excludes: globs (or a tool's regexes) relative to the scanned directory."""
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, list) and len(value) <= MAX_ITEMS:
        items = value
    else:
        return f"a pattern or a list of at most {MAX_ITEMS} patterns"
    for item in items:
        if not isinstance(item, str) or not item or len(item) > MAX_TEXT:
            return f"{item!r} is not a pattern of 1 to {MAX_TEXT} characters"
        if item.startswith(("/", "~", "-")) or ".." in item.split("/"):
            return f"{item!r} must be relative to the scanned directory, without '..'"
    return None


def _flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def _count(high: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= high
        return None if ok else f"a whole number from 1 to {high}"

    return check


def _ref(value: Any) -> str | None:
    ok = (
        isinstance(value, str)
        and len(value) <= 255
        and _REF.match(value) is not None
        and ".." not in value
    )
    return None if ok else "a branch or tag name"


@cache
def bundled_rule_set_names() -> frozenset[str]:
    """The semgrep rule sets every agent ships (agents/runtime/rules/semgrep/)."""
    return frozenset(bundled_rule_sets())


def _rule_sets(value: Any) -> str | None:
    names = bundled_rule_set_names()
    items = [value] if isinstance(value, str) else value
    if isinstance(items, list) and items and all(item in names for item in items):
        return None
    return (
        f"members may choose among the rule sets the agents ship ({', '.join(sorted(names))}); "
        "rule files and folders are set by an admin"
    )


# The keys a member may set, each with the check of its value (None when it is fine).
# Each only tunes what a tool reports or skips; none names a file, a host directory or a
# flag of the tool (the adapters in agents/runtime/adapters/ read them).
MEMBER_KEYS: Mapping[str, Callable[[Any], str | None]] = {
    "severity": _words,
    "min_severity": _words,
    "confidence": _words,
    "skip": _words,
    "tests": _words,
    "framework": _words,
    "skip_check": _words,
    "scanners": _words,
    "mode": _words,
    "exclude": _patterns,
    "exclude_files": _patterns,
    "exclude_lines": _patterns,
    "git_history": _flag,
    "skip_db_update": _flag,
    "offline": _flag,
    "ignore_unfixed": _flag,
    "list_all_packages": _flag,
    "rate_limit": _count(100_000),
    "timeout": _count(MAX_TIMEOUT_SECONDS),
    "ref": _ref,
    "branch": _ref,
    # A rule set the agent ships, by name; a path here is an admin's to set.
    "rules": _rule_sets,
    "config": _rule_sets,
    "ruleset": _rule_sets,
}

# Keys known to name host files or pass raw input to the tool: the refusal says so.
HOST_KEYS = frozenset(
    {
        "path",
        "paths",
        "target_dir",
        "rules_path",
        "templates",
        "config_file",
        "args",
        "extra_args",
        "command",
    }
)


def may_set_any(role: str | None) -> bool:
    """Admins and owners may set every key; `None` is the platform's own code (no
    user: seeding, system profiles), which is not a caller to guard against."""
    return role is None or ROLE_RANK.get(role, -1) >= ROLE_RANK[Role.ADMIN]


def acting_role(tenant: Tenant, by) -> str | None:
    """The role `by` acts with in `tenant` (an API token acts with its user's role
    there); None when there is no user; "" when the user is not in the team."""
    if by is None:
        return None
    role = (
        Membership.objects.for_tenant(tenant).filter(user=by).values_list("role", flat=True).first()
    )
    return role or ""


def scanner_config_refusals(
    config: Any,
    role: str | None,
    *,
    before: Mapping[str, Any] | None = None,
    field: str = "scanner_config",
) -> Refusals:
    """Why `role` may not write `config` over `before` (empty when it may), per field:
    {"scanner_config.path": "…"}."""
    if not isinstance(config, Mapping):
        return {field: "an object of settings"}
    if may_set_any(role):
        return {}
    before = before or {}
    refusals: Refusals = {}
    for key, value in config.items():
        if key in before and before[key] == value:
            continue  # kept as it was set (by an admin, maybe)
        check = MEMBER_KEYS.get(key)
        if check is None:
            refusals[f"{field}.{key}"] = _admin_only(key)
        elif (problem := check(value)) is not None:
            refusals[f"{field}.{key}"] = problem
    for key, value in before.items():
        if key not in config and not _member_may_set(key, value):
            refusals[f"{field}.{key}"] = f"only an admin may remove {key!r}, which an admin set"
    return refusals


def _member_may_set(key: str, value: Any) -> bool:
    check = MEMBER_KEYS.get(key)
    return check is not None and check(value) is None


def tools_config_refusals(
    tools_config: Any,
    role: str | None,
    *,
    before: Mapping[str, Any] | None = None,
) -> Refusals:
    """The same rule for a profile's tools: each tool's `options` reach the agent as a
    scan's `scanner_config` does."""
    if not isinstance(tools_config, Mapping):
        return {"tools_config": "an object of tools"}
    before = before or {}
    refusals: Refusals = {}
    for tool in sorted({*tools_config, *before}):
        settings = tools_config.get(tool) or {}
        earlier = before.get(tool) or {}
        if not isinstance(settings, Mapping):
            refusals[f"tools_config.{tool}"] = "an object of settings"
            continue
        options = settings.get("options") or {}
        kept = (earlier.get("options") or {}) if isinstance(earlier, Mapping) else {}
        refusals |= scanner_config_refusals(
            options, role, before=kept, field=f"tools_config.{tool}.options"
        )
    return refusals


def _admin_only(key: str) -> str:
    if key in HOST_KEYS:
        why = "it names files on the agent's host or passes input to the tool"
    else:
        why = "it is not one of the settings a member may set"
    return (
        f"only an admin may set {key!r}: {why}. Members may set: {', '.join(sorted(MEMBER_KEYS))}."
    )
