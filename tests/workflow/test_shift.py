"""Shifting, draining and stopping: the real ASL on the embedded engine (DESIGN §4-§7a).

Each test builds its manifest here, runs it with the ``dry`` fixture (a fresh simulated account on
the session's engine) and reads what happened from the report, the ledger, the execution history
and the emulated account. Every run has a timeout (``RUN_TIMEOUT``); nothing sleeps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from orchestrator.local.dry_run import DryRun, DryRunResult
from orchestrator.model.load import manifest_from_data
from orchestrator.planning import plan_release
from orchestrator.release import ledger
from tests.factories import manifest_data
from tests.workflow.conftest import MakeRun, assert_never_backwards, moves, moves_of

pytestmark = pytest.mark.workflow

RUN_TIMEOUT = 120.0
STEPS = [10, 50, 100]
BAKE = 60
COMPONENT_STATES = frozenset({"PrepareShift", "Bake", "Advance", "Shifted?", "Promote"})
"""The states of one component's shift (the ShiftWave iteration): DESIGN §5."""


# -- manifests ------------------------------------------------------------------------------------


def three_waves(release: str = "three-waves", **extra: Any) -> dict[str, Any]:
    """x -> qa -> {y, w};  y -> qb -> z.  Consumer-first everywhere: waves [w, z], [y], [x].

    x moves qa to schema 2 (y and w learn to read it first); y moves qb to schema 2 (z first).
    """
    data = manifest_data(
        {
            "x": {
                "from": {"version": "1", "writes": {"qa": 1}},
                "to": {"version": "2", "writes": {"qa": 2}},
            },
            "y": {
                "from": {"version": "1", "reads": {"qa": [1]}, "writes": {"qb": 1}},
                "to": {"version": "2", "reads": {"qa": [1, 2]}, "writes": {"qb": 2}},
            },
            "w": {
                "from": {"version": "1", "reads": {"qa": [1]}},
                "to": {"version": "2", "reads": {"qa": [1, 2]}},
            },
            "z": {
                "from": {"version": "1", "reads": {"qb": [1]}},
                "to": {"version": "2", "reads": {"qb": [1, 2]}},
            },
        },
        release=release,
        defaults={
            "alias": "live",
            "strategy": {"steps": STEPS, "bake_seconds": BAKE},
            # the threshold rule: these tests read its figures (the sequential judge has its own)
            "gates": {"min_invocations": 20, "max_error_rate": 0.01, "judge": "threshold"},
        },
        **extra,
    )
    return data


def producer_first(release: str = "producer-first") -> dict[str, Any]:
    """p moves q from schema 1 to 2; c@2 drops schema 1: p first, drain q of 1, then c."""
    return manifest_data(
        {
            "p": {
                "from": {"version": "1", "writes": {"q": 1}},
                "to": {"version": "2", "writes": {"q": 2}},
            },
            "c": {
                "from": {"version": "1", "reads": {"q": [1, 2]}},
                "to": {"version": "2", "reads": {"q": [2]}},
            },
        },
        release=release,
        defaults={"alias": "live", "strategy": {"steps": STEPS, "bake_seconds": BAKE}},
    )


def consumer_first(release: str = "consumer-first") -> dict[str, Any]:
    """p moves q from schema 1 to 2; c@2 learns to read 2 first (wave 1), then p (wave 2)."""
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
        release=release,
        defaults={
            "alias": "live",
            "strategy": {"steps": STEPS, "bake_seconds": BAKE},
            "gates": {"judge": "threshold"},
        },
    )


# -- helpers --------------------------------------------------------------------------------------


def from_versions(data: dict[str, Any]) -> dict[str, str]:
    return {name: spec["from"]["version"] for name, spec in data["components"].items()}


def changed(data: dict[str, Any]) -> dict[str, str]:
    """component -> its new version, for every component the release shifts."""
    return {
        name: spec["to"]["version"]
        for name, spec in data["components"].items()
        if spec["to"]["version"] != spec["from"]["version"]
    }


def live_weights(run: DryRun, function: str, alias: str = "live") -> dict[str, float]:
    """The alias's routing read straight from the emulated account (percent)."""
    got = run.engine.client("lambda").get_alias(FunctionName=function, Name=alias)
    extra = (got.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    weights = {str(v): round(float(w) * 100, 6) for v, w in extra.items() if float(w) > 0}
    primary = round(100.0 - sum(weights.values()), 6)
    if primary > 0:
        weights[str(got["FunctionVersion"])] = primary
    return weights


def at(move: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(move["at"]).replace("Z", "+00:00"))


def state_of(event: dict[str, Any], by_id: dict[int, dict[str, Any]]) -> str | None:
    """The state an event belongs to: its own name, or that of the nearest named ancestor."""
    seen = 0
    while event is not None and seen < 10_000:
        for key in (
            "stateEnteredEventDetails",
            "stateExitedEventDetails",
            "mapIterationStartedEventDetails",
            "mapIterationSucceededEventDetails",
            "mapIterationFailedEventDetails",
        ):
            details = event.get(key)
            if details and details.get("name"):
                return str(details["name"])
        event = by_id.get(int(event.get("previousEventId") or 0))  # type: ignore[assignment]
        seen += 1
    return None


def component_events(history: list[dict[str, Any]]) -> int:
    """Events of the components' shifts: their states, Lambda calls and ShiftWave iterations."""
    by_id = {int(e["id"]): e for e in history}
    count = 0
    for event in history:
        name = state_of(event, by_id)
        in_iteration = name == "ShiftWave" and event["type"].startswith("MapIteration")
        if name in COMPONENT_STATES or in_iteration:
            count += 1
    return count


def entered(result: DryRunResult, state: str) -> int:
    """How often ``state`` was entered, in the parent and every child execution."""
    return sum(
        1
        for e in result.execution.all_events()
        if e["type"].endswith("StateEntered")
        and (e.get("stateEnteredEventDetails") or {}).get("name") == state
    )


def scheduled_of(event: dict[str, Any], by_id: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
    """The LambdaFunctionScheduled event a Lambda Started/Failed/Succeeded event follows."""
    current: dict[str, Any] | None = event
    while current is not None:
        if current["type"] == "LambdaFunctionScheduled":
            return current
        if current["type"].endswith("StateEntered"):
            return None
        current = by_id.get(int(current.get("previousEventId") or 0))
    return None


def run_release(run: DryRun) -> DryRunResult:
    return run.run(timeout=RUN_TIMEOUT)


# -- 1. a healthy release ------------------------------------------------------------------------


def test_healthy_three_wave_release_promotes_everything_in_plan_order(dry: MakeRun) -> None:
    data = three_waves()
    run = dry(data)
    plan = plan_release(manifest_from_data(data))
    assert plan.waves == [["w", "z"], ["y"], ["x"]]

    result = run_release(run)

    assert result.status == "SUCCEEDED", result.report
    assert result.execution.status == "SUCCEEDED"
    for name, version in changed(data).items():
        assert live_weights(run, name) == {version: 100.0}, name
        assert result.report["final"][name]["weights"] == {version: 100.0}
        assert result.report["final"][name]["status"] == "promoted"
        component_moves = moves_of(result, name)
        assert [m["weights"][version] for m in component_moves] == [float(s) for s in STEPS]
    for move in moves(result):
        assert {"at", "component", "action", "weights", "previous"} <= set(move)
        assert move["action"] == "shift"
    assert_never_backwards(result, from_versions(data))

    # every constraint: `before` is fully on its new version before `after` starts to move
    order = moves(result)
    assert plan.constraints
    for constraint in plan.constraints:
        before = [i for i, m in enumerate(order) if m["component"] == constraint.before]
        after = [i for i, m in enumerate(order) if m["component"] == constraint.after]
        last, first = order[before[-1]], order[after[0]]
        assert last["weights"] == {changed(data)[constraint.before]: 100.0}, constraint
        assert before[-1] < after[0], constraint
        assert at(last) <= at(first), constraint

    # history budget (DESIGN §5/§6): events of the components' shifts per component per step
    components = len(changed(data))
    # every child's history is its component's shift
    shifts = sum(len(h) for h in result.execution.child_histories.values())
    per_step = shifts / (components * len(STEPS))
    assert 0 < per_step <= 20, per_step
    assert result.execution.events <= 25_000


# -- 2. producer first, then a drain --------------------------------------------------------------

DRAIN_SCENARIO = {"queues": {"q": {"backlog": {"1": 20}, "drain_per_minute": 2}}}
"""20 schema-1 messages worked off at 2 a minute: c's child starts when p is cut over and polls
until they are gone."""


def test_producer_first_waits_for_the_old_schema_backlog_to_drain(dry: MakeRun) -> None:
    data = producer_first()
    plan = plan_release(manifest_from_data(data))
    assert plan.waves == [["p"], ["c"]]
    assert [(d.queue, d.schema_) for d in plan.drains] == [("q", 1)]
    run = dry(data, DRAIN_SCENARIO)
    assert run.deployment is not None and run.simulator is not None
    simulator = run.simulator
    original = run.deployment.before_step
    checks: Counter[str] = Counter()

    def before_step(step: str, event: dict[str, Any]) -> None:
        if original is not None:
            original(step, event)
        if step == "DrainQueues":
            checks[str(event["component"])] += 1

    run.deployment.before_step = before_step

    result = run_release(run)

    # c's child starts at the simulated instant of p's cutover and its first check runs then
    # (Promote and that check take no simulated time): it must wait, not halt (fixed in 4ac152a)
    assert result.status == "SUCCEEDED", result.report.get("error")
    assert live_weights(run, "p") == {"2": 100.0}
    assert live_weights(run, "c") == {"2": 100.0}
    drained = run.deployment.ports.records.get(data["release"], "drained#q#1")
    assert drained is not None, "the drain of q (schema 1) was never proven"
    proven_at = datetime.fromisoformat(str(drained["at"]))
    assert proven_at <= at(moves_of(result, "c")[0])
    assert at(moves_of(result, "p")[-1]) < proven_at
    # p's child never entered DrainQueues (nothing guards p: it pays no state for drains); c's
    # looped check -> Wait, entered from PrepareShift, which ran again once the drain was proven
    assert checks["p"] == 0 and checks["c"] > 1
    assert entered(result, "DrainQueues") == checks["c"]
    assert entered(result, "PrepareShift") == 3  # p once; c before and after its drain
    assert entered(result, "WaitForDrain") == checks["c"] - 1

    # no message lost: every real message is consumed, queued or dead-lettered, as SQS says
    assert result.messages["q"]["sent"] == 20
    assert result.messages["q"]["queued"] == 0
    for queue, figures in result.messages.items():
        assert figures["sent"] == (
            figures["consumed"] + figures["queued"] + figures["dead_lettered"]
        ), queue
    assert simulator.ledger_mismatches() == {}


# -- 3. a failing new version ---------------------------------------------------------------------


def test_erroring_version_fails_its_gate_and_the_release_fails_without_a_hotfix(
    dry: MakeRun,
) -> None:
    data = three_waves("y-breaks")
    run = dry(data, {"noise": False, "versions": {"y@2": {"error_rate": 0.5}}})

    result = run_release(run)

    assert result.status == "FAILED", result.report
    assert result.execution.status == "FAILED"
    failure = result.report["failure"]
    assert failure["component"] == "y"
    assert failure["broken"] == "y"
    assert failure["phase"] == "FAILED"
    assert failure["step"] == 10.0
    reason = " ".join(failure["reasons"])
    assert "max_error_rate" in reason
    assert "0.5000" in reason and "0.01" in reason
    assert failure["values"]["error_rate"] == pytest.approx(0.5)
    # wave 1 was promoted, the later wave never moved
    assert live_weights(run, "w") == {"2": 100.0}
    assert live_weights(run, "z") == {"2": 100.0}
    assert moves_of(result, "x") == []
    assert live_weights(run, "x") == {"1": 100.0}
    # y's canary went back, proven safe (x still writes schema 1; z reads both)
    assert [m["action"] for m in moves_of(result, "y")] == ["shift", "pull-back"]
    assert live_weights(run, "y") == {"1": 100.0}
    assert_never_backwards(result, from_versions(data))
    # the roll-forward path waited for a hotfix (1 s in a dry run without one) and gave up
    assert entered(result, "WaitForHotfix") == 1
    assert entered(result, "ReportFailure") == 1


# -- 4. a promoted consumer breaks on the new schema ----------------------------------------------


def test_consumer_breaking_on_the_new_schema_fails_the_producers_gate(dry: MakeRun) -> None:
    data = consumer_first("consumer-breaks")
    run = dry(data, {"noise": False, "versions": {"c@2": {"errors_on": {"q": {"2": 0.5}}}}})

    result = run_release(run)

    assert result.status == "FAILED", result.report
    failure = result.report["failure"]
    assert failure["component"] == "p"
    assert failure["broken"] == "c"
    assert any("downstream consumer c@2" in r for r in failure["reasons"]), failure["reasons"]
    # c was promoted in wave 1 and holds (a promoted alias never moves backwards)
    assert live_weights(run, "c") == {"2": 100.0}
    assert [m["action"] for m in moves_of(result, "c")] == ["shift"] * 3
    assert_never_backwards(result, from_versions(data))


# -- 5. a throttled alias move is retried ---------------------------------------------------------


def test_throttled_update_alias_is_retried_and_the_release_succeeds(dry: MakeRun) -> None:
    data = three_waves("throttled")
    run = dry(data)
    assert run.deployment is not None
    client = run.deployment.lambda_client
    throttled: list[str] = []

    def throttle_once(params: dict[str, Any], **_: Any) -> None:
        if not throttled:
            throttled.append(str(params.get("url_path")))  # .../functions/<name>/aliases/live
            raise ClientError(
                {"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}},
                "UpdateAlias",
            )

    client.meta.events.register("before-call.lambda.UpdateAlias", throttle_once)

    result = run_release(run)

    assert len(throttled) == 1
    assert result.status == "SUCCEEDED", result.report
    for name, version in changed(data).items():
        assert live_weights(run, name) == {version: 100.0}
    # the alias moves happen in the children: one child's history holds the retry
    history = next(
        h
        for h in result.execution.child_histories.values()
        if any(e["type"] in ("TaskFailed", "LambdaFunctionFailed") for e in h)
    )
    by_id = {int(e["id"]): e for e in history}
    failed = [
        e
        for e in history
        if e["type"] in ("TaskFailed", "LambdaFunctionFailed")
        and (
            e.get("lambdaFunctionFailedEventDetails") or e.get("taskFailedEventDetails") or {}
        ).get("error")
        == "TransientError"
    ]
    assert len(failed) == 1, failed
    first = scheduled_of(failed[0], by_id)
    assert first is not None
    resource = first["lambdaFunctionScheduledEventDetails"]["resource"]
    retried = [
        e
        for e in history
        if e["type"] == "LambdaFunctionScheduled"
        and int(e["previousEventId"]) == int(failed[0]["id"])
    ]
    assert len(retried) == 1
    assert retried[0]["lambdaFunctionScheduledEventDetails"]["resource"] == resource
    succeeded = [
        e
        for e in history
        if e["type"] == "LambdaFunctionSucceeded" and scheduled_of(e, by_id) is retried[0]
    ]
    assert len(succeeded) == 1
    # the retry moved the alias once: no duplicate first step of the throttled component
    component = throttled[0].split("/functions/")[1].split("/")[0]
    assert component in changed(data)
    assert [m["weights"].get("2") for m in moves_of(result, component)] == [10.0, 50.0, 100.0]


# -- 6. an alias moved behind the release's back --------------------------------------------------


def test_alias_drift_halts_the_release_without_overwriting(dry: MakeRun) -> None:
    data = three_waves("drift")
    run = dry(data)
    assert run.deployment is not None
    original: Callable[[str, dict[str, Any]], None] | None = run.deployment.before_step
    advances: Counter[str] = Counter()
    lam = run.engine.client("lambda")
    drifted = {"1": 70.0, "2": 30.0}

    def before_step(step: str, event: dict[str, Any]) -> None:
        if original is not None:
            original(step, event)
        if step == "Advance" and event.get("component") == "y":
            advances["y"] += 1
            if advances["y"] == 2:  # y is at 50%; someone sets it to 30% by hand
                lam.update_alias(
                    FunctionName="y",
                    Name="live",
                    FunctionVersion="1",
                    RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}},
                )

    run.deployment.before_step = before_step

    result = run_release(run)

    assert advances["y"] >= 2
    assert live_weights(run, "y") == drifted, "the release overwrote a drifted alias"
    assert result.status == "HALTED", result.report
    assert result.execution.status == "FAILED"
    named = str(result.report.get("error")) + str(result.report.get("failure"))
    named += " ".join(
        str(e.get("stateEnteredEventDetails", {}).get("input", ""))
        for e in result.execution.history
        if e["type"] == "TaskStateEntered"
    )
    assert "AliasDriftError" in named
    assert (result.report.get("error") or {}).get("Error") == "AliasDriftError"
    # not a gate failure: no hotfix wait, nothing more moved
    assert entered(result, "WaitForHotfix") == 0
    assert entered(result, "ReportHalted") == 1
    assert [m["weights"].get("2") for m in moves_of(result, "y")] == [10.0, 50.0]
    assert moves_of(result, "x") == []
    assert live_weights(run, "x") == {"1": 100.0}


# -- 7. a component locked by another release ---------------------------------------------------


def test_second_release_touching_a_locked_component_is_refused(dry: MakeRun) -> None:
    data = three_waves("locked-out")
    run = dry(data)
    assert run.deployment is not None
    ports = run.deployment.ports
    key = "y:live"
    ports.leases.acquire(key, "other-release", 3600, run.clock.now())

    result = run_release(run)

    assert result.execution.status == "FAILED"
    assert result.execution.error == "LockConflictError"
    assert entered(result, "LockNotAcquired") == 1
    assert result.status == "FAILED"
    assert result.report.get("actions", []) == []
    assert ledger.actions(ports.records, data["release"]) == []
    for name, spec in data["components"].items():
        assert live_weights(run, name) == {spec["from"]["version"]: 100.0}
    assert ports.leases.holder(key, run.clock.now()) == "other-release"
    # all or nothing: the leases AcquireLocks took before the conflict were given back
    for other in ("w", "x", "z"):
        assert ports.leases.holder(f"{other}:live", run.clock.now()) is None


# -- simulated time ------------------------------------------------------------------------------


def test_parallel_bakes_overlap_in_simulated_time(dry: MakeRun) -> None:
    data = three_waves("parallel-bakes")
    run = dry(data)
    result = run_release(run)
    assert result.status == "SUCCEEDED"
    wave_started = min(at(moves_of(result, name)[0]) for name in ("w", "z"))
    next_wave = at(moves_of(result, "y")[0])
    # overlapping: at least one component's bakes, but far less than both one after the other
    # (the two may start one tick apart, depending on which thread the engine runs first)
    took = (next_wave - wave_started).total_seconds()
    assert len(STEPS) * BAKE <= took < 2 * len(STEPS) * BAKE
