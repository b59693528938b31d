"""The soak, short enough for CI: fifty agents against the production topology while a
django-q2 cluster is killed and restarted. `make bench` runs the longer mode."""

from __future__ import annotations

import json

import pytest

from tests.ops.soak import SoakSettings, soak
from tests.ops.topology import redis_unreachable_reason

pytestmark = pytest.mark.postgres

CI_SETTINGS = SoakSettings(duration=30, agents=50)


def test_no_command_is_lost_or_run_twice_and_no_finding_is_lost_when_a_cluster_dies():
    if reason := redis_unreachable_reason():
        pytest.skip(f"the soak needs Redis as django-q2's broker: {reason}")
    result = soak(CI_SETTINGS)
    report = json.dumps(
        {key: result[key] for key in ("events_seconds", "verdicts", "problems", "counts")},
        indent=1,
    ) + result.get("log_tails", "")
    print(json.dumps({key: result[key] for key in ("counts", "throughput", "timings_seconds")}))
    counts = result["counts"]
    # The soak did what it is for: work of every kind, across the kill.
    assert counts["commands_created"] > 0, report
    assert counts["reports_stored_by_background_job"] > 0, report
    assert counts["agents_that_worked"] > 1, report
    assert "cluster 0 restarted" in result["events_seconds"], report
    for verdict, held in result["verdicts"].items():
        assert held, f"{verdict} failed:\n{report}"
    assert counts["commands_completed"] == counts["commands_created"], report
    assert counts["findings_stored"] == counts["findings_sent"], report
