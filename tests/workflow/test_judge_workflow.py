"""The sequential judge on the embedded engine, with the simulator's noise on (issue 10).

Each test runs the real ASL: Bake waits one look (a minute), Advance judges the new version
against the old one behind the same alias; the simulator draws Poisson invocations and binomial
errors around the scenario's rates (``noise: {seed: N}``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.factories import manifest_data
from tests.workflow.conftest import MakeRun

pytestmark = pytest.mark.workflow

BAKE = 300
STEPS = [10, 50, 100]


def release(components: int, name: str = "judge-1", **gates: Any) -> dict[str, Any]:
    """``components`` independent components (no queues: one wave), 1 -> 2 each."""
    return manifest_data(
        {
            f"c{i:02d}": {"from": {"version": "1"}, "to": {"version": "2"}}
            for i in range(components)
        },
        release=name,
        defaults={
            "alias": "live",
            "strategy": {"steps": STEPS, "bake_seconds": BAKE},
            "gates": {"judge": "sequential", "max_error_rate": 0.2, **gates},
        },
    )


def background(components: int, rate: float, **versions: Any) -> dict[str, Any]:
    """Both versions of every component fail at a background ``rate``: not a regression."""
    out: dict[str, Any] = {}
    for i in range(components):
        for version in ("1", "2"):
            out[f"c{i:02d}@{version}"] = {"error_rate": rate}
    out.update(versions)
    return out


def makespan_minutes(result: Any) -> float:
    """Simulated minutes from the first alias move to the last (the 100% step)."""
    times = [datetime.fromisoformat(m["at"]) for m in result.report["actions"]]
    return (max(times) - min(times)).total_seconds() / 60


@pytest.mark.parametrize("seed", range(20))
def test_a_healthy_ten_component_release_completes_without_a_false_alarm(
    dry: MakeRun, seed: int
) -> None:
    """0.5% background errors on both versions, 600 invocations a minute, noise on: the
    threshold rule false-alarms here about half the time over ten components (issue 10)."""
    scenario = {
        "traffic_per_minute": 600,
        "versions": background(10, 0.005),
        "noise": {"seed": seed},
    }
    result = dry(release(10), scenario).run(timeout=600)
    assert result.status == "SUCCEEDED", result.report.get("failure")
    assert all(v["version"] == "2" for v in result.report["final"].values())


def test_a_three_fold_regression_at_ten_percent_is_caught_at_ten_percent(dry: MakeRun) -> None:
    scenario = {
        "traffic_per_minute": 3000,
        "versions": {"c00@1": {"error_rate": 0.02}, "c00@2": {"error_rate": 0.06}},
        "noise": {"seed": 1},
    }
    result = dry(release(1), scenario).run(timeout=300)
    assert result.status in ("HALTED", "FAILED")
    failure = result.report["failure"]
    assert failure["component"] == "c00"
    assert failure["step"] == 10.0
    evidence = failure["reasons"][0]
    assert evidence.startswith("c00@2: ") and " vs c00@1: " in evidence
    assert "FAILED at 10% after" in evidence
    minutes = int(evidence.split("after ")[1].split(" of")[0])
    assert minutes < 5  # before the bake's end


def test_an_early_pass_shortens_the_simulated_makespan(dry: MakeRun) -> None:
    """A new version that fails far less than the old one: each step ends as soon as the
    evidence is conclusive, not after its full bake."""
    scenario = {
        "traffic_per_minute": 3000,
        "versions": {"c00@1": {"error_rate": 0.05}, "c00@2": {"error_rate": 0.01}},
        "noise": {"seed": 2},
    }
    early = dry(release(1, "judge-early"), scenario).run(timeout=300)
    assert early.status == "SUCCEEDED", (early.report.get("error"), early.report.get("failure"))
    fixed = (len(STEPS) - 1) * BAKE / 60  # fixed bakes: 10% and 50% in full before 100%
    assert makespan_minutes(early) <= 0.5 * fixed
    verdicts = early.report["final"]["c00"]["verdicts"]
    assert [v["phase"] for v in verdicts] == ["PASSED"] * 3
    assert all(v["early"] for v in verdicts)
    assert verdicts[0]["evidence"][0]["subject"] == "c00@2"
    assert "PASSED at 10% after" in verdicts[0]["reasons"][0]
