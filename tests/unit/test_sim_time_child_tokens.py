"""A child parked on its own task token (an approval or a pause) does not hold the dry run's clock
while a person answers it, and acts again at the current time once answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from orchestrator.local.sim_time import SimulatedTime

T0 = datetime(2026, 12, 1, tzinfo=UTC)


class FakeSimulator:
    def __init__(self) -> None:
        self.now = T0
        self.clock = SimpleNamespace(now=lambda: self.now)

    def tick_until(self, until: datetime) -> None:
        self.now = until


def test_a_parked_child_leaves_the_clock_and_joins_when_answered() -> None:
    simulator: Any = FakeSimulator()
    timeline = SimulatedTime(simulator, answers_waits=False, stall_seconds=5)
    parked = {"release": "r", "component": "enrich", "round": 1}
    baking = {"release": "r", "component": "store", "round": 1}
    timeline.child_started("r--enrich--r1", parked)
    timeline.child_started("r--store--r1", baking)
    timeline.after_step("WaitForApproval", parked, None, {"parked": True})
    assert timeline.keeper.running() == ["store#r1"]
    shift = {"nominal_bake_seconds": 60, "done": False}
    timeline.before_step("Advance", {**baking, "shift": shift})  # nobody else holds the clock
    assert simulator.now == T0 + timedelta(seconds=60)
    timeline.child_answered("enrich#r1")
    assert timeline.keeper.running() == ["enrich#r1", "store#r1"]


def test_a_dry_run_that_answers_waits_keeps_the_child_on_the_clock() -> None:
    simulator: Any = FakeSimulator()
    timeline = SimulatedTime(simulator, answers_waits=True, stall_seconds=5)
    parked = {"release": "r", "component": "enrich", "round": 1}
    timeline.child_started("r--enrich--r1", parked)
    timeline.after_step("WaitForApproval", parked, None, {"parked": True})
    assert timeline.keeper.running() == ["enrich#r1"]
