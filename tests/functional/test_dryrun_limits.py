"""How a dry run knows it cannot finish (issue 9, major 4), without an engine.

* ``capacity_warnings``: what would make an execution exceed Step Functions' 25,000 events is
  named before the release starts: a component with too many steps (its child's history), or a
  release that runs for weeks (the parent's periodic checks); the number of components no longer
  binds (children, and no payload or record growing with the release).
* ``_StallWatch``: an execution whose history has ended on a failure event and does not move is
  stuck (the trace of an engine worker that died); anything else that is slow is not.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from orchestrator.cli.app import app
from orchestrator.local.dry_run import STALL_SECONDS, DryRun, DryRunResult, _StallWatch
from orchestrator.local.engine import EmbeddedEngine
from orchestrator.local.runner import ExecutionResult
from orchestrator.model.load import load_manifest, manifest_from_data
from orchestrator.planning import plan_release
from orchestrator.planning.capacity import (
    HISTORY_EVENT_LIMIT,
    capacity_warnings,
    estimated_child_events,
    estimated_parent_events,
)
from tests.bench.bench_dry_run import synthetic_release


def warnings_for(components: int, steps: int = 3) -> list[str]:
    manifest = manifest_from_data(synthetic_release(components, 4, steps, "big"))
    return [issue.message for issue in capacity_warnings(manifest, plan_release(manifest))]


def test_the_seed_release_fits() -> None:
    manifest = load_manifest("examples/seed.yaml")
    assert capacity_warnings(manifest, plan_release(manifest)) == []


def test_the_size_of_a_release_no_longer_binds() -> None:
    """Children per component and no payload growing with the release: 1,000 components of
    3 steps raise no warning (one execution used to hold about 150)."""
    assert warnings_for(1000) == []


def test_the_child_estimate_is_the_measured_shape() -> None:
    """39 events measured for a child of 3 steps of one look (tests/bench/bench_scale.py)."""
    manifest = manifest_from_data(synthetic_release(10, 4, 3, "ten"))
    name = next(iter(manifest.components))
    assert 36 <= estimated_child_events(manifest, name) <= 42


def test_a_component_with_too_many_steps_is_named_with_the_figures() -> None:
    data = synthetic_release(4, 4, 3, "steps")
    name = next(iter(data["components"]))
    steps = [round(100 * (i + 1) / 300, 3) for i in range(300)]
    data["components"][name]["strategy"] = {"steps": steps, "bake_seconds": 600}
    manifest = manifest_from_data(data)
    [issue] = capacity_warnings(manifest, plan_release(manifest))
    assert issue.path == f"components.{name}.strategy"
    assert f"{HISTORY_EVENT_LIMIT:,}" in issue.message and "fewer steps" in issue.message


def test_a_release_that_runs_for_weeks_is_named() -> None:
    data = synthetic_release(8, 8, 3, "weeks")
    for spec in data["components"].values():
        spec["strategy"] = {"steps": [10, 50, 100], "bake_seconds": 86_400}
    manifest = manifest_from_data(data)
    plan = plan_release(manifest)
    assert estimated_parent_events(manifest, plan) > HISTORY_EVENT_LIMIT
    [issue] = capacity_warnings(manifest, plan)
    assert "days" in issue.message and "split it" in issue.message


def test_more_steps_reach_the_limits_sooner() -> None:
    assert warnings_for(60, steps=3) == []
    assert warnings_for(60, steps=10) == []  # 10 steps of 60 s: about 120 events per child


class FakeHistory:
    """``get_execution_history(reverseOrder=True, maxResults=1)`` of a scripted execution."""

    def __init__(self) -> None:
        self.last: dict[str, Any] = {"id": 1, "type": "ExecutionStarted"}
        self.reads = 0
        self.fail = False

    def get_execution_history(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["reverseOrder"] is True and kwargs["maxResults"] == 1
        self.reads += 1
        if self.fail:
            raise RuntimeError("engine busy")
        return {"events": [dict(self.last)]}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def watch(history: FakeHistory, clock: Clock) -> _StallWatch:
    return _StallWatch(history, "arn:execution", clock=clock)


def run_for(watch_: _StallWatch, clock: Clock, seconds: float) -> dict[str, Any] | None:
    found = None
    end = clock.now + seconds
    while clock.now < end and found is None:
        clock.now += 1.0
        found = watch_.check()
    return found


def test_a_history_that_ends_on_a_failed_iteration_and_stops_is_stuck() -> None:
    history, clock = FakeHistory(), Clock()
    w = watch(history, clock)
    history.last = {"id": 77, "type": "MapIterationFailed"}
    assert run_for(w, clock, STALL_SECONDS - 10) is None
    stuck = run_for(w, clock, 30)
    assert stuck == {"id": 77, "type": "MapIterationFailed"}
    assert history.reads < 30, "the last event is read now and then, not on every poll"


def test_a_moving_history_is_not_stuck() -> None:
    history, clock = FakeHistory(), Clock()
    w = watch(history, clock)
    for event_id in range(2, 40):
        history.last = {"id": event_id, "type": "LambdaFunctionFailed"}
        assert run_for(w, clock, 10) is None


def test_waiting_is_not_stuck() -> None:
    """A bake, a parked hotfix token, a long handler: the engine is waiting on purpose."""
    for kind in ("WaitStateEntered", "TaskSubmitted", "LambdaFunctionStarted", "TaskStarted"):
        history, clock = FakeHistory(), Clock()
        w = watch(history, clock)
        history.last = {"id": 9, "type": kind}
        assert run_for(w, clock, 10 * STALL_SECONDS) is None, kind


def test_an_unreadable_history_is_no_evidence() -> None:
    history, clock = FakeHistory(), Clock()
    w = watch(history, clock)
    history.last = {"id": 5, "type": "MapIterationFailed"}
    history.fail = True
    assert run_for(w, clock, 3 * STALL_SECONDS) is None


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_validate_and_plan_warn_with_the_figure(command: str, tmp_path: Path) -> None:
    data = synthetic_release(8, 8, 3, "weeks")
    for spec in data["components"].values():
        spec["strategy"] = {"steps": [10, 50, 100], "bake_seconds": 86_400}
    manifest = tmp_path / "weeks.json"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    out = CliRunner().invoke(app, [command, str(manifest)])
    assert out.exit_code == 0, out.output
    assert "days" in " ".join(out.output.split()) and "25,000" in out.output
    big = tmp_path / "big.json"
    big.write_text(json.dumps(synthetic_release(200, 4, 3, "big")), encoding="utf-8")
    out = CliRunner().invoke(app, [command, str(big)])
    assert out.exit_code == 0 and "25,000" not in out.output, out.output


class StubDeployment:
    """What ``DryRun.finish`` reads of a deployment, for an execution that has ended."""

    def __init__(self, execution: ExecutionResult) -> None:
        self.execution = execution
        self.sfn = FakeHistory()
        self.invocations: Counter[str] = Counter()
        self.metric_calls = 0

    def wait(self, arn: str, timeout: float, on_poll: Any = None, **_: Any) -> ExecutionResult:
        return self.execution

    def notifications(self) -> list[dict[str, str]]:
        return []


class StubSimulator:
    def message_ledger(self) -> dict[str, dict[str, int]]:
        return {}

    def ledger_mismatches(self) -> dict[str, tuple[int, int]]:
        return {}


def finished(execution: ExecutionResult) -> DryRunResult:
    manifest = load_manifest("examples/seed.yaml")
    run = DryRun(manifest, {}, engine=EmbeddedEngine())  # never started
    run.deployment = StubDeployment(execution)  # type: ignore[assignment]
    run.simulator = StubSimulator()  # type: ignore[assignment]
    return run.finish("arn:execution")


def test_a_release_that_reported_then_failed_is_failed() -> None:
    """155 components of 3 steps: Report returned SUCCEEDED, then the Report state's output
    was over 256 KB and the execution FAILED; `start --wait` on AWS would say FAILED."""
    result = finished(
        ExecutionResult(
            execution_arn="arn:execution",
            status="FAILED",
            report={"release": "2026-11-28.1", "status": "SUCCEEDED", "final": {}},
            events=6464,
            transitions=1000,
            error="States.DataLimitExceeded",
            cause="The state/task 'Report' returned a result with a size exceeding the limit",
        )
    )
    assert result.status == "FAILED"
    assert result.report["error"]["Error"] == "States.DataLimitExceeded"


def test_a_halted_release_keeps_its_status() -> None:
    result = finished(
        ExecutionResult(
            execution_arn="arn:execution",
            status="FAILED",
            report={"release": "2026-11-28.1", "status": "HALTED", "final": {}},
            events=100,
            transitions=30,
            error="ReleaseHalted",
        )
    )
    assert result.status == "HALTED"
