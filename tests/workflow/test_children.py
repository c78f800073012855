"""Child executions and event-driven scheduling on the embedded engine (issue 11).

Each component shifts in its own execution of ``shift_component.asl.json``, started as soon as
its own predecessors are promoted; time is the dry run's discrete-event clock, so start times are
exact and the same on every run.
"""

from __future__ import annotations

import itertools
import threading
from datetime import datetime
from typing import Any

import pytest

from orchestrator.local.dry_run import DryRunResult
from orchestrator.model.load import manifest_from_data
from orchestrator.planning.capacity import estimated_child_events
from tests.dag_factory import dag_manifest
from tests.workflow.conftest import MakeRun

pytestmark = pytest.mark.workflow

STEPS = [10.0, 50.0, 100.0]
EXACT = {"noise": False}


def t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def diamond(**extra: Any) -> dict[str, Any]:
    """a -> (b: 600 s bakes, c: 60 s bakes) -> d, and c -> e."""
    nodes = ["a", "b", "c", "d", "e"]
    edges = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("c", "e")]
    bake = {"a": 60, "b": 600, "c": 60, "d": 60, "e": 60}
    return dag_manifest(
        nodes,
        edges,
        bake=bake,
        steps={n: STEPS for n in nodes},
        defaults={"gates": {"judge": "threshold"}},
        **extra,
    )


def offsets(result: DryRunResult) -> dict[str, tuple[float, float]]:
    final = result.report["final"]
    zero = min(t(c["started_at"]) for c in final.values() if c.get("started_at"))
    return {
        name: (
            (t(c["started_at"]) - zero).total_seconds(),
            (t(c["finished_at"]) - zero).total_seconds(),
        )
        for name, c in final.items()
        if c.get("started_at") and c.get("finished_at")
    }


def test_a_short_branch_successor_starts_as_soon_as_its_own_predecessor_finishes(
    dry: MakeRun,
) -> None:
    result = dry(diamond(), EXACT).run(timeout=300)
    assert result.status == "SUCCEEDED"
    when = offsets(result)
    assert when["a"] == (0.0, 180.0)
    assert when["b"] == (180.0, 180.0 + 1800.0)
    assert when["c"] == (180.0, 360.0)
    # e waits for c only: it starts at once, long before b (in the same wave) finishes
    assert when["e"] == (360.0, 540.0)
    assert when["d"] == (1980.0, 2160.0)
    assert result.execution.executions["count"] == 6  # the parent and one child per component
    assert result.execution.executions["parent_events"] < 60
    # a child of 3 steps of one look each: the shape planning/capacity.py estimates from, and
    # 11 transitions (PrepareShift, 3 x Bake/Advance/Shifted?, FinishShift)
    manifest = manifest_from_data(diamond())
    assert {c["events"] for c in result.execution.children} == {
        estimated_child_events(manifest, "a")
    }
    assert {c["transitions"] for c in result.execution.children} == {11}


def test_the_same_release_gives_the_same_timeline_every_run(dry: MakeRun) -> None:
    first = offsets(dry(diamond(), EXACT).run(timeout=300))
    second = offsets(dry(diamond(), EXACT).run(timeout=300))
    assert first == second


def test_max_concurrency_holds_while_the_critical_path_goes_first(dry: MakeRun) -> None:
    result = dry(diamond(max_concurrency=1), EXACT).run(timeout=300)
    assert result.status == "SUCCEEDED"
    when = offsets(result)
    spans = sorted(when.values())
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), spans
    assert when["b"][0] < when["c"][0], "b leads the longest path: it takes the slot first"


def test_a_failing_child_freezes_its_running_siblings(dry: MakeRun) -> None:
    scenario = {**EXACT, "versions": {"c@2": {"error_rate": 0.5}}}
    result = dry(diamond(), scenario).run(timeout=300)
    assert result.status in ("HALTED", "FAILED")
    final = result.report["final"]
    assert final["c"]["weights"] == {"1": 100.0}, "the broken canary was pulled back"
    # b was mid-shift when c failed: it stops where it stands, never promoted after the freeze
    assert final["b"]["status"] != "promoted"
    assert all(m["component"] != "d" and m["component"] != "e" for m in result.report["actions"])


def test_abort_with_children_running_stops_them_and_leaves_a_reported_state(
    dry: MakeRun,
) -> None:
    """Real waits (time scale 1, 20 s bakes): abort while a's child sits in its first bake."""
    import time

    from orchestrator.operations import abort_release

    data = dag_manifest(
        ["a", "b"],
        [("a", "b")],
        bake={"a": 20, "b": 20},
        steps={"a": STEPS, "b": STEPS},
        defaults={"gates": {"judge": "threshold"}},
    )
    run = dry(data, EXACT, time_scale=1.0)
    assert run.deployment is not None
    ports, sfn = run.deployment.ports, run.deployment.sfn
    arn = run.start()
    deadline = time.monotonic() + 60
    while not ports.records.list("r1", "slot#") or not ports.records.list("r1", "action#"):
        assert time.monotonic() < deadline, "a's child never started shifting"
        time.sleep(0.1)
    out = abort_release(ports, sfn, "r1", "stop the test release", execution_arn=arn)
    assert out["children_stopped"] == ["a"]
    result = run.finish(arn, timeout=120)
    assert result.status == "FAILED"
    assert result.report["error"]["Error"] == "ReleaseAbortedError"
    children = {c["name"]: c["status"] for c in result.execution.children}
    assert children == {"r1--a--r0": "ABORTED"}, "b never started; a stopped where it stood"
    final = result.report["final"]
    assert final["a"]["status"] != "promoted"
    assert final["b"]["weights"] == {"1": 100.0}


def test_the_parents_periodic_check_parks_again_and_the_release_completes(
    dry: MakeRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parent's wait times out every 300 s (1 s in this test's copy of the definition) and
    parks again through CheckShifts: the release still ends SUCCEEDED with every child done.
    (moto ignores a Catch whose Next is the state itself, which once sent a timed-out wait
    straight to ReleaseLocks.)"""
    import json

    import orchestrator.local.runner as runner

    original = runner.load_definition

    def quick_checks(name: str = "rollout.asl.json") -> str:
        definition = json.loads(original(name))
        if "WaitForShifts" in definition["States"]:
            definition["States"]["WaitForShifts"]["TimeoutSeconds"] = 1
        return json.dumps(definition)

    monkeypatch.setattr(runner, "load_definition", quick_checks)
    run = dry(diamond(), EXACT)
    assert run.deployment is not None
    checked = threading.Event()
    parks: list[str] = []
    hook = run.deployment.before_step

    def before(step: str, event: Any) -> None:
        """The children's first steps wait (at most 60 s) until the parent parks a second time
        (after its first CheckShifts): a release faster than the 1 s wait would otherwise end
        before any check."""
        if step == "WaitForShifts":
            parks.append(step)
            if len(parks) >= 2:
                checked.set()
        elif step == "PrepareShift":
            checked.wait(60)
        if hook is not None:
            hook(step, event)

    run.deployment.before_step = before
    result = run.run(timeout=300)
    assert result.status == "SUCCEEDED"
    assert {c["status"] for c in result.execution.children} == {"SUCCEEDED"}
    names = [
        (e.get("stateEnteredEventDetails") or {}).get("name")
        for e in result.execution.history
        if e["type"].endswith("StateEntered")
    ]
    assert names.count("CheckShifts") >= 1, names
