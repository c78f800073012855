"""How a dry run knows it cannot finish (issue 9, major 4), without an engine.

* ``capacity_warnings``: a release bigger than one execution holds is named before it starts:
  its report over the 256 KB a state can pass on (what binds first: 200 components of 3 steps
  shifted every alias and then failed at Report with States.DataLimitExceeded), and its history
  over Step Functions' 25,000 events, both estimated from the plan.
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
    DRY_RUN_CEILING,
    HISTORY_EVENT_LIMIT,
    capacity_warnings,
    estimated_events,
    estimated_report_bytes,
)
from tests.bench.bench_dry_run import synthetic_release


def warnings_for(components: int, steps: int = 3) -> list[str]:
    manifest = manifest_from_data(synthetic_release(components, 4, steps, "big"))
    return [issue.message for issue in capacity_warnings(manifest, plan_release(manifest))]


def test_the_seed_release_fits() -> None:
    manifest = load_manifest("examples/seed.yaml")
    assert capacity_warnings(manifest, plan_release(manifest)) == []


def test_the_estimate_is_the_measured_shape() -> None:
    """80 fixed events plus 13 per traffic step of each shifted component: the figures of
    tests/bench/bench_dry_run.py (2,030 events measured for 50 components of 3 steps)."""
    manifest = manifest_from_data(synthetic_release(50, 4, 3, "fifty"))
    assert estimated_events(manifest, plan_release(manifest)) == 80 + 13 * 3 * 50


def test_the_report_estimate_errs_high_on_the_measured_sizes() -> None:
    """Measured (default JSON separators, as the payload check counts): 40 x 3 steps 63,546
    bytes, 40 x 6 125,809, 80 x 3 131,886; 150 x 3 finished; 155 x 3 exceeded 256 KB."""
    for components, steps, measured in ((40, 3, 63_546), (40, 6, 125_809), (80, 3, 131_886)):
        manifest = manifest_from_data(synthetic_release(components, 4, steps, "m"))
        estimate = estimated_report_bytes(manifest, plan_release(manifest))
        assert measured <= estimate <= measured * 1.15, (components, steps, estimate)


def test_a_release_beyond_the_payload_limit_is_named_with_the_figures() -> None:
    [payload] = [m for m in warnings_for(200) if "KB" in m]
    assert "200 components (200 to shift in 600 traffic steps)" in payload
    assert "more than the 256 KB" in payload and "States.DataLimitExceeded" in payload
    assert "about 151 components of 3 steps" in payload
    assert f"{DRY_RUN_CEILING} finished, 155 failed" in payload and "split" in payload


def test_the_measured_ceiling_passes_without_a_warning() -> None:
    assert warnings_for(DRY_RUN_CEILING) == []
    assert warnings_for(DRY_RUN_CEILING + 10) != []


def test_a_release_beyond_the_history_cap_is_named_with_the_figures() -> None:
    messages = warnings_for(700)
    [cap] = [m for m in messages if f"{HISTORY_EVENT_LIMIT:,}" in m]
    assert "700 components" in cap and "27,380 history events" in cap
    assert "about 638 components of 3 steps" in cap and "split" in cap


def test_more_steps_reach_the_limits_sooner() -> None:
    assert warnings_for(60, steps=3) == []
    assert [m for m in warnings_for(60, steps=10) if "KB" in m]


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
    manifest = tmp_path / "big.json"
    manifest.write_text(json.dumps(synthetic_release(200, 4, 3, "big")), encoding="utf-8")
    out = CliRunner().invoke(app, [command, str(manifest)])
    assert out.exit_code == 0, out.output
    assert "256 KB" in out.output and "about 151 components of 3 steps" in out.output


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
