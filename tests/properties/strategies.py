"""Strategies and seed documents shared by the property tests.

The real reports come from the shared data folder exactly as the parser tests find them
(`tests.shared_data`), and a missing parser module skips here the same way it does in
`tests.ingest.parsers.test_detect`.
"""

from __future__ import annotations

import json
import math
import os
from functools import cache
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from ingest.parsers import cyclonedx
from tests.ingest.parsers.test_detect import FORMAT_OF_FOLDER, REPORTS
from tests.shared_data import DATA

__all__ = [
    "BOUNDARY",
    "SWEEP",
    "REPORTS",
    "dump",
    "format_of",
    "is_markup",
    "json_values",
    "load",
    "properties",
    "raw_of",
    "replacement_for",
    "seeds",
]


def properties(max_examples: int = 100) -> settings:
    """The settings of a property test: `max_examples` under the CI profile, ten times
    as many under the thorough one (see conftest.py)."""
    profile = settings.get_profile(os.environ.get("PROPERTIES_PROFILE", "properties"))
    scaled = max(1, max_examples * profile.max_examples // 100)
    return settings(profile, max_examples=scaled)


def format_of(relative: str) -> str:
    folder = relative.split("/")[0]
    return FORMAT_OF_FOLDER.get(folder, folder)


# Our own formats have no real report in the data folder; these small valid ones give
# the mutation tests something of theirs to break.
RIS_SEED = {
    "version": "1.0",
    "metadata": {"id": "scan-1", "timestamp": "2024-05-01T10:00:00Z", "coverage_type": "full"},
    "tool": {"name": "semgrep", "version": "1.50.0"},
    "assets": [{"id": "a1", "type": "repository", "value": "github.com/acme/app", "tags": ["x"]}],
    "findings": [
        {
            "type": "vulnerability",
            "title": "SQL injection\nin the login form",
            "severity": "high",
            "rule_id": "python.sqli",
            "asset_ref": "a1",
            "fingerprint": "abc123",
            "partial_fingerprints": {"line": "1"},
            "location": {"path": "app/db.py", "start_line": 3, "end_line": 4, "snippet": "q"},
            "vulnerability": {
                "cve_id": "CVE-2024-1",
                "cwe_ids": ["CWE-89", 79],
                "cwe_id": "cwe-20",
                "cvss_score": 7.5,
                "epss_score": 0.1,
                "package": "django",
                "affected_version": "4.0",
            },
            "references": ["https://example.com/advisory"],
            "secret": {"type": "aws", "value": "AKIA0000"},
            "suppression": {"status": "accepted"},
        },
        {
            "type": "secret",
            "title": "key",
            "severity": "critical",
            "asset_value": "https://example.com",
            "asset_type": "website",
        },
    ],
    "dependencies": [{"name": "django", "version": "4.0", "target_index": 0}],
}
FLAT_SEED = {
    "version": "1.0",
    "metadata": {
        "tool_name": "gosec",
        "tool_version": "2.0",
        "scan_id": "s1",
        "start_time": "2024-05-01T10:00:00+02:00",
        "coverage_type": "partial",
        "branch": {"name": "main"},
    },
    "targets": [{"type": "web", "identifier": "https://example.com", "name": "site"}],
    "findings": [
        {
            "rule_id": "G101",
            "severity": "medium",
            "message": "Hard-coded credential",
            "file_path": "main.go",
            "start_line": 7,
            "end_line": 7,
            "target_index": 0,
            "cwe_ids": ["CWE-798"],
            "cvss_score": 5.5,
        }
    ],
    "dependencies": [{"name": "lodash", "type": "library", "relationship": "direct"}],
}
# The small real SARIF logs lack what CodeQL writes (rule indexes, extensions, scores,
# artifacts, message templates); CodeQL's own log is too large to sweep.
SARIF_SEED = {
    "version": "2.1.0",
    "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
    "runs": [
        {
            "tool": {
                "driver": {
                    "name": "CodeQL",
                    "semanticVersion": "2.15.0",
                    "rules": [
                        {
                            "id": "py/sql-injection",
                            "name": "py/sql-injection",
                            "shortDescription": {"text": "SQL query built from user input"},
                            "fullDescription": {"text": "Building a query from input."},
                            "helpUri": "https://codeql.github.com/",
                            "defaultConfiguration": {"level": "error"},
                            "messageStrings": {"default": {"text": "Query uses {0} from {1}."}},
                            "properties": {
                                "tags": ["security", "external/cwe/cwe-089"],
                                "precision": "high",
                                "security-severity": "8.8",
                            },
                        }
                    ],
                },
                "extensions": [
                    {"name": "pack", "rules": [{"id": "ext/rule", "properties": {"tags": []}}]}
                ],
            },
            "originalUriBaseIds": {"%SRCROOT%": {"uri": "file:///home/ci/repo/"}},
            "invocations": [{"workingDirectory": {"uri": "file:///home/ci/repo"}}],
            "artifacts": [{"location": {"uri": "app/db.py", "uriBaseId": "%SRCROOT%"}}],
            "versionControlProvenance": [
                {
                    "repositoryUri": "https://github.com/acme/app",
                    "branch": "main",
                    "revisionId": "abc123",
                }
            ],
            "results": [
                {
                    "ruleId": "py/sql-injection",
                    "ruleIndex": 0,
                    "kind": "fail",
                    "level": "error",
                    "message": {"id": "default", "arguments": ["name", "request"]},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"index": 0},
                                "region": {
                                    "startLine": 12,
                                    "endLine": 13,
                                    "startColumn": 5,
                                    "endColumn": 9,
                                    "snippet": {"text": "cursor.execute(q)"},
                                },
                                "contextRegion": {"snippet": {"text": "q = name"}},
                            }
                        },
                        {"physicalLocation": {"artifactLocation": {"uri": "file:///C:/x.py"}}},
                    ],
                    "fingerprints": {"primary": "f" * 80},
                    "partialFingerprints": {"primaryLocationLineHash": "9cbc:1", "n": 3},
                    "suppressions": [{"kind": "inSource", "status": "accepted"}],
                    "codeFlows": [
                        {
                            "threadFlows": [
                                {
                                    "locations": [
                                        {
                                            "location": {
                                                "message": {"text": "source"},
                                                "physicalLocation": {
                                                    "artifactLocation": {"uri": "app/web.py"},
                                                    "region": {"startLine": 3},
                                                },
                                            }
                                        }
                                    ]
                                }
                            ]
                        }
                    ],
                    "baselineState": "new",
                    "properties": {"security-severity": 9.1, "tags": ["x"], "cwe": "CWE-89: SQL"},
                },
                {
                    "rule": {"id": "ext/rule", "index": 0, "toolComponent": {"index": 0}},
                    "message": {"markdown": "from an extension"},
                },
                {"ruleId": "py/sql-injection", "kind": "pass", "message": {"text": "ok"}},
            ],
        }
    ],
}
SEEDS = {"ris/seed": RIS_SEED, "flat/seed": FLAT_SEED, "sarif/seed": SARIF_SEED}


@cache
def _raw(relative: str) -> bytes:
    return (DATA / relative).read_bytes()


def raw_of(relative: str) -> bytes:
    """The bytes of a real report or seed, as an agent would send them."""
    return json.dumps(SEEDS[relative]).encode() if relative in SEEDS else _raw(relative)


def is_markup(relative: str) -> bool:
    return relative.endswith(".xml")


def load(relative: str) -> tuple[Any, bool]:
    """A fresh decoded copy of a seed or real report, and whether it is JSON lines.

    Decoding again each time is the cheap deep copy: the tests mutate what they get. An
    XML report (CycloneDX) is given in the JSON shape its parser reads it into; the XML
    itself is mutated by `test_parser_properties.TestMutatedXmlReports`.
    """
    if relative in SEEDS:
        return json.loads(json.dumps(SEEDS[relative])), False
    if is_markup(relative):
        return cyclonedx.xml_document(_raw(relative)), False
    text = _raw(relative).decode("utf-8")
    try:
        return json.loads(text), False
    except ValueError:
        return [json.loads(line) for line in text.splitlines() if line.strip()], True


def dump(document: Any, json_lines: bool) -> bytes:
    if json_lines and isinstance(document, list):
        return "\n".join(json.dumps(record) for record in document).encode()
    return json.dumps(document).encode()


def seeds() -> list[str]:
    return [*REPORTS, *SEEDS]


@cache
def _vocabulary() -> tuple[str, ...]:
    """Every object key of the real reports and seeds: arbitrary JSON built from these
    reaches past the parsers' first `get`."""
    keys: set[str] = set()
    stack: list[Any] = [load(name)[0] for name in seeds()]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            keys.update(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return tuple(sorted(keys))


# Values that pass a parser's type check yet break naive handling: blank text, digits
# `int()` refuses ("²"), integers beyond any float, lone surrogates (JSON "\\ud800"),
# negative indexes; and those beyond a column's range, which the validation boundary
# (ingest/boundary.py) must make fit: NaN and infinities (Python's json reads and
# writes them as bare `NaN`/`Infinity`), a line of 2**40, a confidence of 70,000, a
# score of 1e300, times in year 9999 or before year 1 in UTC. `SWEEP` is the short
# list tried at every place of every report.
BOUNDARY: list[Any] = [
    math.nan,
    math.inf,
    -math.inf,
    2**40,
    70_000,
    1e300,
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00+14:00",
]
SWEEP: list[Any] = [
    *BOUNDARY,
    "",
    " ",
    " \t\n ",
    "²",
    "a\ud800",
    "x" * 5000,
    10**400,
    -1000,
    -1,
    0,
    1e308,
    None,
    True,
    [],
    {},
]
AWKWARD = st.sampled_from(
    [
        *SWEEP,
        "\n",
        "\x00",
        "CWE-²",
        "cwe-٣",
        "1e400",
        "-1",
        "0",
        "NaN",
        "Infinity",
        "critical",
        "HIGH",
        "warning",
        "UNDEFINED",
        "2.1.0",
        "CycloneDX",
        "file:///",
        "%SRCROOT%",
        "http://[::1",
        "https://example.com:99999/",
        "pkg:",
        "2024-02-30T00:00:00Z",
        "2024-01-01T00:00:00",
        -(10**400),
        2**63,
        -0.0,
        0.05,
        10.5,
    ]
)
TEXT = st.text() | st.text(st.characters(codec=None, categories=["Cs", "Zs", "Nd", "No"]))
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities included: Python's json reads and writes them
    | TEXT
    | AWKWARD
)


@cache  # a recursive strategy is costly to build and hypothesis does not cache this one
def json_values(*, vocabulary: bool = True, max_leaves: int = 25) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(_vocabulary()) | st.text() if vocabulary else st.text()
    return st.recursive(
        SCALARS,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=6)
        ),
        max_leaves=max_leaves,
    )


def replacement_for(original: Any) -> st.SearchStrategy[Any]:
    """Anything at all, or (more often) a near miss of the same type as `original`: the
    near misses get past a parser's type checks to the code that uses the value."""
    if isinstance(original, str):
        near = (
            TEXT
            | AWKWARD
            | st.sampled_from([original.upper(), f" {original}\n", original[: len(original) // 2]])
        )
    elif isinstance(original, bool):
        near = st.booleans() | st.none()
    elif isinstance(original, int | float):
        near = st.integers() | st.floats() | AWKWARD
    elif isinstance(original, list) and original:
        near = st.lists(st.sampled_from(original), max_size=4)
    elif isinstance(original, dict) and original:
        near = st.sets(st.sampled_from(sorted(original))).map(
            lambda dropped: {k: v for k, v in original.items() if k not in dropped}
        )
    else:
        near = SCALARS
    return st.one_of(near, near, json_values())
