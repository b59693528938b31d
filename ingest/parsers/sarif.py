"""SARIF 2.1.0 logs (CodeQL, njsscan, ShiftLeft scan, anything that writes SARIF).

Every run is read; each result is one finding, tagged with its run's tool. A result's
rule is found by `ruleIndex` (or `rule.index`, in `tool.extensions` when
`rule.toolComponent` says so), else by `ruleId`.

Decisions a caller must know:

* Level: the result's `level`, else its rule's `defaultConfiguration.level`, else
  `warning` (`none` for results whose `kind` is not `fail`). Results of kind `pass` or
  `notApplicable` are not problems and are skipped.
* Severity: a `security-severity` score (the result's property, else the rule's) sets
  `cvss_score` and picks the severity with the CodeQL bands; otherwise the level maps as
  in the reference SDK (error high, warning medium, note low, none info). Semgrep's and
  bandit's JSON parsers read their rules to the same severity (one per rule, any format).
* Secrets (`credentials.py`): a result of a secret scanner (gitleaks writes the secret
  itself as the snippet), of a hard-coded credential CWE (798, 259, 321) or of a
  secret-detection rule (`…secrets…` rule ids, a `secrets` tag, checkov's `CKV_SECRET_*`)
  is a secret finding, as from the tools' JSON: it keeps no snippet, the values its
  message quotes are masked, and its fingerprint is the one it had as a vulnerability.
* Paths: `file://` is dropped, then any prefix naming a base the log defines
  (`originalUriBaseIds`) or an invocation's working directory, so that
  `file:///home/ci/repo/app.py` run from `/home/ci/repo` is stored as `app.py`, as a
  relative `%SRCROOT%` URI is. Windows drive paths lose the URI's leading slash.
* The first location is the finding's; further ones go to `metadata.other_locations`.
* Fingerprint: the first `fingerprints` value (sha256 when over 64 bytes);
  `partialFingerprints` are copied. Without `fingerprints` the pipeline computes the
  sast formula from path, rule and lines (`fingerprint_of`).
* A suppression whose status is not `rejected` marks the finding `suppressed` (stored
  as a false positive).
* `versionControlProvenance` gives one repository target per distinct repository (the
  run's findings point at it) and the report's branch (first run that names one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from findings.rules.fingerprint import sarif_fingerprint
from findings.rules.severity import (
    Severity,
    security_severity_score,
    severity_from_codeql,
    severity_from_sarif_level,
)
from ingest.parsers import shape
from ingest.parsers.credentials import (
    as_secret,
    conceal,
    finds_secret,
    is_secrets_tool,
    quoted_values,
)
from protocol.report import Report, ReportError, ReportFinding, ReportTarget

FORMAT = "sarif"
SARIF_VERSION = "2.1.0"

_PRECISION_CONFIDENCE = {"very-high": 95, "high": 80, "medium": 60, "low": 40}
_NOT_PROBLEMS = {"pass", "notApplicable"}
_CWE_TAG = re.compile(r"^(?:external/cwe/)?cwe[-_]?0*(\d+)\b", re.IGNORECASE)
_CWE_TEXT = re.compile(r"\bcwe[-_ ]?0*(\d+)\b", re.IGNORECASE)
_URI_TOKEN = re.compile(r"^%[A-Za-z0-9_]+%[/\\]?")
_DRIVE = re.compile(r"^/[A-Za-z]:[/\\]")
_MAX_FLOW_STEPS = 50


def recognizes(document: object) -> bool:
    if not isinstance(document, dict) or not isinstance(document.get("runs"), list):
        return False
    schema = document.get("$schema")
    return isinstance(document.get("version"), str) or (
        isinstance(schema, str) and "sarif" in schema.lower()
    )


def parse(raw: bytes | str) -> Report:
    return from_document(shape.decode_json(raw))


def from_document(document: Any) -> Report:
    document = shape.obj(document, "body")
    version = shape.text(document.get("version"), "version", required=True, max_length=32)
    if version != SARIF_VERSION:
        raise ReportError(
            f"SARIF version {version!r} is not supported; only {SARIF_VERSION} is read",
            path="version",
        )
    runs = shape.array(document.get("runs"), "runs", required=True)
    report = Report(tool_name=FORMAT)
    skipped = 0
    for i, item in enumerate(runs):
        run = _Run.read(item, f"runs[{i}]")
        if i == 0:
            report.tool_name, report.tool_version = run.tool_name, run.tool_version
        target_index = _target_for(run, report)
        results = shape.array(run.raw.get("results"), f"runs[{i}].results")
        for j, result in enumerate(results):
            finding = _finding(result, f"runs[{i}].results[{j}]", run)
            if finding is None:
                skipped += 1
                continue
            finding.target_index = target_index
            report.findings.append(finding)
    if skipped:
        report.warnings.append(f"{skipped} result(s) of kind pass or notApplicable skipped")
    report.metadata["sarif_runs"] = len(runs)
    return report


@dataclass(slots=True)
class _Run:
    raw: dict
    path: str
    tool_name: str
    tool_version: str
    # Rules per tool component: index 0 is the driver, i + 1 the i-th extension.
    rules: list[list[dict]] = field(default_factory=list)
    rules_by_id: dict[str, dict] = field(default_factory=dict)
    roots: list[str] = field(default_factory=list)
    artifacts: list[Any] = field(default_factory=list)

    @classmethod
    def read(cls, item: Any, path: str) -> _Run:
        run = shape.obj(item, path)
        tool = shape.obj(run.get("tool"), f"{path}.tool")
        driver = shape.obj(tool.get("driver"), f"{path}.tool.driver")
        name = shape.text(driver.get("name"), f"{path}.tool.driver.name", required=True)
        version = shape.text(driver.get("version"), f"{path}.tool.driver.version") or (
            shape.text(driver.get("semanticVersion"), f"{path}.tool.driver.semanticVersion")
        )
        components = [driver] + [
            shape.obj(ext, f"{path}.tool.extensions[{k}]")
            for k, ext in enumerate(shape.array(tool.get("extensions"), f"{path}.tool.extensions"))
        ]
        new = cls(raw=run, path=path, tool_name=name, tool_version=version)
        for c, component in enumerate(components):
            where = f"{path}.tool.driver" if c == 0 else f"{path}.tool.extensions[{c - 1}]"
            rules = shape.array(component.get("rules"), f"{where}.rules")
            for r, rule in enumerate(rules):
                shape.obj(rule, f"{where}.rules[{r}]")
                if isinstance(rule.get("id"), str):
                    new.rules_by_id.setdefault(rule["id"], rule)
            new.rules.append(rules)
        new.roots = _roots(run, path)
        new.artifacts = shape.array(run.get("artifacts"), f"{path}.artifacts")
        return new


def _roots(run: dict, path: str) -> list[str]:
    """Absolute directories that paths are made relative to, longest first."""
    roots = []
    bases = shape.obj(run.get("originalUriBaseIds"), f"{path}.originalUriBaseIds", required=False)
    for base in bases.values():
        if isinstance(base, dict) and isinstance(base.get("uri"), str):
            roots.append(base["uri"])
    for invocation in shape.array(run.get("invocations"), f"{path}.invocations"):
        directory = invocation.get("workingDirectory") if isinstance(invocation, dict) else None
        if isinstance(directory, dict) and isinstance(directory.get("uri"), str):
            roots.append(directory["uri"])
    cleaned = {_file_path(root).rstrip("/") for root in roots}
    return sorted((root for root in cleaned if root), key=len, reverse=True)


def _target_for(run: _Run, report: Report) -> int | None:
    provenance = shape.array(
        run.raw.get("versionControlProvenance"), f"{run.path}.versionControlProvenance"
    )
    for k, item in enumerate(provenance):
        where = f"{run.path}.versionControlProvenance[{k}]"
        item = shape.obj(item, where)
        uri = shape.text(item.get("repositoryUri"), f"{where}.repositoryUri", max_length=1024)
        if not uri:
            continue
        branch = shape.text(item.get("branch"), f"{where}.branch", max_length=255)
        revision = shape.text(item.get("revisionId"), f"{where}.revisionId", max_length=255)
        if not report.branch and (branch or revision):
            report.branch = {"name": branch, "commit_sha": revision, "repository_url": uri}
        for index, target in enumerate(report.targets):
            if target.identifier == uri:
                return index
        report.targets.append(ReportTarget(identifier=uri, type="repository"))
        return len(report.targets) - 1
    return None


def _finding(item: Any, path: str, run: _Run) -> ReportFinding | None:
    result = shape.obj(item, path)
    kind = shape.text(result.get("kind"), f"{path}.kind", default="fail")
    if kind in _NOT_PROBLEMS:
        return None
    rule = _rule(result, path, run)
    rule_id = shape.text(result.get("ruleId"), f"{path}.ruleId", max_length=1000)
    if not rule_id:
        reference = shape.obj(result.get("rule"), f"{path}.rule", required=False)
        rule_id = shape.text(reference.get("id"), f"{path}.rule.id") or _str(rule.get("id"))

    rule_props = rule.get("properties")
    if not isinstance(rule_props, dict):
        rule_props = {}
    props = shape.obj(result.get("properties"), f"{path}.properties", required=False)
    configuration = rule.get("defaultConfiguration")
    default_level = configuration.get("level") if isinstance(configuration, dict) else None
    level = (
        shape.text(result.get("level"), f"{path}.level")
        or _str(default_level)
        or ("warning" if kind == "fail" else "none")
    )
    score = _score(props.get("security-severity"))
    if score is None:
        score = _score(rule_props.get("security-severity"))
    severity: Severity = (
        severity_from_sarif_level(level) if score is None else severity_from_codeql(score, level)
    )
    tags = _strings(rule_props.get("tags")) + _strings(props.get("tags"))

    finding = ReportFinding(
        rule_id=rule_id,
        title=_message(result, path, rule) or _text_of(rule.get("shortDescription")) or rule_id,
        severity=severity,
        description=(
            _text_of(rule.get("fullDescription"))
            or _text_of(rule.get("shortDescription"))
            or _text_of(rule.get("help"))
        ),
        rule_name=_rule_name(rule, rule_id),
        tool_name=run.tool_name,
        confidence=_PRECISION_CONFIDENCE.get(_str(rule_props.get("precision")).lower()),
        cvss_score=score,
        cwe_ids=_cwe_ids(tags, props.get("cwe")),
        references=[uri] if (uri := _str(rule.get("helpUri"))) else [],
        metadata={"level": level},
    )
    if tags:
        finding.metadata["tags"] = list(dict.fromkeys(tags))
    if props:
        finding.metadata["properties"] = props
    if baseline := _str(result.get("baselineState")):
        finding.metadata["baseline_state"] = baseline
    _locate(finding, result, path, run)
    _fingerprints(finding, result, path)
    _suppression(finding, result, path)
    _code_flows(finding, result, path, run)
    if finds_secret(run.tool_name, rule_id, finding.cwe_ids, tags):
        # The line holds the credential (gitleaks' snippet is the secret itself), and
        # bandit quotes it in the message: as the tools' JSON parsers.
        values = quoted_values(finding.title)
        if is_secrets_tool(run.tool_name):
            values.append(finding.snippet)
        finding.snippet = ""
        as_secret(finding, values)
    return conceal(finding)


def _rule(result: dict, path: str, run: _Run) -> dict:
    reference = shape.obj(result.get("rule"), f"{path}.rule", required=False)
    component = 0
    tool_component = reference.get("toolComponent")
    at = tool_component.get("index") if isinstance(tool_component, dict) else None
    # SARIF's -1 (any negative) means "no index", as for ruleIndex below.
    if isinstance(at, int) and not isinstance(at, bool) and at >= 0:
        component = at + 1
    index = result.get("ruleIndex", reference.get("index"))
    index_path = f"{path}.ruleIndex" if "ruleIndex" in result else f"{path}.rule.index"
    index = shape.integer(index, index_path, minimum=None)
    if index is not None and index >= 0:
        rules = run.rules[component] if component < len(run.rules) else []
        if index >= len(rules):
            raise ReportError(f"no rule {index} in the tool's {len(rules)} rules", path=index_path)
        return rules[index]
    rule_id = result.get("ruleId") or reference.get("id")
    return run.rules_by_id.get(rule_id, {}) if isinstance(rule_id, str) else {}


def _rule_name(rule: dict, rule_id: str) -> str:
    name = _str(rule.get("name"))
    # CodeQL repeats the id as the name; its short description is the readable one.
    if not name or name == rule_id:
        return _text_of(rule.get("shortDescription")) or name
    return name


def _message(result: dict, path: str, rule: dict) -> str:
    message = shape.obj(result.get("message"), f"{path}.message", required=False)
    if text := _str(message.get("text")) or _str(message.get("markdown")):
        return text
    # A message may be a template from the rule's messageStrings, filled with arguments.
    strings, key = rule.get("messageStrings"), message.get("id")
    template = strings.get(key) if isinstance(strings, dict) and isinstance(key, str) else None
    text = _text_of(template)
    for n, argument in enumerate(_strings(message.get("arguments"))):
        text = text.replace(f"{{{n}}}", argument)
    return text


def _locate(finding: ReportFinding, result: dict, path: str, run: _Run) -> None:
    locations = shape.array(result.get("locations"), f"{path}.locations")
    found = []
    for k, location in enumerate(locations):
        where = f"{path}.locations[{k}]"
        spot = _physical(shape.obj(location, where), where, run)
        if spot:
            found.append(spot)
    if not found:
        return
    first = found[0]
    finding.file_path = first["path"]
    finding.start_line = first.get("start_line")
    finding.end_line = first.get("end_line")
    finding.start_column = first.get("start_column")
    finding.end_column = first.get("end_column")
    finding.snippet = first.get("snippet", "")
    if len(found) > 1:
        finding.metadata["other_locations"] = [
            {key: spot[key] for key in ("path", "start_line") if spot.get(key) is not None}
            for spot in found[1:]
        ]


def _physical(location: dict, path: str, run: _Run) -> dict[str, Any] | None:
    physical = shape.obj(
        location.get("physicalLocation"), f"{path}.physicalLocation", required=False
    )
    if not physical:
        return None
    where = f"{path}.physicalLocation"
    artifact = shape.obj(
        physical.get("artifactLocation"), f"{where}.artifactLocation", required=False
    )
    uri = shape.text(artifact.get("uri"), f"{where}.artifactLocation.uri", max_length=4096)
    index = shape.integer(artifact.get("index"), f"{where}.artifactLocation.index")
    if not uri and index is not None and index < len(run.artifacts):
        listed = run.artifacts[index]
        listed_location = listed.get("location") if isinstance(listed, dict) else None
        if isinstance(listed_location, dict):
            uri = _str(listed_location.get("uri"))
    spot: dict[str, Any] = {"path": _relative(_file_path(uri), run.roots)}
    region = shape.obj(physical.get("region"), f"{where}.region", required=False)
    for key, name in (
        ("startLine", "start_line"),
        ("endLine", "end_line"),
        ("startColumn", "start_column"),
        ("endColumn", "end_column"),
    ):
        value = shape.integer(region.get(key), f"{where}.region.{key}")
        if value:  # some tools write 0 for "no line"; SARIF counts from 1
            spot[name] = value
    if "start_line" in spot and "end_line" not in spot:
        spot["end_line"] = spot["start_line"]  # SARIF: endLine defaults to startLine
    context = shape.obj(physical.get("contextRegion"), f"{where}.contextRegion", required=False)
    snippet = _text_of(region.get("snippet")) or _text_of(context.get("snippet"))
    if snippet:
        spot["snippet"] = snippet
    return spot


def _file_path(uri: str) -> str:
    if uri.lower().startswith("file://"):
        uri = uri[len("file://") :]
        uri = uri.removeprefix("localhost")
        if _DRIVE.match(uri):
            uri = uri[1:]  # file:///C:/code/a.c names C:/code/a.c
    else:
        uri = _URI_TOKEN.sub("", uri)
    return unquote(uri)


def _relative(file_path: str, roots: list[str]) -> str:
    for root in roots:
        if file_path.startswith(root + "/"):
            return file_path[len(root) + 1 :]
    return file_path


def _fingerprints(finding: ReportFinding, result: dict, path: str) -> None:
    tool = shape.obj(result.get("fingerprints"), f"{path}.fingerprints", required=False)
    finding.fingerprint = sarif_fingerprint(tool) or ""
    partial = shape.obj(
        result.get("partialFingerprints"), f"{path}.partialFingerprints", required=False
    )
    finding.partial_fingerprints = {
        str(key): str(value) for key, value in partial.items() if isinstance(value, str | int)
    }


def _suppression(finding: ReportFinding, result: dict, path: str) -> None:
    suppressions = shape.array(result.get("suppressions"), f"{path}.suppressions")
    active = []
    for k, item in enumerate(suppressions):
        item = shape.obj(item, f"{path}.suppressions[{k}]")
        if item.get("status") != "rejected":
            active.append(item)
    if active:
        finding.suppressed = True
        first = active[0]
        finding.metadata["suppression"] = {
            key: first[key] for key in ("kind", "status", "justification") if key in first
        }


def _code_flows(finding: ReportFinding, result: dict, path: str, run: _Run) -> None:
    flows = shape.array(result.get("codeFlows"), f"{path}.codeFlows")
    if not flows:
        return
    steps: list[dict[str, Any]] = []
    first = shape.obj(flows[0], f"{path}.codeFlows[0]")
    threads = shape.array(first.get("threadFlows"), f"{path}.codeFlows[0].threadFlows")
    if threads:
        where = f"{path}.codeFlows[0].threadFlows[0]"
        thread = shape.obj(threads[0], where)
        for k, step in enumerate(shape.array(thread.get("locations"), f"{where}.locations")):
            step_path = f"{where}.locations[{k}]"
            step = shape.obj(step, step_path)
            location = shape.obj(step.get("location"), f"{step_path}.location", required=False)
            spot = _physical(location, f"{step_path}.location", run) or {}
            entry = {key: spot[key] for key in ("path", "start_line") if spot.get(key)}
            if text := _message(location, f"{step_path}.location", {}):
                entry["message"] = text
            steps.append(entry)
    finding.metadata["code_flows"] = {"count": len(flows), "first_path": steps[:_MAX_FLOW_STEPS]}


def _score(value: Any) -> float | None:
    # A score that is not a CVSS number is ignored, as the reference CodeQL parser does;
    # the semgrep parser reads a rule's score with the same function (one severity per rule).
    return security_severity_score(value)


def _cwe_ids(tags: list[str], extra: Any) -> list[str]:
    found = [m[1] for tag in tags if (m := _CWE_TAG.match(tag.strip()))]
    # Some tools (njsscan) put "CWE-798: …" in a result property instead of a tag.
    for text in _strings(extra) if isinstance(extra, list) else [_str(extra)]:
        found += _CWE_TEXT.findall(text)
    return list(dict.fromkeys(f"CWE-{int(n)}" for n in found))


def _text_of(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    return _str(value.get("text")) or _str(value.get("markdown"))


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []
