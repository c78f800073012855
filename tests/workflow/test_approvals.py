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
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.workflow.conftest import MakeRun, moves_of

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
