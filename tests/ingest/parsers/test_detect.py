"""Format detection over every real report in the shared data folder.

`DATA` and `data_file` live here and the per-tool parser tests import them, so the
folder is named once.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.parsers import detect
from ingest.parsers.detect import FORMATS, detect_format, parse_report
from ingest.report import ReportError

REPO_ROOT = Path(__file__).resolve().parents[3]
DATA = Path(os.environ.get("REDIVERIO_SHARED_DATA", "/work/shared/data"))


def data_file(relative: str) -> Path:
    path = DATA / relative
    assert path.is_file(), f"missing shared test report {path}"
    return path


def read(relative: str) -> bytes:
    return data_file(relative).read_bytes()


# The data folder is named after the tool, except detect-secrets (a folder can't have "-").
FORMAT_OF_FOLDER = {"detect_secrets": "detect-secrets"}
# Files whose content names no tool at all: an empty file and gitleaks' literal `null`.
CONTENT_FREE = {"nuclei/empty.jsonl": "nuclei", "gitleaks/no_findings.json": "gitleaks"}
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

    def test_the_parsers_import_no_django_and_no_models(self):
        # A fresh interpreter: this test process has Django loaded by the test runner.
        modules = [f"ingest.parsers.{name}" for name in ("sarif", "nuclei", "cyclonedx")]
        modules += ["ingest.parsers.spdx", "ingest.parsers.trufflehog", "ingest.parsers.detect"]
        probe = (
            f"import sys\nfor name in {modules!r}:\n    __import__(name)\n"
            "leaked = sorted(m for m in sys.modules if m.startswith('django') "
            "or m.endswith('.models'))\nassert not leaked, leaked\nprint('ok')\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "", "PYTHONPATH": str(REPO_ROOT)},
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "ok"


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


class TestRefusals:
    @pytest.mark.parametrize(
        "garbage",
        [
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            b"<?xml version='1.0'?><report/>",
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
