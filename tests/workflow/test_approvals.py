"""Manual approvals and pauses (issue 13 item 3) on the embedded engine, in simulated time.

A strategy step may wait for `rollout approve` (``approve_before`` or a ``{pause: true}`` step):
the child parks a task token (WaitForApproval) and moves once approved; an approval that does not
come within ``approval_timeout_seconds`` holds the release (never a rollback) and `rollout
resume` continues it. `rollout pause` stops every forward move at the next step without freezing
anything; `rollout resume` continues. The dry run's scenario plays the operator at simulated
times (``operator: [{at: 600, do: approve, component: enrich}]``), and a wait nobody answers
times out in simulated time instead of stalling the clock.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.release import approvals
from tests.workflow.conftest import MakeRun, moves_of, rollout, wait_until

pytestmark = pytest.mark.workflow

ROOT = Path(__file__).resolve().parents[2]
SEED = yaml.safe_load((ROOT / "examples" / "seed.yaml").read_text())
EXACT: dict[str, Any] = {"noise": False}
TIMEOUT = 240.0


def t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def seed(**strategy: Any) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(SEED)
    data["defaults"]["strategy"] = {"steps": [10, 50, 100], "bake_seconds": 60}
    data["defaults"].setdefault("gates", {})["judge"] = "threshold"
    data["components"]["enrich"]["strategy"] = strategy
    return data


def shift_times(result: Any, component: str) -> dict[float, datetime]:
    return {m["step"]: t(m["at"]) for m in moves_of(result, component) if m["action"] == "shift"}


def test_an_approval_that_comes_moves_the_step_when_it_comes(dry: MakeRun) -> None:
    data = seed(steps=[10, {"pause": True}, 50, 100])
    run = dry(data, {**EXACT, "operator": [{"at": 3600, "do": "approve", "component": "enrich"}]})
    result = run.run(timeout=TIMEOUT)
    assert result.status == "SUCCEEDED", (
        result.report.get("error"),
        result.report.get("rollforward"),
        result.operator,
    )
    times = shift_times(result, "enrich")
    # 10% baked 60 s and passed, then waited for the approval given at 3600 s
    assert (times[50.0] - times[10.0]).total_seconds() > 3000
    assert [a["do"] for a in result.operator] == ["approve"]
    assert result.operator[0]["outcome"] == "done"
    assert result.operator[0]["approved"][0]["step"] == 50.0


def test_an_approval_that_does_not_come_holds_and_resume_continues(dry: MakeRun) -> None:
    data = seed(approve_before=[50], approval_timeout_seconds=1800)
    operator = [
        {"at": 7200, "do": "resume"},  # after the 1800 s timeout held the release
        # the step asks again, with a new 1800 s timeout (at 9000 s and a few simulated seconds:
        # an approval at exactly 9000 s raced it, and lost once in CI under load)
        {"at": 8000, "do": "approve", "component": "enrich"},
    ]
    result = dry(data, {**EXACT, "operator": operator}).run(timeout=TIMEOUT)
    assert result.status == "SUCCEEDED", (result.report.get("error"), result.operator)
    done = [(a["do"], a["outcome"]) for a in result.operator]
    assert done == [
        ("approval-timeout", "done"),
        ("resume", "done"),
        ("approve", "done"),
    ], result.operator
    assert result.operator[0]["at"] == pytest.approx(60 + 1800, abs=120)
    # a hold, not a rollback: nothing was pulled back and no hotfix was asked for
    assert not [m for m in moves_of(result, "enrich") if m["action"] == "pull-back"]
    assert not result.hotfixes_handed_over
    times = shift_times(result, "enrich")
    assert (times[50.0] - times[10.0]).total_seconds() >= 8000 - 200


def test_an_approval_nobody_gives_times_out_in_simulated_time(dry: MakeRun) -> None:
    data = seed(approve_before=[50], approval_timeout_seconds=3600)
    result = dry(data, {**EXACT, "operator": []}).run(timeout=TIMEOUT)
    assert result.status == "HALTED"  # held; a dry run does not wait for a resume
    assert [a["do"] for a in result.operator] == ["approval-timeout"]
    assert 50.0 not in shift_times(result, "enrich")


def test_pause_stops_forward_moves_and_resume_continues(dry: MakeRun) -> None:
    data = seed()
    operator = [{"at": 30, "do": "pause"}, {"at": 1830, "do": "resume"}]
    result = dry(data, {**EXACT, "operator": operator}).run(timeout=TIMEOUT)
    assert result.status == "SUCCEEDED", (result.report.get("error"), result.operator)
    assert [(a["do"], a["outcome"]) for a in result.operator] == [
        ("pause", "done"),
        ("resume", "done"),
    ]
    moved = [t(m["at"]) for m in result.report["actions"]]
    start = min(moved)
    # no alias moved while the release was paused (30 s to 1830 s after the start): enrich
    # stayed at 10%, and ingest (after it) did not start
    assert not [m for m in moved if 30 < (m - start).total_seconds() < 1830], moved
    assert (shift_times(result, "enrich")[50.0] - start).total_seconds() >= 1830


def test_without_an_operator_the_dry_run_approves_at_once(dry: MakeRun) -> None:
    data = seed(steps=[{"pause": True}, 10, 50, 100])
    result = dry(data, EXACT).run(timeout=TIMEOUT)
    assert result.status == "SUCCEEDED", result.report.get("error")
    assert shift_times(result, "enrich")[10.0]


def test_rollout_approve_pause_and_resume_from_the_command_line(dry: MakeRun, engine: Any) -> None:
    release = SEED["release"]
    run = dry(seed(approve_before=[50]), EXACT, auto_hotfix=False)
    arn = run.start()
    assert run.deployment is not None
    ports = run.deployment.ports
    wait_until(
        lambda: approvals.parked_approvals(ports.records, release), TIMEOUT, "the approval wait"
    )
    shown = json.loads(rollout(engine, "status", release, "--format", "json").stdout)
    assert [(a["component"], a["step"]) for a in shown["approvals"]] == [("enrich", 50.0)]
    assert shown["paused"] is None
    text = rollout(engine, "status", release).stdout
    assert (
        "Waiting for approval" in text and f"rollout approve {release} --component enrich" in text
    )

    unknown = rollout(engine, "approve", release, "--component", "enrichh")
    assert unknown.exit_code == 2 and "--component" in unknown.stdout + unknown.stderr
    not_waiting = rollout(engine, "approve", release, "--component", "ingest")
    assert not_waiting.exit_code == 1, not_waiting.stdout
    nothing = rollout(engine, "resume", release)
    assert nothing.exit_code == 1 and "not held or paused" in nothing.stdout + nothing.stderr

    paused = rollout(engine, "pause", release, "--reason", "incident elsewhere")
    assert paused.exit_code == 0, paused.stdout + paused.stderr
    shown = json.loads(rollout(engine, "status", release, "--format", "json").stdout)
    assert shown["paused"]["reason"] == "incident elsewhere"
    assert "Paused" in rollout(engine, "status", release).stdout

    ok = rollout(engine, "approve", release, "--format", "json")
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout)["approved"][0]["component"] == "enrich"
    # approved, but paused: enrich does not move to 50% until the release is resumed
    wait_until(lambda: not approvals.parked_approvals(ports.records, release), TIMEOUT, "answer")
    resumed = rollout(engine, "resume", release, "--format", "json")
    assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
    assert json.loads(resumed.stdout)["unpaused"] is True
    result = run.finish(arn, timeout=TIMEOUT)
    assert result.status == "SUCCEEDED", result.report.get("error")
    late = rollout(engine, "approve", release)
    assert late.exit_code == 1 and "has ended" in late.stdout + late.stderr
