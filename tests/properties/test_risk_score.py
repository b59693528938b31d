"""The risk score's promises (findings/stats.py), for any counts of open findings.

- an asset's worst open finding decides its band: no number of lower findings ever
  outranks one finding of a higher severity, whatever either asset's criticality;
- the pages show the score as a whole number, and even then the bands never tie;
- it stays within 0–100;
- it never decreases when a finding is added, or when the asset matters more;
- between two assets with the same findings the more important one scores higher.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from findings.stats import SEVERITIES, risk_score
from tests.properties.strategies import properties

RANKED = ("low", "medium", "high", "critical")  # severities that carry risk, least first
CRITICALITIES = ("info", "low", "medium", "high", "critical")  # least important first

# Up to a million of one severity: far past where the exploitation chance saturates.
counts_of = st.integers(min_value=0, max_value=1_000_000)
criticality = st.sampled_from(CRITICALITIES)


@st.composite
def findings_below(draw, severity: str) -> dict[str, int]:
    """Any counts whose worst finding is below `severity` (possibly none at all)."""
    lower = RANKED[: RANKED.index(severity)]
    return {s: draw(counts_of) if s in lower or s == "info" else 0 for s in SEVERITIES}


@st.composite
def findings(draw) -> dict[str, int]:
    return {s: draw(counts_of) for s in SEVERITIES}


def displayed(score: float) -> int:
    """What the assets pages print (`floatformat:0`, half up)."""
    return int(score + 0.5)


@properties(max_examples=300)
@given(
    severity=st.sampled_from(RANKED),
    lower=st.data(),
    weak_asset=criticality,
    strong_asset=criticality,
)
def test_no_number_of_lower_findings_outranks_one_finding_of_a_higher_severity(
    severity, lower, weak_asset, strong_asset
):
    many_lower = lower.draw(findings_below(severity))
    one_higher = {**dict.fromkeys(SEVERITIES, 0), severity: 1}
    # The asset with many lower findings is as important as can be, the other as little.
    high = risk_score(one_higher, weak_asset)
    low = risk_score(many_lower, strong_asset)
    assert low < high
    assert displayed(low) < displayed(high)


def test_a_hundred_lows_never_outrank_a_critical_as_the_documentation_says():
    assert risk_score({"low": 100}, "critical") < risk_score({"critical": 1}, "info")


@properties(max_examples=300)
@given(counts=findings(), asset=criticality)
def test_the_score_stays_between_0_and_100(counts, asset):
    assert 0.0 <= risk_score(counts, asset) <= 100.0


@properties(max_examples=300)
@given(counts=findings(), asset=criticality, added=st.sampled_from(SEVERITIES))
def test_adding_a_finding_of_any_severity_never_lowers_the_score(counts, asset, added):
    more = {**counts, added: counts[added] + 1}
    assert risk_score(more, asset) >= risk_score(counts, asset)


@properties(max_examples=300)
@given(counts=findings(), rank=st.integers(min_value=0, max_value=len(CRITICALITIES) - 2))
def test_a_more_important_asset_never_scores_lower_with_the_same_findings(counts, rank):
    less, more = CRITICALITIES[rank], CRITICALITIES[rank + 1]
    assert risk_score(counts, more) >= risk_score(counts, less)
    if any(counts[s] for s in RANKED):
        assert risk_score(counts, more) > risk_score(counts, less)


@properties(max_examples=100)
@given(info=counts_of, asset=criticality)
def test_no_finding_or_only_informational_ones_score_zero(info, asset):
    assert risk_score({**dict.fromkeys(SEVERITIES, 0), "info": info}, asset) == 0.0


def test_the_worst_finding_puts_the_asset_in_its_documented_band():
    bands = {"low": (1, 25), "medium": (26, 50), "high": (51, 75), "critical": (76, 100)}
    for severity, (floor, top) in bands.items():
        fewest = risk_score({severity: 1}, "info")
        most = risk_score({severity: 1_000_000}, "critical")
        assert floor <= fewest <= most <= top, (severity, fewest, most)
