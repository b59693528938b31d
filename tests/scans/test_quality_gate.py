"""Quality gates (`scans.quality_gate`): parsing and evaluation, no database."""

from __future__ import annotations

from unittest import TestCase

from scans.quality_gate import GateResult, QualityGate, QualityGateError, evaluate

DEFAULTS = {
    "enabled": False,
    "fail_on_critical": False,
    "fail_on_high": False,
    "max_critical": -1,
    "max_high": -1,
    "max_medium": -1,
    "max_total": -1,
    "new_findings_only": False,
}


def gate(**fields) -> QualityGate:
    return QualityGate.from_dict({"enabled": True, **fields})


class Parsing(TestCase):
    def test_an_empty_dict_or_none_is_the_disabled_default_gate(self):
        self.assertEqual(QualityGate.from_dict({}), QualityGate())
        self.assertEqual(QualityGate.from_dict(None), QualityGate())
        self.assertEqual(QualityGate().to_dict(), DEFAULTS)

    def test_it_round_trips_through_its_dict(self):
        data = {**DEFAULTS, "enabled": True, "fail_on_high": True, "max_total": 10}
        self.assertEqual(QualityGate.from_dict(data).to_dict(), data)

    def test_keys_left_out_take_their_defaults(self):
        parsed = QualityGate.from_dict({"enabled": True, "max_high": 3})
        self.assertEqual(parsed.to_dict(), {**DEFAULTS, "enabled": True, "max_high": 3})

    def test_minus_one_and_zero_are_valid_limits(self):
        parsed = QualityGate.from_dict({"max_critical": 0, "max_high": -1})
        self.assertEqual((parsed.max_critical, parsed.max_high), (0, -1))

    def test_bad_values_are_refused_naming_the_field(self):
        cases = [
            ("enabled", 1),
            ("enabled", "true"),
            ("fail_on_critical", None),
            ("new_findings_only", 0),
            ("max_critical", -2),
            ("max_high", True),
            ("max_medium", 1.5),
            ("max_total", "10"),
            ("max_total", None),
        ]
        for field, value in cases:
            with self.subTest(field=field, value=value):
                with self.assertRaises(ValueError) as raised:
                    QualityGate.from_dict({field: value})
                self.assertIsInstance(raised.exception, QualityGateError)
                self.assertEqual(raised.exception.field, field)
                self.assertTrue(str(raised.exception).startswith(f"{field}:"))

    def test_unknown_keys_are_refused(self):
        with self.assertRaises(ValueError) as raised:
            QualityGate.from_dict({"enabled": True, "max_low": 3})
        self.assertEqual(raised.exception.field, "max_low")
        self.assertIn("unknown", str(raised.exception))

    def test_something_other_than_a_mapping_is_refused(self):
        for data in ([], "enabled", 3):
            with self.subTest(data=data), self.assertRaises(ValueError):
                QualityGate.from_dict(data)


class Evaluation(TestCase):
    def test_a_disabled_gate_passes_whatever_the_counts(self):
        disabled = QualityGate(fail_on_critical=True, max_total=0)
        result = evaluate(disabled, by_severity={"critical": 9})
        self.assertEqual(result, GateResult(passed=True, reason="quality gate disabled"))
        self.assertEqual(result.breaches, [])

    def test_an_enabled_gate_without_limits_passes(self):
        result = evaluate(gate(), by_severity={"critical": 9, "high": 9})
        self.assertTrue(result.passed)
        self.assertEqual(result.breaches, [])
        self.assertIn("passed", result.reason)

    def test_fail_on_critical_means_a_critical_limit_of_zero(self):
        failed = evaluate(gate(fail_on_critical=True), by_severity={"critical": 1})
        self.assertFalse(failed.passed)
        self.assertEqual(failed.breaches, [{"metric": "critical", "limit": 0, "actual": 1}])
        passed = evaluate(gate(fail_on_critical=True), by_severity={"high": 5})
        self.assertTrue(passed.passed)

    def test_fail_on_high_means_a_high_limit_of_zero_whatever_max_high_says(self):
        result = evaluate(gate(fail_on_high=True, max_high=10), by_severity={"high": 2})
        self.assertEqual(result.breaches, [{"metric": "high", "limit": 0, "actual": 2}])

    def test_a_count_equal_to_its_limit_passes_and_one_more_fails(self):
        limits = gate(max_critical=1, max_high=2, max_medium=3, max_total=10)
        self.assertTrue(
            evaluate(limits, by_severity={"critical": 1, "high": 2, "medium": 3}).passed
        )
        for severity, count in (("critical", 2), ("high", 3), ("medium", 4)):
            with self.subTest(severity=severity):
                result = evaluate(limits, by_severity={severity: count})
                self.assertFalse(result.passed)
                self.assertEqual(result.breaches[0]["metric"], severity)

    def test_the_total_counts_every_severity_low_and_info_included(self):
        result = evaluate(
            gate(max_total=5), by_severity={"critical": 1, "medium": 1, "low": 2, "info": 2}
        )
        self.assertEqual(result.breaches, [{"metric": "total", "limit": 5, "actual": 6}])

    def test_every_breach_is_listed_in_metric_order_and_named_in_the_reason(self):
        limits = gate(fail_on_critical=True, max_high=1, max_medium=1, max_total=3)
        result = evaluate(limits, by_severity={"medium": 2, "high": 2, "critical": 1})
        self.assertEqual(
            result.breaches,
            [
                {"metric": "critical", "limit": 0, "actual": 1},
                {"metric": "high", "limit": 1, "actual": 2},
                {"metric": "medium", "limit": 1, "actual": 2},
                {"metric": "total", "limit": 3, "actual": 5},
            ],
        )
        self.assertTrue(result.reason.startswith("quality gate failed"))
        for part in ("1 critical (limit 0)", "2 high (limit 1)", "5 in total (limit 3)"):
            self.assertIn(part, result.reason)

    def test_new_findings_only_counts_the_new_ones_when_given(self):
        limits = gate(fail_on_critical=True, new_findings_only=True)
        result = evaluate(limits, by_severity={"critical": 4}, new_by_severity={"high": 1})
        self.assertTrue(result.passed)
        self.assertIn("new findings", result.reason)
        result = evaluate(limits, by_severity={"critical": 4}, new_by_severity={"critical": 1})
        self.assertEqual(result.breaches, [{"metric": "critical", "limit": 0, "actual": 1}])

    def test_new_findings_only_without_new_counts_judges_all_findings(self):
        limits = gate(fail_on_critical=True, new_findings_only=True)
        result = evaluate(limits, by_severity={"critical": 4})
        self.assertEqual(result.breaches, [{"metric": "critical", "limit": 0, "actual": 4}])

    def test_new_counts_are_ignored_unless_the_gate_asks_for_them(self):
        result = evaluate(
            gate(fail_on_critical=True), by_severity={"critical": 2}, new_by_severity={}
        )
        self.assertEqual(result.breaches, [{"metric": "critical", "limit": 0, "actual": 2}])

    def test_severity_names_are_matched_ignoring_case(self):
        result = evaluate(gate(fail_on_critical=True), by_severity={"CRITICAL": 1})
        self.assertFalse(result.passed)

    def test_negative_or_non_integer_counts_are_refused(self):
        for counts in ({"high": -1}, {"high": "2"}, {"high": True}):
            with self.subTest(counts=counts), self.assertRaises(ValueError) as raised:
                evaluate(gate(), by_severity=counts)
            self.assertEqual(raised.exception.field, "by_severity.high")

    def test_the_result_serialises_to_the_wire_shape(self):
        result = evaluate(gate(max_total=0), by_severity={"low": 1})
        self.assertEqual(
            result.to_dict(),
            {
                "passed": False,
                "reason": result.reason,
                "breaches": [{"metric": "total", "limit": 0, "actual": 1}],
            },
        )
