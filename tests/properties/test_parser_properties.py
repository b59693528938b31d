"""Whatever arrives on the ingest route, a parser answers a report or a `ReportError`.

Any other exception (KeyError, TypeError, RecursionError, UnicodeDecodeError…) would be
a 500 for the agent instead of a 400 naming the field at fault, so every entry point is
fed arbitrary bytes, arbitrary JSON, real reports cut short and real reports with one
part swapped for something else. A report that does parse must be one the pipeline can
store: targets that normalise or raise `InvalidAssetIdentifier`, target indexes that
point at a target, and a well-formed fingerprint for every finding.
"""

from __future__ import annotations

import contextlib
import copy
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findings.rules.assets import InvalidAssetIdentifier, normalize_asset
from findings.rules.fingerprint import is_well_formed_fingerprint
from findings.rules.severity import Severity
from ingest import boundary
from ingest.boundary import bound_report
from ingest.parsers import detect, shape
from ingest.parsers.detect import FORMATS, decode_json_lines, detect_format, parse_report
from ingest.services import parse as ingest_parse
from protocol.report import Report, ReportError, fingerprint_of
from tests.ingest.parsers.test_detect import require_parser
from tests.properties.strategies import (
    AWKWARD,
    SWEEP,
    TEXT,
    dump,
    format_of,
    is_markup,
    json_values,
    load,
    properties,
    raw_of,
    replacement_for,
    seeds,
)

Path = tuple[str | int, ...]


def parsed_or_refused(parse: Callable[..., Report], *args: Any) -> Report | None:
    """The report, or None when refused with a `ReportError`; anything else fails."""
    try:
        report = parse(*args)
    except ReportError as exc:
        assert str(exc), "a refusal must say what is wrong"
        return None
    assert_storable(report)
    return report


def assert_storable(report: Report) -> None:
    assert isinstance(report, Report)
    assert isinstance(report.tool_name, str)
    for target in report.targets:
        # The pipeline turns exactly this exception into a ReportError on the target.
        with contextlib.suppress(InvalidAssetIdentifier):
            normalize_asset(target.identifier, target.type or None, target.name or None)
    for item in [*report.findings, *report.dependencies]:
        assert item.target_index is None or 0 <= item.target_index < len(report.targets)
    for finding in report.findings:
        assert isinstance(finding.severity, Severity)
        assert is_well_formed_fingerprint(fingerprint_of(finding))
    assert_bounded(bound_report(report))


def assert_bounded(report: Report) -> None:
    """What passed the validation boundary fits the columns it is stored in."""
    for finding in report.findings:
        for name in boundary.LINE_FIELDS:
            value = getattr(finding, name)
            assert value is None or 0 <= value <= boundary.INTEGER_MAX, (name, value)
        assert finding.confidence is None or 0 <= finding.confidence <= 100
        assert finding.cvss_score is None or 0 <= finding.cvss_score <= 10
        assert finding.epss_score is None or 0 <= finding.epss_score <= 1
        json.dumps(finding.metadata, allow_nan=False)  # JSONB refuses NaN and Infinity
    json.dumps(
        [report.metadata, report.branch, [t.metadata for t in report.targets]], allow_nan=False
    )
    for moment in (report.started_at, report.finished_at):
        assert moment is None or boundary.EARLIEST <= moment < boundary.LATEST
    if report.started_at and report.finished_at:
        assert report.started_at <= report.finished_at


def module_for(format: str):
    require_parser(format)
    return detect.parser_module(format)


def deeply_nested(depth: int, opener: str) -> bytes:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return (opener * depth + "1" + closer * depth).encode()


# ---------------------------------------------------------------- arbitrary input


class TestEveryParserOnArbitraryInput:
    @pytest.mark.parametrize("format", FORMATS)
    @properties(40)
    @given(raw=st.binary(max_size=300))
    def test_arbitrary_bytes_parse_or_are_refused(self, format, raw):
        parsed_or_refused(module_for(format).parse, raw)

    @pytest.mark.parametrize("format", FORMATS)
    @properties(40)
    # Surrogates included: text handed over as str was never checked as UTF-8.
    @given(text=st.text(st.characters(codec=None, exclude_categories=["Cn"]), max_size=200))
    def test_arbitrary_text_parses_or_is_refused(self, format, text):
        parsed_or_refused(module_for(format).parse, text)

    @pytest.mark.parametrize("format", FORMATS)
    @properties(40)
    @given(document=json_values())
    def test_any_json_document_is_recognized_or_not_and_parses_or_is_refused(
        self, format, document
    ):
        module = module_for(format)
        assert module.recognizes(document) in (True, False)
        if hasattr(module, "from_document"):
            parsed_or_refused(module.from_document, document)
        parsed_or_refused(module.parse, json.dumps(document).encode())

    @pytest.mark.parametrize("format", FORMATS)
    @pytest.mark.parametrize("opener", ["[", '{"a":'])
    def test_absurdly_deep_nesting_is_refused_not_a_recursion_error(self, format, opener):
        parsed_or_refused(module_for(format).parse, deeply_nested(100_000, opener))


class TestDetectionOnArbitraryInput:
    @properties(100)
    @given(raw=st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
    def test_detection_names_a_known_format_or_refuses(self, raw):
        with contextlib.suppress(ReportError):
            assert detect_format(raw) in FORMATS
        parsed_or_refused(parse_report, raw)

    @properties(100)
    @given(document=json_values())
    def test_any_json_document_is_detected_and_parsed_or_refused(self, document):
        raw = json.dumps(document).encode()
        parsed_or_refused(parse_report, raw)
        # The same records as JSON lines take detection's second path.
        if isinstance(document, list):
            parsed_or_refused(parse_report, dump(document, json_lines=True))

    @properties(50)
    @given(document=json_values(), format=st.sampled_from(FORMATS) | st.text(max_size=20))
    def test_a_named_format_of_any_spelling_is_read_or_refused(self, document, format):
        parsed_or_refused(parse_report, json.dumps(document).encode(), format)

    @properties(50)
    @given(raw=st.binary(max_size=300) | st.text(max_size=200))
    def test_json_lines_decode_to_records_or_are_refused(self, raw):
        try:
            records = decode_json_lines(raw)
        except ReportError:
            return
        assert all(isinstance(where, str) for where, _ in records)

    @pytest.mark.parametrize("opener", ["[", '{"a":'])
    def test_absurdly_deep_nesting_is_refused_not_a_recursion_error(self, opener):
        raw = deeply_nested(100_000, opener)
        with pytest.raises(ReportError):
            detect_format(raw)
        with pytest.raises(ReportError):
            shape.decode_json(raw)
        with pytest.raises(ReportError):
            decode_json_lines(raw)

    @pytest.mark.parametrize("format", [None, "flat", "ris"])
    @properties(30)
    @given(document=json_values())
    def test_the_ingest_tasks_entry_point_parses_or_refuses(self, format, document):
        parsed_or_refused(ingest_parse, json.dumps(document).encode(), format)


# ---------------------------------------------------------------- real reports, broken


class TestTruncatedRealReports:
    @pytest.mark.parametrize("relative", seeds())
    @properties(20)
    @given(data=st.data())
    def test_a_report_cut_anywhere_parses_or_is_refused(self, relative, data):
        format = format_of(relative)
        module = module_for(format)
        raw = raw_of(relative)
        cut = data.draw(st.integers(min_value=0, max_value=max(len(raw) - 1, 0)), label="cut")
        parsed_or_refused(module.parse, raw[:cut])
        parsed_or_refused(parse_report, raw[:cut])
        parsed_or_refused(parse_report, raw[:cut], format)


@cache
def places_in(relative: str) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """(every place in the document, the places holding a scalar) for mutations: the
    scalars are where values get used, so they are drawn as often as all the rest."""
    found: list[Path] = []
    leaves: list[Path] = []
    stack: list[tuple[Path, Any]] = [((), load(relative)[0])]
    while stack:
        path, value = stack.pop()
        found.append(path)
        if isinstance(value, dict):
            stack.extend(((*path, key), child) for key, child in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, index), child) for index, child in enumerate(value))
        else:
            leaves.append(path)
    leaves = leaves or [()]  # a document that is one scalar (gitleaks' `null`)
    return tuple(sorted(found, key=_shallow_first)), tuple(sorted(leaves, key=_shallow_first))


def _shallow_first(path: Path) -> tuple[int, list[str]]:
    # Hypothesis shrinks a sampled place towards the first one: the shallowest.
    return len(path), [str(key) for key in path]


_GONE = object()


def value_at(document: Any, path: Path) -> Any:
    for key in path:
        try:
            document = document[key]
        except (KeyError, IndexError, TypeError):
            return _GONE  # an earlier mutation removed this place
    return document


def mutate(document: Any, path: Path, replacement: Any, delete: bool) -> Any:
    if not path:
        return replacement
    parent = value_at(document, path[:-1])
    last = path[-1]
    if isinstance(parent, dict) and isinstance(last, str):
        if delete:
            parent.pop(last, None)
        else:
            parent[last] = replacement
    elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
        if delete:
            del parent[last]
        else:
            parent[last] = replacement
    return document


# Large reports cost a good part of a second per example; their tools have small ones too.
LARGE = 100_000
SMALL_SEEDS = [relative for relative in seeds() if len(raw_of(relative)) <= LARGE]
LARGE_SEEDS = [relative for relative in seeds() if len(raw_of(relative)) > LARGE]


def check_swapped_parts(relative: str, data: st.DataObject) -> None:
    module = module_for(format_of(relative))
    document, json_lines = load(relative)
    everywhere, scalars = places_in(relative)
    places = st.sampled_from(everywhere) | st.sampled_from(scalars)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="mutations")):
        path = data.draw(places, label="path")
        original = value_at(document, path)
        if original is _GONE:
            continue
        delete = bool(path) and data.draw(st.booleans(), label="delete")
        replacement = None if delete else data.draw(replacement_for(original), label="new")
        document = mutate(document, path, replacement, delete)
    raw = dump(document, json_lines)
    # Detection hands whole documents to `from_document`, JSON lines to `parse`.
    parsed_or_refused(parse_report, raw)
    if json_lines or not hasattr(module, "from_document"):
        parsed_or_refused(module.parse, raw)
    else:
        parsed_or_refused(module.from_document, document)


class TestMutatedRealReports:
    @pytest.mark.parametrize("relative", SMALL_SEEDS)
    @properties(25)
    @given(data=st.data())
    def test_a_report_with_parts_swapped_parses_or_is_refused(self, relative, data):
        check_swapped_parts(relative, data)

    @pytest.mark.parametrize("relative", LARGE_SEEDS)
    @properties(8)
    @given(data=st.data())
    def test_a_large_report_with_parts_swapped_parses_or_is_refused(self, relative, data):
        check_swapped_parts(relative, data)


# ---------------------------------------------------------------- XML reports, broken

XML_SEEDS = [relative for relative in seeds() if is_markup(relative)]
XML_ACTIONS = ("text", "attribute", "drop", "duplicate", "rename", "empty")


def check_swapped_elements(relative: str, data: st.DataObject) -> None:
    # Our own file, parsed by the test without the product's guard.
    root = ET.fromstring(raw_of(relative))
    tags = sorted({element.tag for element in root.iter()})
    for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="mutations")):
        parents = {child: parent for parent in root.iter() for child in parent}
        element = data.draw(st.sampled_from([root, *parents]), label="element")
        action = data.draw(st.sampled_from(XML_ACTIONS), label="action")
        value = data.draw(TEXT | AWKWARD.map(str), label="value")
        parent = parents.get(element)
        if action == "text":
            element.text = value
        elif action == "attribute":
            key = data.draw(st.sampled_from(["ref", "bom-ref", "type", "name", value or "x"]))
            element.set(key, value)
        elif action == "drop" and parent is not None:
            parent.remove(element)
        elif action == "duplicate" and parent is not None:
            parent.append(copy.deepcopy(element))
        elif action == "rename":
            element.tag = data.draw(st.sampled_from(tags), label="tag")
        elif action == "empty":
            element.clear()
    # As text: a value the serialiser cannot encode (a lone surrogate) still reaches us.
    raw = ET.tostring(root, encoding="unicode")
    parsed_or_refused(parse_report, raw)
    parsed_or_refused(detect.parser_module("cyclonedx").parse, raw)
    with contextlib.suppress(UnicodeEncodeError):
        parsed_or_refused(parse_report, raw.encode())


class TestMutatedXmlReports:
    @pytest.mark.parametrize("relative", XML_SEEDS)
    @properties(40)
    @given(data=st.data())
    def test_an_xml_report_with_elements_changed_parses_or_is_refused(self, relative, data):
        check_swapped_elements(relative, data)

    def test_the_real_xml_reports_are_among_the_seeds(self):
        assert XML_SEEDS == ["cyclonedx/log4j.xml", "cyclonedx/valid-vulnerability-1.4.xml"]


def shape_of(path: Path) -> tuple[str, ...]:
    """`results[*].extra.lines` for `results[3].extra.lines`: items of one list are read
    by the same code, so one of them stands for all."""
    return tuple("*" if isinstance(key, int) else key for key in path)


class TestEveryPlaceOfAReport:
    @pytest.mark.parametrize("format", FORMATS)
    def test_each_place_set_to_an_awkward_value_or_removed_parses_or_is_refused(self, format):
        module = module_for(format)
        parse = getattr(module, "from_document", None)
        swept: set[tuple[str, ...]] = set()  # shapes already swept in another report
        for relative in [r for r in SMALL_SEEDS if format_of(r) == format]:
            document, json_lines = load(relative)
            pristine = json.dumps(document)
            for path in places_in(relative)[0]:
                if shape_of(path) in swept:
                    continue
                swept.add(shape_of(path))
                for value, delete in [*((value, False) for value in SWEEP), (None, bool(path))]:
                    mutated = mutate(json.loads(pristine), path, value, delete)
                    try:
                        if parse is None:
                            parsed_or_refused(module.parse, dump(mutated, json_lines))
                        else:
                            parsed_or_refused(parse, mutated)
                    except Exception as exc:
                        change = "removed" if delete else f"set to {value!r:.40}"
                        raise AssertionError(f"{relative}: {path} {change}") from exc
