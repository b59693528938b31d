"""Format detection over every real report in the shared data folder (found by
`tests.shared_data`, relative to the repository)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from ingest.parsers import detect
from ingest.parsers.detect import FORMATS, detect_format, parse_report
from protocol.report import ReportError
from tests.shared_data import DATA, read

# The data folder is named after the tool, with "_" for "-".
FORMAT_OF_FOLDER = {"detect_secrets": "detect-secrets", "pip_audit": "pip-audit"}
# Files whose content names no tool at all: an empty file, gitleaks' literal `null` and
# trufflehog3's empty array.
CONTENT_FREE = {
    "nuclei/empty.jsonl": "nuclei",
    "gitleaks/no_findings.json": "gitleaks",
    "trufflehog3/zero_vulns.json": "trufflehog3",
}
REPORTS = sorted(
    str(path.relative_to(DATA))
    for path in DATA.glob("*/*")
    if path.is_file() and not path.name.startswith(("README", "LICENSE"))
)


def require_parser(format: str) -> None:
    """Skip while another engineer's parser module is not written; once it exists, any
    failure below is real."""
    if importlib.util.find_spec(detect._MODULES[format]) is None:
        pytest.skip(f"the {format} parser module does not exist yet")


class TestSharedData:
    def test_the_shared_data_folder_resolves(self):
        assert (DATA / "README.md").is_file(), f"{DATA} is not the shared data folder"
        assert len(REPORTS) >= 34

    def test_every_report_folder_is_a_known_format(self):
        folders = {path.split("/")[0] for path in REPORTS}
        assert {FORMAT_OF_FOLDER.get(f, f) for f in folders} <= set(FORMATS)


class TestRegistry:
    def test_formats_are_tried_in_the_agreed_order(self):
        assert FORMATS == (
            "ris",
            "flat",
            "sarif",
            "cyclonedx",
            "spdx",
            "semgrep",
            "bandit",
            "gitleaks",
            "trivy",
            "checkov",
            "detect-secrets",
            "nuclei",
            "trufflehog",
            "trufflehog3",
            "pip-audit",
        )

    @pytest.mark.parametrize("name", FORMATS)
    def test_each_installed_module_declares_its_own_format(self, name):
        require_parser(name)
        module = detect.parser_module(name)
        assert name == module.FORMAT
        assert callable(module.recognizes) and callable(module.parse)

    def test_a_missing_module_is_skipped_not_fatal(self, monkeypatch):
        monkeypatch.setitem(detect._MODULES, "ris", "ingest.parsers.no_such_parser")
        assert detect.parser_module("ris") is None
        assert detect_format(read("sarif/njsscan.sarif")) == "sarif"

    def test_a_missing_module_named_explicitly_is_refused_on_format(self, monkeypatch):
        monkeypatch.setitem(detect._MODULES, "ris", "ingest.parsers.no_such_parser")
        with pytest.raises(ReportError) as caught:
            parse_report("{}", format="ris")
        assert caught.value.path == "format"


class TestDetection:
    @pytest.mark.parametrize("relative", [r for r in REPORTS if r not in CONTENT_FREE])
    def test_every_shared_report_is_detected_as_its_tool(self, relative):
        folder = relative.split("/")[0]
        expected = FORMAT_OF_FOLDER.get(folder, folder)
        require_parser(expected)
        assert detect_format(read(relative)) == expected

    @pytest.mark.parametrize("relative", [r for r in REPORTS if r not in CONTENT_FREE])
    def test_every_shared_report_parses_without_naming_its_format(self, relative):
        folder = relative.split("/")[0]
        require_parser(FORMAT_OF_FOLDER.get(folder, folder))
        raw = read(relative)
        assert parse_report(raw) == parse_report(raw, detect_format(raw))

    @pytest.mark.parametrize(("relative", "format"), sorted(CONTENT_FREE.items()))
    def test_a_report_with_no_content_must_be_named(self, relative, format):
        require_parser(format)
        with pytest.raises(ReportError, match="nothing tells its format"):
            detect_format(read(relative))
        assert parse_report(read(relative), format=format).findings == []

    def test_a_single_nuclei_line_is_detected_as_json_lines(self):
        line = read("nuclei/many_findings.json").splitlines()[0]
        assert detect_format(line) == "nuclei"
        assert len(parse_report(line).findings) == 1

    def test_a_json_array_of_nuclei_results_is_detected(self):
        lines = read("nuclei/many_findings.json").decode().splitlines()
        exported = json.dumps([json.loads(line) for line in lines])
        assert detect_format(exported) == "nuclei"
        assert len(parse_report(exported).findings) == 18

    def test_text_and_utf16_input_are_detected_like_bytes(self):
        raw = read("cyclonedx/log4j.json")
        assert detect_format(raw.decode()) == "cyclonedx"
        assert detect_format(raw.decode().encode("utf-16")) == "cyclonedx"
        assert detect_format(b"\xef\xbb\xbf" + raw) == "cyclonedx"

    @pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le"])
    def test_a_cyclonedx_xml_bom_is_detected_by_its_content_in_any_encoding(self, encoding):
        text = read("cyclonedx/valid-vulnerability-1.4.xml").decode()
        assert detect_format(text.encode(encoding)) == "cyclonedx"
        assert len(parse_report(text.encode(encoding)).findings) == 1

    @pytest.mark.parametrize(
        ("name", "format"), [("pip-audit", "pip-audit"), ("PIP_AUDIT", "pip-audit")]
    )
    def test_the_new_formats_are_read_by_name_in_either_spelling(self, name, format):
        raw = read("pip_audit/many_vulns_new.json")
        assert len(parse_report(raw, name).findings) == 7
        assert parse_report(raw, name) == parse_report(raw)

    def test_an_xml_bom_named_cyclonedx_is_read_as_xml(self):
        raw = read("cyclonedx/log4j.xml")
        assert parse_report(raw, "cyclonedx") == parse_report(raw)
        assert len(parse_report(raw, "cyclonedx").findings) == 8


class TestRefusals:
    @pytest.mark.parametrize(
        "garbage",
        [
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            b"<?xml version='1.0'?><report/>",
            b"<bom xmlns='http://example.com/not/cyclonedx'/>",
            b"<html><body>not a report</body></html>",
            b"hello world",
            b'{"unrelated": true}',
            b"[1, 2, 3]",
            b'"a string"',
            b"42",
            b'{"a": 1}\nnot json\n',
        ],
    )
    def test_garbage_is_refused(self, garbage):
        with pytest.raises(ReportError, match="unrecognised report format"):
            detect_format(garbage)
        with pytest.raises(ReportError, match="unrecognised report format"):
            parse_report(garbage)

    @pytest.mark.parametrize("empty", [b"", b"  \n", "null", "[]", "{}"])
    def test_empty_input_is_refused_for_want_of_a_format(self, empty):
        with pytest.raises(ReportError, match="nothing tells its format"):
            detect_format(empty)

    def test_an_unknown_explicit_format_is_refused_on_format(self):
        with pytest.raises(ReportError) as caught:
            parse_report(read("sarif/njsscan.sarif"), format="zap")
        assert caught.value.path == "format"
        assert "zap" in caught.value.message

    def test_an_explicit_format_is_read_whatever_its_spelling(self):
        report = parse_report(read("sarif/njsscan.sarif"), format=" SARIF ")
        assert len(report.findings) == 2

    def test_an_explicit_format_that_does_not_fit_names_the_place(self):
        with pytest.raises(ReportError) as caught:
            parse_report(read("cyclonedx/log4j.json"), format="sarif")
        assert caught.value.path == "version"
