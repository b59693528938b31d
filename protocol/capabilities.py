"""Which capability a tool needs of the agent that runs it, and which ones it gives one.

Pure Python: imported by the server (scans, agent selection, the wizard) and by the
Django-free agent program (what it advertises in its heartbeat).

A capability is the kind of scanning an agent is allowed and equipped to do — ``sast``,
``sca``, ``dast``, ``iac``, ``secrets``, ``container`` (an agent's `capabilities`) — and it
is the same word as the source category a tool's findings get. So there is no second
table: ``findings.rules.categories.TOOL_CATEGORIES`` is the table, read two ways.

* **Needed** (:func:`required_capabilities`): work with a tool needs the capability of
  the tool's category — a nuclei scan needs ``dast``, ``trivy-config`` needs ``iac``,
  bare ``trivy`` needs ``sca``. A tool with no category (recon tools such as httpx, an
  agent's own SARIF tool) needs no capability, only the tool itself.
* **Given** (:func:`tool_capabilities`): a tool found on an agent's machine gives every
  category it can produce: its own, the ones its finding types refine it to (semgrep
  also finds secrets) and those of its named variants in the table (``trivy`` runs as
  ``trivy-config`` and ``trivy-image`` too, so it gives ``iac`` and ``container``).

Invariant the agent program relies on: a tool always gives the capability it needs,
``set(required_capabilities(t)) <= set(tool_capabilities(t))``, so an agent that
advertises what its tools give can run every tool it advertises.
"""

from __future__ import annotations

from collections.abc import Iterable

from findings.rules.categories import (
    TOOL_CATEGORIES,
    FindingType,
    SourceCategory,
    known_tool,
    source_category_for_tool,
)

CAPABILITIES: tuple[str, ...] = tuple(category.value for category in SourceCategory)


def required_capabilities(tool_name: str | None) -> tuple[str, ...]:
    """The capabilities work with `tool_name` needs of its agent: none or one."""
    category = source_category_for_tool(tool_name)
    return (category.value,) if category is not None else ()


def tool_capabilities(tool_name: str | None) -> tuple[str, ...]:
    """The capabilities an agent with `tool_name` installed has, sorted."""
    key = known_tool(tool_name)
    if key is None:
        return ()
    given = {source_category_for_tool(key, kind) for kind in (None, *FindingType)}
    # Variants of the tool ("trivy-image" of "trivy") run the same program another way.
    given |= {category for name, category in TOOL_CATEGORIES.items() if name.startswith(f"{key}-")}
    return tuple(sorted(c.value for c in given if c is not None))


def capabilities_of(tool_names: Iterable[str]) -> list[str]:
    """Everything a set of installed tools gives, sorted (what an agent advertises)."""
    return sorted({c for name in tool_names for c in tool_capabilities(name)})
