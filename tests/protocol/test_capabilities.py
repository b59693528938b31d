"""The capability a tool needs, and those it gives, read from the one tool table."""

from __future__ import annotations

from pathlib import Path

import pytest

from findings.rules.categories import TOOL_CATEGORIES
from protocol.capabilities import (
    CAPABILITIES,
    capabilities_of,
    required_capabilities,
    tool_capabilities,
)

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("tool", "needed"),
    [
        ("nuclei", ("dast",)),
        ("zap-baseline", ("dast",)),
        ("semgrep", ("sast",)),
        ("bandit", ("sast",)),
        ("trivy", ("sca",)),
        ("trivy-fs", ("sca",)),
        ("trivy-config", ("iac",)),
        ("trivy-image", ("container",)),
        ("checkov", ("iac",)),
        ("gitleaks", ("secrets",)),
        ("Detect_Secrets", ("secrets",)),
        ("httpx", ()),
        ("my-own-sarif-tool", ()),
        ("", ()),
    ],
)
def test_a_tool_needs_the_capability_of_its_category(tool, needed):
    assert required_capabilities(tool) == needed


@pytest.mark.parametrize(
    ("tool", "given"),
    [
        ("nuclei", ("dast",)),
        ("semgrep", ("sast", "secrets")),  # its secret findings are Secrets
        ("trivy", ("container", "iac", "sca", "secrets")),  # through its variants
        ("trivy-config", ("iac",)),
        ("checkov", ("iac",)),
        ("httpx", ()),
    ],
)
def test_a_tool_gives_its_category_its_refinements_and_its_variants(tool, given):
    assert tool_capabilities(tool) == given


def test_every_known_tool_gives_the_capability_it_needs():
    for tool in TOOL_CATEGORIES:
        assert set(required_capabilities(tool)) <= set(tool_capabilities(tool)), tool


def test_capabilities_are_the_seed_words():
    assert set(CAPABILITIES) == {"sast", "sca", "dast", "iac", "secrets", "container"}
    assert {c for tool in TOOL_CATEGORIES for c in tool_capabilities(tool)} == set(CAPABILITIES)


def test_a_set_of_tools_gives_the_union_of_their_capabilities():
    assert capabilities_of(["bandit", "nuclei", "unknown"]) == ["dast", "sast"]
    assert capabilities_of([]) == []
