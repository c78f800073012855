"""Regressions of issue 8 (roll-forward safety holes): the real ASL on the embedded engine.

Each test names the defect it pins down; each failed on the code before the fix.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.errors import EnvironmentProblemError
from orchestrator.operations import resume_release, waiting_token
from tests.factories import manifest_data
from tests.workflow.conftest import MakeRun, assert_sound, moves_of, wait_until

pytestmark = pytest.mark.workflow

ROOT = Path(__file__).resolve().parents[2]
SEED = yaml.safe_load((ROOT / "examples" / "seed.yaml").read_text())
TIMEOUT = 150.0


def seed_store_reads_both() -> dict[str, Any]:
    """The seed chain with store@5 declaring it reads enriched [1, 2]."""
    data = copy.deepcopy(SEED)
    data["defaults"]["strategy"]["bake_seconds"] = 60
    for side in ("from", "to"):
        data["components"]["store"][side]["reads"] = {"enriched": [1, 2]}
    return data


TWO_ROUNDS = {
    "traffic_per_minute": 600,
    "versions": {
        "enrich@18": {"errors_on": {"orders": {"2": 0.5}}},
        "store@5": {"errors_on": {"enriched": {"2": 0.5}}},
    },
    "hotfixes": [
        {
            "component": "enrich",
            "version": "19",
            "reads": {"orders": [1, 2]},
            "writes": {"enriched": 2},
        },
        {"component": "store", "version": "6", "reads": {"enriched": [1, 2]}},
    ],
}


def test_a_promoted_alias_never_moves_back_after_a_second_round(dry: MakeRun) -> None:
    """Item 1: round 1 hotfixes enrich@19; its canary breaks store (round 2: enrich pulled back
    to 18, store@6 ships). enrich then shifts again from 18, never from 17: enrich@17 cannot read
    the schema 2 already in `orders`."""
    result = dry(seed_store_reads_both(), TWO_ROUNDS).run(timeout=TIMEOUT)
    assert result.status == "ROLLED_FORWARD", result.report.get("error")
    assert [(h["component"], h["version"]) for h in result.report["hotfixes"]] == [
        ("enrich", "19"),
        ("store", "6"),
    ]
    enrich = moves_of(result, "enrich")
    promoted_18 = next(i for i, m in enumerate(enrich) if m["weights"] == {"18": 100.0})
    assert all(m["weights"].get("17", 0) == 0 for m in enrich[promoted_18:]), enrich
    # the pull-back of round 2 went to 18, and the next shift of 19 started from 18
    assert {"component": "enrich", "weights": {"18": 100.0}} in [
        {"component": m["component"], "weights": m["weights"]}
        for m in enrich
        if m["action"] == "pull-back"
    ]
    assert result.report["final"]["enrich"]["weights"] == {"19": 100.0}
    assert result.report["final"]["store"]["weights"] == {"6": 100.0}
    assert result.report["final"]["ingest"]["weights"] == {"43": 100.0}
    assert_sound(result)


def single(steps: list[float], **gates: Any) -> dict[str, Any]:
    return manifest_data(
        {"solo": {"from": {"version": "1"}, "to": {"version": "2"}}},
        release="solo",
        defaults={"strategy": {"steps": steps, "bake_seconds": 60}, "gates": gates},
    )


def test_a_failing_last_step_is_pulled_back_not_held(dry: MakeRun) -> None:
    """Item 9: a 100% step that fails its gate is not a promotion: going back is safe here."""
    result = dry(single([100]), {"versions": {"solo@2": {"error_rate": 0.5}}}).run(timeout=TIMEOUT)
    assert result.status == "FAILED"
    solo = moves_of(result, "solo")
    assert [(m["action"], m["weights"]) for m in solo] == [
        ("shift", {"2": 100.0}),
        ("pull-back", {"1": 100.0}),
    ]
    assert result.report["final"]["solo"]["weights"] == {"1": 100.0}
    assert_sound(result)


def test_too_little_traffic_holds_the_release_and_blames_no_version(dry: MakeRun) -> None:
    """Item 6: 10% of 50/min is 5 invocations a bake, under min_invocations 20: INCONCLUSIVE up
    to its limit, then the release is held (no pull-back, no hotfix demand); a dry run ends it
    as the real one would at its timeout: HALTED. (The threshold rule: the sequential judge
    carries the evidence of every re-bake, so 4 x 5 invocations reach min_invocations.)"""
    run = dry(single([10, 100], judge="threshold"), {"traffic_per_minute": 50})
    result = run.run(timeout=TIMEOUT)
    assert result.status == "HALTED", result.report.get("error")
    solo = moves_of(result, "solo")
    assert [m["action"] for m in solo] == ["shift"]  # nothing pulled back
    assert result.report["failure"] is None
    subjects = [n["subject"] for n in result.notifications]
    held = "not enough traffic to judge for solo, release held"
    assert any(held in s for s in subjects), subjects
    assert not any("hotfix needed" in s for s in subjects)
    verdicts = result.report["final"]["solo"]["verdicts"]
    assert {v["phase"] for v in verdicts} == {"INCONCLUSIVE"}
    assert_sound(result)


def test_a_held_release_resumes_and_completes(dry: MakeRun) -> None:
    """`rollout resume` continues a held release: the held step re-bakes and passes once traffic
    is back."""
    run = dry(
        single([10, 100], judge="threshold"),
        {"traffic_per_minute": 50},
        auto_hotfix=False,
        hotfix_timeout_seconds=120,
    )
    arn = run.start()
    assert run.deployment is not None and run.simulator is not None
    ports = run.deployment.ports
    parked = wait_until(lambda: waiting_token(ports, "solo"), TIMEOUT, "the hold")
    assert parked["purpose"] == "resume"
    run.simulator.scenario = run.simulator.scenario.model_copy(update={"traffic_per_minute": 600})
    resumed = resume_release(ports, run.deployment.sfn, "solo")
    assert resumed["held"]["why"] == "not-enough-traffic"
    result = run.finish(arn, timeout=TIMEOUT)
    assert result.status == "SUCCEEDED", result.report.get("error")
    assert result.report["final"]["solo"]["weights"] == {"2": 100.0}
    assert_sound(result)


def test_a_lock_that_cannot_be_released_is_reported_not_a_failed_release(
    dry: MakeRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 8: a persistent DynamoDB fault at ReleaseLocks after a complete release: on-call is
    told the lock was left behind, and the release still ends SUCCEEDED with its report."""
    run = dry(single([100]))
    assert run.deployment is not None
    leases = run.deployment.ports.leases

    def refuse(key: str, owner: str) -> None:
        raise EnvironmentProblemError(f"DynamoDB unavailable (releasing {key})")

    monkeypatch.setattr(leases, "release", refuse)
    result = run.run(timeout=TIMEOUT)
    assert result.status == "SUCCEEDED", result.report
    assert result.report["final"]["solo"]["weights"] == {"2": 100.0}
    subjects = [n["subject"] for n in result.notifications]
    assert "rollout solo: release completed, its locks were left behind" in subjects
    [note] = [n for n in result.notifications if "left behind" in n["subject"]]
    assert "runbooks/lock-left-behind.md" in note["message"]
    assert_sound(result)
