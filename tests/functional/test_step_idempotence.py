"""Every step may run twice (ASL Retry, Map siblings, redrives): twice has the effect of once.

Each test seeds a simulated account with the workflow tests' ``dry`` fixture, brings the release
to the point where the step runs (calling the steps before it once, directly through their
handlers with the deployment's ports, as the engine would), then calls the step twice with the
same input and checks that the alias, the ledger's actions and the leases are as after one call.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.local.dry_run import DryRun
from orchestrator.release import ledger
from orchestrator.release.leases import lease_keys
from orchestrator.steps import step_handlers
from tests.factories import manifest_data
from tests.workflow.conftest import MakeRun
from tests.workflow.conftest import dry as dry  # the fixture, shared with the workflow tests

RELEASE = "idempotence"
COMPONENT = "c"
BAKE = 60


def manifest() -> dict[str, Any]:
    """c learns to read schema 2 (wave 1), then p writes it (wave 2)."""
    return manifest_data(
        {
            "p": {
                "from": {"version": "1", "writes": {"q": 1}},
                "to": {"version": "2", "writes": {"q": 2}},
            },
            "c": {
                "from": {"version": "1", "reads": {"q": [1]}},
                "to": {"version": "2", "reads": {"q": [1, 2]}},
            },
        },
        release=RELEASE,
        defaults={"alias": "live", "strategy": {"steps": [10, 50, 100], "bake_seconds": BAKE}},
    )


class Steps:
    """Calls step handlers the way the engine does, on one dry run's account."""

    def __init__(self, run: DryRun) -> None:
        assert run.deployment is not None and run.simulator is not None
        self.run = run
        self.ports = run.deployment.ports
        self.simulator = run.simulator
        self.handlers = step_handlers()

    def call(self, step: str, event: dict[str, Any]) -> dict[str, Any]:
        return self.handlers[step].invoke(event, self.ports)

    def twice(self, step: str, event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Call ``step`` twice; the second call must change nothing the first one did."""
        first = self.call(step, event)
        after_one = self.effect()
        second = self.call(step, event)
        assert self.effect() == after_one, f"a second {step} changed the account or the ledger"
        return first, second

    def effect(self) -> dict[str, Any]:
        """Alias weights, the ledger's actions, lease holders and component records."""
        lam = self.run.engine.client("lambda")
        aliases = {}
        for name in ("c", "p"):
            got = lam.get_alias(FunctionName=name, Name="live")
            aliases[name] = (
                got["FunctionVersion"],
                (got.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {},
            )
        now = self.ports.clock.now()
        keys = ("c:live", "p:live")
        records = ledger.all_components(self.ports.records, RELEASE)
        return {
            "aliases": aliases,
            "actions": [
                a.model_dump(mode="json") for a in ledger.actions(self.ports.records, RELEASE)
            ],
            "leases": {key: self.ports.leases.holder(key, now) for key in keys},
            "records": {
                name: r.model_dump(mode="json", exclude={"verdicts"}) for name, r in records.items()
            },
        }

    def weights(self, name: str) -> dict[str, float]:
        return self.ports.aliases.read(name, "live").weights

    # -- the release up to a step ----------------------------------------------------------------

    def plan(self) -> dict[str, Any]:
        return self.call("ValidateAndPlan", self.start_event())

    def start_event(self) -> dict[str, Any]:
        return {"manifest": manifest(), "options": {"time_scale": 0.0, "dry_run": True}}

    def component_event(self, shift: dict[str, Any] | None = None) -> dict[str, Any]:
        event: dict[str, Any] = {"release": RELEASE, "component": COMPONENT, "wave": 0}
        if shift is not None:
            event["shift"] = shift
        return event

    def bake_and_advance(self, shift: dict[str, Any]) -> dict[str, Any]:
        self.simulator.tick(BAKE)
        return self.call("Advance", self.component_event(shift))


@pytest.fixture
def steps(dry: MakeRun) -> Steps:
    return Steps(dry(manifest()))


def test_validate_and_plan_twice(steps: Steps) -> None:
    first, second = steps.twice("ValidateAndPlan", steps.start_event())
    assert first == second
    assert (first["components"], first["wave_count"]) == (2, 2)
    effect = steps.effect()
    assert effect["actions"] == []
    assert effect["leases"] == {"c:live": None, "p:live": None}
    assert steps.weights("c") == {"1": 100.0}


def test_acquire_locks_twice(steps: Steps) -> None:
    steps.plan()
    first, second = steps.twice("AcquireLocks", {"release": RELEASE})
    assert first == second
    context = ledger.load_context(steps.ports.records, RELEASE)
    assert first["held"] == len(lease_keys(context)) == 2  # a count: $.locks must not grow
    assert steps.effect()["leases"] == {"c:live": RELEASE, "p:live": RELEASE}


def test_prepare_shift_twice(steps: Steps) -> None:
    steps.plan()
    steps.call("AcquireLocks", {"release": RELEASE})
    first, second = steps.twice("PrepareShift", steps.component_event())
    assert first == second
    assert (first["step_index"], first["weight"]) == (0, 10.0)
    assert steps.weights("c") == {"1": 90.0, "2": 10.0}
    assert len(steps.effect()["actions"]) == 1


def test_prepare_shift_again_later_resumes_without_moving(steps: Steps) -> None:
    steps.plan()
    steps.call("AcquireLocks", {"release": RELEASE})
    shift = steps.call("PrepareShift", steps.component_event())
    steps.bake_and_advance(shift)  # now at 50%
    before = steps.effect()
    again = steps.call("PrepareShift", steps.component_event())
    assert steps.effect() == before
    assert (again["step_index"], again["weight"]) == (1, 50.0)
    assert steps.weights("c") == {"1": 50.0, "2": 50.0}


def test_advance_twice(steps: Steps) -> None:
    steps.plan()
    steps.call("AcquireLocks", {"release": RELEASE})
    shift = steps.call("PrepareShift", steps.component_event())
    steps.simulator.tick(BAKE)
    first, second = steps.twice("Advance", steps.component_event(shift))
    assert first == second
    assert (first["step_index"], first["weight"], first["done"]) == (1, 50.0, False)
    assert steps.weights("c") == {"1": 50.0, "2": 50.0}
    actions = steps.effect()["actions"]
    assert [a["weights"] for a in actions] == [{"1": 90.0, "2": 10.0}, {"1": 50.0, "2": 50.0}]


def test_promote_twice(steps: Steps) -> None:
    steps.plan()
    steps.call("AcquireLocks", {"release": RELEASE})
    shift = steps.call("PrepareShift", steps.component_event())
    while not shift["done"]:
        shift = steps.bake_and_advance(shift)
    assert steps.weights("c") == {"2": 100.0}
    event = steps.component_event(shift)
    first = steps.call("Promote", event)
    after_one = steps.effect()
    steps.run.clock.advance(BAKE)  # a retry comes later: the cutover time must not move
    second = steps.call("Promote", event)
    assert steps.effect() == after_one
    assert first == second
    record = ledger.get_component(steps.ports.records, RELEASE, COMPONENT)
    assert record.status == "promoted"
    assert record.promoted_at is not None
    assert record.promoted_at.isoformat() == first["promoted_at"].replace("Z", "+00:00")
    assert len(after_one["actions"]) == 3
    assert after_one["leases"] == {"c:live": RELEASE, "p:live": RELEASE}


def test_release_locks_twice(steps: Steps) -> None:
    steps.plan()
    steps.call("AcquireLocks", {"release": RELEASE})
    first, second = steps.twice("ReleaseLocks", {"release": RELEASE})
    assert first == second
    assert steps.effect()["leases"] == {"c:live": None, "p:live": None}
