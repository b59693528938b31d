from __future__ import annotations

import math

import pytest

from findings.rules.severity import (
    GITLEAKS_SEVERITY,
    Severity,
    normalize_severity,
    security_severity_score,
    semgrep_sarif_level,
    severity_from_codeql,
    severity_from_cvss,
    severity_from_sarif_level,
    severity_from_semgrep,
    severity_from_trivy,
)

CRIT, HIGH, MED, LOW, INFO = (
    Severity.CRITICAL,
    Severity.HIGH,
    Severity.MEDIUM,
    Severity.LOW,
    Severity.INFO,
)


class TestSeverityLevels:
    def test_values_are_the_ris_words(self):
        assert [s.value for s in Severity] == ["critical", "high", "medium", "low", "info"]

    def test_rank_orders_critical_highest_and_info_lowest(self):
        assert [s.rank for s in Severity] == [4, 3, 2, 1, 0]
        assert max(Severity, key=lambda s: s.rank) is CRIT

    def test_score_matches_the_sdk_score_function(self):
        assert [s.score for s in Severity] == [10.0, 7.5, 5.0, 2.5, 0.0]

    def test_a_level_compares_equal_to_its_string(self):
        assert Severity("high") is HIGH
        assert HIGH == "high"


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("CRITICAL", CRIT),
        ("CRIT", CRIT),
        ("HIGH", HIGH),
        ("ERROR", HIGH),
        ("SEVERE", HIGH),
        ("MEDIUM", MED),
        ("MODERATE", MED),
        ("WARNING", MED),
        ("WARN", MED),
        ("MED", MED),
        ("LOW", LOW),
        ("INFO", INFO),
        ("INFORMATIONAL", INFO),
        ("NOTE", INFO),
        ("NONE", INFO),
    ],
)
def test_every_tool_word_maps_to_its_level_in_any_case(word, expected):
    assert normalize_severity(word) is expected
    assert normalize_severity(word.lower()) is expected
    assert normalize_severity(f"  {word.title()}\t") is expected


@pytest.mark.parametrize("word", ["", "   ", "unknown", "urgent", "p1", "criticalish", None])
def test_unknown_words_and_nothing_give_none(word):
    assert normalize_severity(word) is None


def test_a_non_string_gives_none_rather_than_crashing():
    assert normalize_severity(3) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0, INFO),
        (0.0, INFO),
        (0.05, LOW),
        (0.1, LOW),
        (3.9, LOW),
        (4.0, MED),
        (6.9, MED),
        (7.0, HIGH),
        (8.9, HIGH),
        (9.0, CRIT),
        (10, CRIT),
    ],
)
def test_cvss_scores_fall_into_the_cvss_v3_bands(score, expected):
    assert severity_from_cvss(score) is expected


@pytest.mark.parametrize("score", [math.nan, -0.1, -1, 10.1, math.inf, -math.inf])
def test_cvss_scores_outside_zero_to_ten_are_rejected(score):
    with pytest.raises(ValueError):
        severity_from_cvss(score)


@pytest.mark.parametrize("score", ["9.8", None, True])
def test_a_cvss_score_must_be_a_number(score):
    with pytest.raises(TypeError):
        severity_from_cvss(score)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("error", HIGH),
        ("warning", MED),
        ("note", LOW),
        ("none", INFO),
        ("ERROR", HIGH),
        (" Note ", LOW),
        ("", MED),
        (None, MED),
        ("fatal", MED),
    ],
)
def test_sarif_levels_map_and_anything_else_is_medium(level, expected):
    assert severity_from_sarif_level(level) is expected


class TestSemgrep:
    """One severity per rule whether semgrep wrote JSON or SARIF: the JSON word is read as
    the level semgrep's SARIF writes for it (tests/ingest/parsers/test_same_rule_same_severity.py
    checks it on real outputs of both)."""

    @pytest.mark.parametrize(
        ("severity", "level", "expected"),
        [
            ("CRITICAL", "error", HIGH),
            ("HIGH", "error", HIGH),
            ("ERROR", "error", HIGH),
            ("MEDIUM", "warning", MED),
            ("WARNING", "warning", MED),
            ("LOW", "note", LOW),
            ("INFO", "note", LOW),
        ],
    )
    def test_each_word_is_the_severity_of_the_sarif_level_semgrep_writes_for_it(
        self, severity, level, expected
    ):
        assert semgrep_sarif_level(severity) == level
        assert severity_from_semgrep(severity) is severity_from_sarif_level(level) is expected
        assert severity_from_semgrep(severity.lower(), None) is expected

    def test_a_security_severity_word_is_no_score_and_the_rule_severity_decides(self):
        # GitLab's rules write words there ("HIGH"); semgrep's SARIF copies them, and the
        # SARIF parser ignores what is not a number, so the JSON does too. (The impact is
        # not read at all: tests/ingest/parsers/test_semgrep.py.)
        assert severity_from_semgrep("INFO", "HIGH") is LOW
        assert severity_from_semgrep("ERROR", "LOW") is HIGH

    @pytest.mark.parametrize(
        ("score", "expected"), [("9.1", CRIT), (7.5, HIGH), ("4.0", MED), ("0.5", LOW)]
    )
    def test_a_numeric_security_severity_picks_the_codeql_band_as_in_sarif(self, score, expected):
        assert severity_from_semgrep("INFO", score) is expected
        assert severity_from_semgrep("INFO", score) is severity_from_codeql(score, "note")

    @pytest.mark.parametrize("score", ["HIGH", "NaN", "11", -1, True, None, [], "1e400"])
    def test_a_security_severity_that_is_no_score_leaves_the_word_to_decide(self, score):
        assert security_severity_score(score) is None
        assert severity_from_semgrep("ERROR", score) is HIGH

    def test_a_word_semgrep_has_no_level_for_is_medium_as_a_sarif_rule_without_level(self):
        assert semgrep_sarif_level("EXPERIMENT") == "warning"
        assert severity_from_semgrep("EXPERIMENT") is MED
        assert severity_from_semgrep(None) is MED


class TestCodeQL:
    @pytest.mark.parametrize(
        ("score", "expected"),
        [
            ("9.8", CRIT),
            ("9.0", CRIT),
            ("7.5", HIGH),
            ("6.1", MED),
            ("4.0", MED),
            ("3.9", LOW),
            ("0.1", LOW),
        ],
    )
    def test_security_severity_uses_the_cvss_bands(self, score, expected):
        assert severity_from_codeql(score, "note") is expected

    def test_a_numeric_security_severity_is_accepted(self):
        assert severity_from_codeql(8.8, None) is HIGH

    def test_scores_below_one_tenth_are_info_unlike_plain_cvss(self):
        assert severity_from_codeql("0.05", "error") is INFO
        assert severity_from_cvss(0.05) is LOW

    @pytest.mark.parametrize("score", [None, "", "high", "NaN", "11", "-1"])
    def test_a_missing_or_unusable_score_falls_back_to_the_level(self, score):
        assert severity_from_codeql(score, "error") is HIGH

    @pytest.mark.parametrize(
        ("level", "expected"),
        [
            ("error", HIGH),
            ("warning", MED),
            ("note", LOW),
            ("none", INFO),
            (None, INFO),
            ("x", INFO),
        ],
    )
    def test_levels_default_to_info(self, level, expected):
        assert severity_from_codeql(None, level) is expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("CRITICAL", CRIT),
        ("HIGH", HIGH),
        ("MEDIUM", MED),
        ("LOW", LOW),
        ("UNKNOWN", INFO),
        ("high", HIGH),
        ("", INFO),
        (None, INFO),
        ("NEGLIGIBLE", INFO),
    ],
)
def test_trivy_words_map_and_unknown_is_info(word, expected):
    assert severity_from_trivy(word) is expected


def test_gitleaks_findings_are_always_high():
    assert GITLEAKS_SEVERITY is HIGH
