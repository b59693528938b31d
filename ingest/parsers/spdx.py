"""SPDX 2.x JSON documents (`spdxVersion: SPDX-2.…`): a dependency snapshot, no findings.

Decisions a caller must know:

* Every package is a dependency except the ones the document DESCRIBES (its
  `documentDescribes`, or `DESCRIBES`/`DESCRIBED_BY` relationships with the document):
  those are the report's targets.
* Package data: `versionInfo`; the `purl` external reference; licenses = concluded then
  declared, without NOASSERTION/NONE; ecosystem = the purl type; type from
  `primaryPackagePurpose` (library when absent, `other` for files, containers…).
* Graph: `DEPENDS_ON`, `CONTAINS` and their inverses (`*DEPENDENCY_OF`, `CONTAINED_BY`)
  give `depends_on`, as purls (an edge to a package without one is dropped).
  Relationship: `direct` when the described package has an edge to it, `transitive`
  otherwise, `unknown` when no described package has edges.
* SECURITY external references (advisories, fixes) are not findings: an advisory link
  asserts no severity or affected version, and dependencies have no place to keep them.
* Tool: the first `Tool:` creator, `syft-1.50.0` read as syft 1.50.0; else "spdx".
"""

from __future__ import annotations

import re
from typing import Any

from ingest.parsers import shape
from protocol.report import Report, ReportDependency, ReportError, ReportTarget

FORMAT = "spdx"

DOCUMENT_ID = "SPDXRef-DOCUMENT"
_VERSION = re.compile(r"SPDX-2\.\d+")
_FORWARD = {"DEPENDS_ON", "CONTAINS"}
_BACKWARD = {"CONTAINED_BY", "DEPENDENCY_OF"}
_TYPES = {"LIBRARY": "library", "APPLICATION": "application", "FRAMEWORK": "framework"}
_NO_LICENSE = {"", "NOASSERTION", "NONE"}
_TOOL = re.compile(r"(?P<name>.+?)[-@ ]v?(?P<version>\d[\w.+-]*)")


def recognizes(document: object) -> bool:
    return (
        isinstance(document, dict)
        and isinstance(document.get("spdxVersion"), str)
        and document["spdxVersion"].startswith("SPDX-")
    )


def parse(raw: bytes | str) -> Report:
    return from_document(shape.decode_json(raw))


def from_document(document: Any) -> Report:
    document = shape.obj(document, "body")
    version = shape.text(document.get("spdxVersion"), "spdxVersion", required=True)
    if not _VERSION.fullmatch(version):
        raise ReportError(
            f"{version!r} is not supported; only SPDX 2.x JSON is read", path="spdxVersion"
        )
    creation = shape.obj(document.get("creationInfo"), "creationInfo", required=False)
    tool_name, tool_version = _tool(creation.get("creators"))
    report = Report(tool_name=tool_name or FORMAT, tool_version=tool_version)
    report.metadata = {
        key: document[key] for key in ("name", "documentNamespace") if _str(document.get(key))
    }

    packages = []
    for i, item in enumerate(shape.array(document.get("packages"), "packages")):
        package = shape.obj(item, f"packages[{i}]")
        packages.append((package, f"packages[{i}]"))
    by_id = {_str(p.get("SPDXID")): p for p, _ in packages if _str(p.get("SPDXID"))}
    edges, described = _relationships(document)
    described += shape.array(document.get("documentDescribes"), "documentDescribes")
    described_ids = [d for d in dict.fromkeys(described) if isinstance(d, str) and d in by_id]

    for spdx_id in described_ids:
        package = by_id[spdx_id]
        report.targets.append(
            ReportTarget(
                identifier=_str(package.get("name")) or spdx_id,
                name=_str(package.get("name")),
                metadata={
                    key: value
                    for key, value in (
                        ("spdx_id", spdx_id),
                        ("version", _str(package.get("versionInfo"))),
                        ("purl", _purl(package)),
                    )
                    if value
                },
            )
        )
    direct = {child for root in described_ids for child in edges.get(root, [])}
    has_graph = any(edges.get(root) for root in described_ids)
    for package, path in packages:
        spdx_id = _str(package.get("SPDXID"))
        if spdx_id in described_ids:
            continue
        dependency = _dependency(package, path)
        children = [by_id[c] for c in edges.get(spdx_id, []) if c in by_id]
        dependency.depends_on = [purl for c in children if (purl := _purl(c))]
        if has_graph:
            dependency.relationship = "direct" if spdx_id in direct else "transitive"
        report.dependencies.append(dependency)
    return report


def _relationships(document: dict) -> tuple[dict[str, list[str]], list[str]]:
    """(edges parent → children, ids the document describes)."""
    edges: dict[str, list[str]] = {}
    described: list[str] = []
    for i, item in enumerate(shape.array(document.get("relationships"), "relationships")):
        where = f"relationships[{i}]"
        relation = shape.obj(item, where)
        kind = shape.text(relation.get("relationshipType"), f"{where}.relationshipType")
        left = shape.text(relation.get("spdxElementId"), f"{where}.spdxElementId")
        right = shape.text(relation.get("relatedSpdxElement"), f"{where}.relatedSpdxElement")
        if kind == "DESCRIBES" and left == DOCUMENT_ID:
            described.append(right)
        elif kind == "DESCRIBED_BY" and right == DOCUMENT_ID:
            described.append(left)
        elif kind in _FORWARD:
            edges.setdefault(left, []).append(right)
        elif kind in _BACKWARD or kind.endswith("_DEPENDENCY_OF"):
            edges.setdefault(right, []).append(left)
    return {parent: list(dict.fromkeys(kids)) for parent, kids in edges.items()}, described


def _dependency(package: dict, path: str) -> ReportDependency:
    purl = _purl(package)
    purpose = _str(package.get("primaryPackagePurpose")).upper()
    return ReportDependency(
        name=shape.text(package.get("name"), f"{path}.name", required=True, max_length=500),
        version=shape.text(package.get("versionInfo"), f"{path}.versionInfo", max_length=200),
        ecosystem=_ecosystem(purl),
        purl=purl,
        type=_TYPES.get(purpose, "other") if purpose else "library",
        licenses=list(
            dict.fromkeys(
                license_.strip()
                for key in ("licenseConcluded", "licenseDeclared")
                if (license_ := _str(package.get(key))).strip() not in _NO_LICENSE
            )
        ),
    )


def _purl(package: dict) -> str:
    refs = package.get("externalRefs")
    for ref in refs if isinstance(refs, list) else []:
        is_purl = isinstance(ref, dict) and ref.get("referenceType") == "purl"
        if is_purl and (locator := _str(ref.get("referenceLocator"))):
            return locator
    return ""


def _ecosystem(purl: str) -> str:
    if not purl.startswith("pkg:"):
        return ""
    return purl[4:].lstrip("/").split("/", 1)[0].split("@", 1)[0].lower()


def _tool(creators: Any) -> tuple[str, str]:
    for creator in creators if isinstance(creators, list) else []:
        if isinstance(creator, str) and creator.startswith("Tool:"):
            tool = creator.removeprefix("Tool:").strip()
            if match := _TOOL.fullmatch(tool):
                return match["name"], match["version"]
            return tool, ""
    return "", ""


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
