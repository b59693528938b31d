"""CycloneDX SBOMs, JSON (`bomFormat: CycloneDX`) or XML (`<bom xmlns="http://cyclonedx.org/
schema/bom/1.x">`), any 1.x spec: dependencies and, when the BOM carries them (grype, OSS
Index, Dependency-Track, Snyk exports), vulnerabilities.

Decisions a caller must know:

* XML is read into the JSON document's shape (lists for the plural elements, attributes
  and child elements as keys, `<property name>` as {name, value}, nested `<dependency>`
  as `dependsOn`), then read by the same code, so both give the same report and name a
  fault at the same place (`components[1].name`). The XML is parsed with the standard
  library, and a DTD or entity declaration is refused first (`markup.py`).

* Every component (nested ones included) is a dependency; `metadata.component` is the
  thing described, not a dependency. It becomes the report's target only when it is an
  application or a container (a grype scan of a directory names a `file`).
* Names: a component's `group` is joined the way its ecosystem writes it
  (`org.apache:log4j-core` for Maven, `@angular/core` elsewhere). Ecosystem = the purl
  type (`pypi`, `maven`, `npm`…). Types other than library/application/framework are
  `other`.
* `depends_on` lists purls, as the dependency snapshot stores them; an edge to a
  component without a purl is dropped. Relationship: `direct` when the metadata
  component depends on it, `transitive` otherwise, `unknown` when the BOM has no graph
  for the metadata component.
* Each vulnerability yields one finding per affected component (`affects[].ref`).
  rule = the vulnerability id; cve = the id when it is a CVE, else the first CVE among
  `references`. Severity = the first rating's severity word, else the CVSS band of the
  best score; cvss = the best-method rating (v4, v3.1, v3, v2, then others). Fixed
  version: an `unaffected` version of the affected component, else grype's
  `fixed_versions` property. An `analysis.state` of false_positive or not_affected marks
  the finding `suppressed`.
* No tool fingerprint: the pipeline computes the sca formula (package, version, vuln id).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from findings.rules.severity import Severity, normalize_severity, severity_from_cvss
from ingest.parsers import shape
from ingest.parsers.markup import local_name, looks_like_xml, namespace, parse_xml
from protocol.report import Report, ReportDependency, ReportError, ReportFinding, ReportTarget

FORMAT = "cyclonedx"

_TYPES = {"library": "library", "application": "application", "framework": "framework"}
_TARGET_TYPES = {"application": "", "container": "container"}
_CVE = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)
# Best first: a newer CVSS version describes the flaw better than an older one.
_METHODS = ("CVSSv4", "CVSSv31", "CVSSv3", "CVSSv2")
_SUPPRESSING_STATES = {"false_positive", "not_affected"}

_XML_NAMESPACE = re.compile(r"http://cyclonedx\.org/schema/bom/(\d+\.\d+)")
_XML_ROOT = re.compile(
    r"<(?:[\w.-]+:)?bom\b[^>]*\sxmlns(?::[\w.-]+)?\s*=\s*[\"']http://cyclonedx\.org/schema/bom/"
)
_XML_HEAD = 4096
# Elements whose children are the items of a JSON array (CycloneDX 1.0-1.6 XSD).
_XML_LISTS = frozenset(
    {
        "components",
        "services",
        "vulnerabilities",
        "references",
        "ratings",
        "cwes",
        "advisories",
        "affects",
        "versions",
        "responses",
        "hashes",
        "externalReferences",
        "authors",
        "individuals",
        "organizations",
        "contact",
        "tags",
        "endpoints",
        "data",
    }
)
# Deep enough for any real BOM; deeper is refused before anything recurses on it.
_XML_MAX_DEPTH = 64


def recognizes(document: object) -> bool:
    return isinstance(document, dict) and document.get("bomFormat") == "CycloneDX"


def recognizes_markup(text: str) -> bool:
    """An XML document whose root element is a CycloneDX `bom` (read from its start)."""
    return looks_like_xml(text) and _XML_ROOT.search(text[:_XML_HEAD]) is not None


def parse(raw: bytes | str) -> Report:
    if _is_markup(raw):
        return from_document(xml_document(raw))
    return from_document(shape.decode_json(raw))


def from_document(document: Any) -> Report:
    document = shape.obj(document, "body")
    if document.get("bomFormat") != "CycloneDX":
        raise ReportError("must be 'CycloneDX'", path="bomFormat")
    metadata = shape.obj(document.get("metadata"), "metadata", required=False)
    tool_name, tool_version = _tool(metadata.get("tools"))
    report = Report(tool_name=tool_name or FORMAT, tool_version=tool_version)
    report.metadata = {
        key: document[key] for key in ("serialNumber", "specVersion") if key in document
    }

    root = shape.obj(metadata.get("component"), "metadata.component", required=False)
    root_ref = _str(root.get("bom-ref"))
    if (kind := _str(root.get("type"))) in _TARGET_TYPES and _str(root.get("name")):
        report.targets.append(
            ReportTarget(
                identifier=root["name"],
                type=_TARGET_TYPES[kind],
                name=root["name"],
                metadata={k: root[k] for k in ("version", "purl", "bom-ref") if _str(root.get(k))},
            )
        )

    components = list(_components(document.get("components"), "components"))
    by_ref = {_str(c.get("bom-ref")): (c, p) for c, p in components if _str(c.get("bom-ref"))}
    graph = _graph(document.get("dependencies"))
    roots_edges = graph.get(root_ref) if root_ref else None
    for component, path in components:
        ref = _str(component.get("bom-ref"))
        if ref and ref == root_ref:
            continue
        dependency = _dependency(component, path)
        children = [by_ref[child][0] for child in graph.get(ref, []) if child in by_ref]
        dependency.depends_on = [c["purl"] for c in children if _str(c.get("purl"))]
        if roots_edges is not None:
            dependency.relationship = "direct" if ref in roots_edges else "transitive"
        report.dependencies.append(dependency)

    vulnerabilities = shape.array(document.get("vulnerabilities"), "vulnerabilities")
    for i, item in enumerate(vulnerabilities):
        report.findings.extend(_findings(item, f"vulnerabilities[{i}]", by_ref))
    return report


def _tool(tools: Any) -> tuple[str, str]:
    # 1.4 and earlier: a list of tools; 1.5 on: {"components": [...], "services": [...]}.
    if isinstance(tools, dict):
        tools = tools.get("components") or tools.get("services")
    if isinstance(tools, list) and tools and isinstance(tools[0], dict):
        return _str(tools[0].get("name")), _str(tools[0].get("version"))
    return "", ""


def _components(value: Any, path: str):
    for i, item in enumerate(shape.array(value, path)):
        where = f"{path}[{i}]"
        component = shape.obj(item, where)
        yield component, where
        yield from _components(component.get("components"), f"{where}.components")


def _graph(value: Any) -> dict[str, list[str]]:
    graph: dict[str, list[str]] = {}
    for i, item in enumerate(shape.array(value, "dependencies")):
        entry = shape.obj(item, f"dependencies[{i}]")
        ref = shape.text(entry.get("ref"), f"dependencies[{i}].ref", required=True)
        children = shape.array(entry.get("dependsOn"), f"dependencies[{i}].dependsOn")
        graph.setdefault(ref, []).extend(c for c in children if isinstance(c, str))
    return graph


def _dependency(component: dict, path: str) -> ReportDependency:
    name = shape.text(component.get("name"), f"{path}.name", required=True, max_length=500)
    purl = shape.text(component.get("purl"), f"{path}.purl", max_length=1000)
    ecosystem = _ecosystem(purl)
    return ReportDependency(
        name=_full_name(_str(component.get("group")), name, ecosystem),
        version=shape.text(component.get("version"), f"{path}.version", max_length=200),
        ecosystem=ecosystem,
        purl=purl,
        type=_TYPES.get(_str(component.get("type")), "other"),
        licenses=_licenses(component.get("licenses"), f"{path}.licenses"),
    )


def _full_name(group: str, name: str, ecosystem: str) -> str:
    if not group:
        return name
    return f"{group}:{name}" if ecosystem in ("maven", "gradle") else f"{group}/{name}"


def _ecosystem(purl: str) -> str:
    if not purl.startswith("pkg:"):
        return ""
    return purl[4:].lstrip("/").split("/", 1)[0].split("@", 1)[0].lower()


def _licenses(value: Any, path: str) -> list[str]:
    found = []
    for i, item in enumerate(shape.array(value, path)):
        entry = shape.obj(item, f"{path}[{i}]")
        if expression := _str(entry.get("expression")):
            found.append(expression)
        elif isinstance(entry.get("license"), dict):
            license_ = entry["license"]
            if text := _str(license_.get("id")) or _str(license_.get("name")):
                found.append(text)
    return list(dict.fromkeys(found))


def _findings(item: Any, path: str, by_ref: dict[str, tuple[dict, str]]) -> list[ReportFinding]:
    vulnerability = shape.obj(item, path)
    vuln_id = shape.text(vulnerability.get("id"), f"{path}.id", max_length=200) or _str(
        vulnerability.get("bom-ref")
    )
    if not vuln_id:
        raise ReportError("is required", path=f"{path}.id")
    cve = _cve(vuln_id, vulnerability.get("references"), f"{path}.references")
    severity, score, vector = _rating(vulnerability.get("ratings"), f"{path}.ratings")
    cwes = shape.array(vulnerability.get("cwes"), f"{path}.cwes")
    description = _str(vulnerability.get("detail")) or _str(vulnerability.get("description"))
    cwe_ids = list(dict.fromkeys(shape.cwe(c, f"{path}.cwes[{k}]") for k, c in enumerate(cwes)))
    references = _references(vulnerability)
    analysis = shape.obj(vulnerability.get("analysis"), f"{path}.analysis", required=False)
    fixed = _grype_fixed(vulnerability.get("properties"))
    affects = shape.array(vulnerability.get("affects"), f"{path}.affects") or [None]
    findings = []
    for k, affected in enumerate(affects):
        name, version, purl, fixed_here = _affected(affected, f"{path}.affects[{k}]", by_ref)
        label = " ".join(part for part in (name, version) if part)
        finding = ReportFinding(
            rule_id=vuln_id,
            severity=severity,
            description=description,
            cve_id=cve,
            cwe_ids=cwe_ids,
            cvss_score=score,
            cvss_vector=vector,
            references=references,
            title=f"{cve or vuln_id} in {label}" if label else (cve or vuln_id),
            package_name=name,
            package_version=version,
            fixed_version=fixed_here or fixed,
            suppressed=_str(analysis.get("state")) in _SUPPRESSING_STATES,
        )
        details = {"purl": purl, "source": _source_name(vulnerability)}
        finding.metadata = {"vulnerability": {k: v for k, v in details.items() if v}}
        if analysis:
            finding.metadata["analysis"] = analysis
        findings.append(finding)
    return findings


def _affected(
    value: Any, path: str, by_ref: dict[str, tuple[dict, str]]
) -> tuple[str, str, str, str]:
    """(package name, version, purl, first unaffected version) of one `affects` entry."""
    if value is None:
        return "", "", "", ""
    entry = shape.obj(value, path)
    ref = shape.text(entry.get("ref"), f"{path}.ref", required=True, max_length=2000)
    fixed = ""
    for k, item in enumerate(shape.array(entry.get("versions"), f"{path}.versions")):
        state = shape.obj(item, f"{path}.versions[{k}]")
        if state.get("status") == "unaffected" and (unaffected := _str(state.get("version"))):
            fixed = fixed or unaffected
    if ref in by_ref:
        dependency = _dependency(*by_ref[ref])
        return dependency.name, dependency.version, dependency.purl, fixed
    if ref.startswith("pkg:"):
        # A reference to a component the BOM does not list: its purl still names it.
        body = ref.split("?", 1)[0].split("#", 1)[0]
        name, _, version = body.rsplit("/", 1)[-1].partition("@")
        return name, version, ref, fixed
    return "", "", "", fixed


def _cve(vuln_id: str, references: Any, path: str) -> str:
    if _CVE.fullmatch(vuln_id):
        return vuln_id.upper()
    for k, item in enumerate(shape.array(references, path)):
        reference = shape.obj(item, f"{path}[{k}]")
        if _CVE.fullmatch(candidate := _str(reference.get("id"))):
            return candidate.upper()
    return ""


def _rating(value: Any, path: str) -> tuple[Severity, float | None, str]:
    word: Severity | None = None
    best: tuple[int, float, str] | None = None
    for k, item in enumerate(shape.array(value, path)):
        rating = shape.obj(item, f"{path}[{k}]")
        word = word or normalize_severity(_str(rating.get("severity")))
        score = shape.number(rating.get("score"), f"{path}[{k}].score", minimum=0, maximum=10)
        if score is None:
            continue
        method = _str(rating.get("method"))
        rank = _METHODS.index(method) if method in _METHODS else len(_METHODS)
        if best is None or rank < best[0]:
            best = (rank, score, _str(rating.get("vector")))
    score = best[1] if best else None
    severity = word or (severity_from_cvss(score) if score is not None else Severity.INFO)
    return severity, score, best[2] if best else ""


def _references(vulnerability: dict) -> list[str]:
    source = vulnerability.get("source")
    urls = [_str(source.get("url"))] if isinstance(source, dict) else []
    for advisory in _dicts(vulnerability.get("advisories")):
        urls.append(_str(advisory.get("url")))
    for reference in _dicts(vulnerability.get("references")):
        if isinstance(reference.get("source"), dict):
            urls.append(_str(reference["source"].get("url")))
    return list(dict.fromkeys(url for url in urls if url))


def _grype_fixed(properties: Any) -> str:
    for item in _dicts(properties):
        if _str(item.get("name")).endswith(":fixed_versions"):
            return _str(item.get("value")).split(",")[0].strip()
    return ""


def _source_name(vulnerability: dict) -> str:
    source = vulnerability.get("source")
    return _str(source.get("name")) if isinstance(source, dict) else ""


def _dicts(value: Any) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


# ---- XML -----------------------------------------------------------------------------


def _is_markup(raw: bytes | str) -> bool:
    if isinstance(raw, str):
        return looks_like_xml(raw)
    head = bytes(raw[:64]) if isinstance(raw, bytes | bytearray) else b""
    # A BOM, whitespace and the zero bytes of UTF-16/32 come before "<"; JSON never has "<".
    return head.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n").startswith(b"<")


def xml_document(raw: bytes | str) -> dict[str, Any]:
    """An XML BOM in the shape of the JSON one, which `from_document` reads."""
    root = parse_xml(raw)
    version = _XML_NAMESPACE.fullmatch(namespace(root.tag))
    if local_name(root.tag) != "bom" or version is None:
        raise ReportError("the root element must be a CycloneDX <bom>", path="body")
    converted = _xml_value(root, 0)
    document = converted if isinstance(converted, dict) else {}
    return {**document, "bomFormat": "CycloneDX", "specVersion": version.group(1)}


def _xml_value(element: ET.Element, depth: int) -> Any:
    if depth > _XML_MAX_DEPTH:
        raise ReportError(f"is nested deeper than {_XML_MAX_DEPTH} elements", path="body")
    name = local_name(element.tag)
    children = [child for child in element if local_name(child.tag)]
    if name == "licenses":  # [{"license": {...}}, {"expression": "..."}]
        return [{local_name(c.tag): _xml_value(c, depth + 1)} for c in children]
    if name == "properties":
        return [{"name": c.get("name", ""), "value": _xml_text(c)} for c in children]
    if name == "dependencies":
        return [_xml_dependency(c) for c in children if local_name(c.tag) == "dependency"]
    if name == "tools" and any(local_name(c.tag) != "tool" for c in children):
        # 1.5 on: <tools><components>...</components><services>...</services></tools>.
        return {local_name(c.tag): _xml_value(c, depth + 1) for c in children}
    if name in _XML_LISTS or name == "tools":
        return [_xml_value(child, depth + 1) for child in children]
    if not children and not element.attrib:
        return _xml_number(_xml_text(element)) if name == "score" else _xml_text(element)
    value: dict[str, Any] = {local_name(key): item for key, item in element.attrib.items()}
    if not children and (text := _xml_text(element)):
        value["content"] = text  # <hash alg="SHA-256">…</hash>
    for child in children:
        # A repeated element outside a list keeps its first value, as a JSON key has one.
        if (key := local_name(child.tag)) not in value:
            value[key] = _xml_value(child, depth + 1)
    return value


def _xml_dependency(element: ET.Element) -> dict[str, Any]:
    entry: dict[str, Any] = {"ref": element.get("ref")} if element.get("ref") is not None else {}
    entry["dependsOn"] = [
        child.get("ref") for child in element if local_name(child.tag) == "dependency"
    ]
    return entry


def _xml_text(element: ET.Element) -> str:
    return (element.text or "").strip()


def _xml_number(text: str) -> float | str:
    # A score that is not a number stays text, so that the JSON check names its place.
    try:
        return float(text)
    except ValueError:
        return text
