"""The event-driven scheduler over the ledger (``release.scheduling``), through the fakes.

The parent's StartShifts starts what is ready; each child's FinishShift starts what became ready
and what waits for a slot; the last one answers the parent's token; the first failure answers it
with the error. Child executions are the fake launcher's records.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from orchestrator.model.steps import ComponentRecord, FinishInput, ReleaseRef
from orchestrator.release import ledger, scheduling
from orchestrator.steps.finish_shift import finish_shift
from orchestrator.steps.shift_failed import ShiftFailure, shift_failed
from orchestrator.steps.start_shifts import start_shifts
from orchestrator.steps.wait_for_shifts import ShiftsWait, wait_for_shifts
from orchestrator.testing import Fakes
from tests.dag_factory import dag_manifest

DIAMOND = (["a", "b", "c", "d"], [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])


def planned(nodes: list[str], edges: list[tuple[str, str]], **extra: Any) -> Fakes:
    fakes = Fakes()
    fakes.plan_release(dag_manifest(nodes, edges, **extra))
    return fakes


def started(fakes: Fakes) -> list[str]:
    return [payload["component"] for payload in fakes.shifts.started.values()]  # type: ignore[misc]


def promote(fakes: Fakes, name: str) -> None:
    """The component's record as an earlier round's FinishShift left it."""
    record = ledger.get_component(fakes.records, "r1", name)
    ledger.put_component(
        fakes.records,
        "r1",
        record.model_copy(update={"status": "promoted", "version": "2", "promoted": ["2"]}),
    )


def fully_shifted(fakes: Fakes, name: str) -> None:
    """The alias as the child's last Advance leaves it: fully on the new version (2)."""
    comp = ledger.load_context(fakes.records, "r1").component(name)
    fakes.aliases.add_alias(comp.function, comp.alias, {"2": 100.0})


def finish(fakes: Fakes, name: str, round_: int = 0) -> list[str]:
    fully_shifted(fakes, name)
    out = finish_shift(FinishInput(release="r1", component=name, round=round_), fakes.ports)
    record = ledger.get_component(fakes.records, "r1", name)
    assert (record.status, record.promoted, out.version) == ("promoted", ["2"], "2")
    return out.started


def park(fakes: Fakes, token: str = "parent-token", round_: int = 0) -> None:
    wait_for_shifts(ShiftsWait(release="r1", token=SecretStr(token), round=round_), fakes.ports)


def test_each_component_starts_when_its_own_predecessors_finish() -> None:
    fakes = planned(*DIAMOND)
    out = start_shifts(ReleaseRef(release="r1"), fakes.ports)
    assert (out.round, out.pending, out.started) == (0, 4, 1)
    assert started(fakes) == ["a"]
    park(fakes)
    assert finish(fakes, "a") == ["b", "c"]
    assert finish(fakes, "c") == []  # d still waits for b
    assert started(fakes) == ["a", "b", "c"]
    assert fakes.callbacks.answers == {}
    assert finish(fakes, "b") == ["d"]
    assert finish(fakes, "d") == []
    assert fakes.callbacks.answers == {
        "parent-token": {"status": "success", "output": {"done": True}}
    }


def test_children_are_named_for_release_component_and_round() -> None:
    fakes = planned(*DIAMOND)
    start_shifts(ReleaseRef(release="r1"), fakes.ports)
    assert list(fakes.shifts.started) == ["r1--a--r0"]
    assert fakes.shifts.started["r1--a--r0"] == {"release": "r1", "component": "a", "round": 0}
    arn = scheduling.child_execution(fakes.ports, "r1", "a", 0)
    assert arn is not None and arn.endswith(":r1--a--r0")
    # the component record is the child's own: the starter does not write it (a race)
    assert ledger.get_component(fakes.records, "r1", "a").execution is None


def test_a_retried_start_starts_nothing_twice() -> None:
    fakes = planned(*DIAMOND)
    start_shifts(ReleaseRef(release="r1"), fakes.ports)
    again = start_shifts(ReleaseRef(release="r1"), fakes.ports)
    assert (again.round, again.started) == (0, 0)
    assert started(fakes) == ["a"]
    finish(fakes, "a")
    finish(fakes, "a")  # FinishShift retried
    assert started(fakes) == ["a", "b", "c"]
    assert len(fakes.records.list("r1", "slot#")) == 2


def test_max_concurrency_queues_by_critical_path() -> None:
    # a is a root beside three independent roots; c's branch is the longest
    nodes = ["a", "b", "c", "d", "e"]
    fakes = planned(
        nodes, [("c", "e")], bake={"a": 60, "b": 60, "c": 600, "d": 60, "e": 600}, max_concurrency=2
    )
    out = start_shifts(ReleaseRef(release="r1"), fakes.ports)
    assert out.started == 2
    assert started(fakes) == ["c", "a"]  # c leads the longest path; then by name
    waiting = [item["component"] for _, item in fakes.records.list("r1", "waiting#")]
    assert waiting == ["b", "d"]
    park(fakes)
    assert finish(fakes, "a") == ["b"]  # a's slot goes to the best-ranked waiting component
    assert finish(fakes, "c") == ["e"]  # e became ready and takes c's slot before d
    assert finish(fakes, "b") == ["d"]
    finish(fakes, "e")
    assert fakes.callbacks.answers == {}
    finish(fakes, "d")
    assert fakes.callbacks.answers["parent-token"]["status"] == "success"


def test_a_page_of_stale_waiting_entries_does_not_hide_the_next_component() -> None:
    """The ready queue is read ``max_concurrency`` entries at a time: a full page of entries
    whose component already started (a crash between the start and the delete) is cleaned up and
    the next page read, so the component behind them still takes the free slot."""
    nodes = ["a", "b", "c", "d", "e"]
    fakes = planned(nodes, [], max_concurrency=2)
    start_shifts(ReleaseRef(release="r1"), fakes.ports)  # a, b start; c, d, e wait
    park(fakes)
    assert started(fakes) == ["a", "b"]
    for name in ("c", "d"):  # started by someone else already: their entries are stale
        fakes.records.put("r1", f"started#{name}#r0", {"slot": 9, "at": "x"})
    assert finish(fakes, "a") == ["e"]
    assert fakes.records.list("r1", "waiting#") == []


def test_the_first_failure_freezes_and_tells_the_parent_once() -> None:
    fakes = planned(*DIAMOND)
    start_shifts(ReleaseRef(release="r1"), fakes.ports)
    park(fakes)
    finish(fakes, "a")
    failure = {"Error": "GateFailedError", "Cause": '{"errorMessage": "b broke"}'}
    told = shift_failed(
        ShiftFailure(release="r1", component="b", round=0, failure=failure), fakes.ports
    )
    assert told.told_parent
    assert ledger.flag(fakes.records, "r1", "frozen") is not None
    assert fakes.callbacks.answers["parent-token"]["error"] == "GateFailedError"
    # the sibling stops at its next forward move: it tells nobody
    sibling = shift_failed(
        ShiftFailure(release="r1", component="c", round=0, failure={"Error": "ReleaseFrozenError"}),
        fakes.ports,
    )
    assert not sibling.told_parent
    assert fakes.records.list("r1", "slot#") == []


def test_a_round_that_ended_before_the_parent_parked_is_answered_at_once() -> None:
    fakes = planned(["a"], [])
    start_shifts(ReleaseRef(release="r1"), fakes.ports)
    finish(fakes, "a")  # no token parked yet
    assert fakes.callbacks.answers == {}
    park(fakes)
    assert fakes.callbacks.answers["parent-token"]["status"] == "success"


def test_nothing_to_shift_answers_the_parent_at_once() -> None:
    fakes = planned(["a"], [])
    promote(fakes, "a")
    out = start_shifts(ReleaseRef(release="r1"), fakes.ports)
    assert (out.pending, out.started) == (0, 0)
    park(fakes)
    assert fakes.callbacks.answers["parent-token"]["status"] == "success"


def test_the_next_round_starts_fresh_and_old_children_are_stale() -> None:
    fakes = planned(*DIAMOND)
    start_shifts(ReleaseRef(release="r1"), fakes.ports)
    park(fakes)
    shift_failed(
        ShiftFailure(release="r1", component="a", round=0, failure={"Error": "GateFailedError"}),
        fakes.ports,
    )
    nxt = start_shifts(ReleaseRef(release="r1"), fakes.ports)
    assert nxt.round == 1
    assert "r1--a--r1" in fakes.shifts.started
    assert scheduling.stale(fakes.ports, "r1", 0)
    # an old child that wakes up frees nothing of the new round and starts nothing
    old_child = FinishInput(release="r1", component="a", round=0)
    assert finish_shift(old_child, fakes.ports).started == []
    assert len(fakes.records.list("r1", "slot#")) == 1


def test_component_record_keeps_its_child() -> None:
    record = ComponentRecord(component="a", execution="arn:x", round=2)
    assert ComponentRecord.model_validate(record.model_dump(mode="json")) == record


def test_a_child_that_died_without_telling_halts_the_release_at_the_next_check() -> None:
    fakes = planned(*DIAMOND)
    start_shifts(ReleaseRef(release="r1"), fakes.ports)
    park(fakes)
    assert scheduling.reconcile(fakes.ports, "r1", 0) == []  # a is running: nothing to say
    arn = scheduling.child_execution(fakes.ports, "r1", "a", 0)
    assert arn is not None
    fakes.shifts.statuses[arn] = "FAILED"  # ended on an error no Catch took; slot still held
    park(fakes, token="parent-token-2")  # the wait timed out and WaitForShifts parks again
    assert fakes.callbacks.answers["parent-token-2"]["error"] == "ShiftCrashedError"
    assert "a (FAILED)" in str(fakes.callbacks.answers["parent-token-2"]["cause"])


def test_a_child_that_finished_is_not_taken_for_dead() -> None:
    fakes = planned(["a"], [])
    start_shifts(ReleaseRef(release="r1"), fakes.ports)
    arn = scheduling.child_execution(fakes.ports, "r1", "a", 0)
    assert arn is not None
    finish(fakes, "a")
    fakes.shifts.statuses[arn] = "SUCCEEDED"
    assert scheduling.reconcile(fakes.ports, "r1", 0) == []


def test_a_free_slot_never_stays_empty_while_a_ready_component_waits() -> None:
    """Work conservation over random DAGs, concurrencies and finishing orders (seeded): after
    every FinishShift, the children running are min(max_concurrency, components ready and not
    done); each one's slot goes to someone at once, and every component finishes exactly once."""
    import random

    for seed in range(12):
        rng = random.Random(seed)
        nodes = [f"c{i:02d}" for i in range(rng.randint(6, 14))]
        edges = [(u, v) for i, u in enumerate(nodes) for v in nodes[i + 1 :] if rng.random() < 0.2]
        k = rng.randint(1, 4)
        fakes = planned(nodes, edges, max_concurrency=k)
        start_shifts(ReleaseRef(release="r1"), fakes.ports)
        park(fakes)
        preds = {n: {u for u, v in edges if v == n} for n in nodes}
        done: set[str] = set()
        while len(done) < len(nodes):
            running = [n for n in started(fakes) if n not in done]
            ready = [n for n in nodes if n not in done and preds[n] <= done]
            assert len(running) == min(k, len(ready)), (seed, running, ready)
            name = rng.choice(running)
            finish(fakes, name)
            done.add(name)
        assert sorted(started(fakes)) == nodes, seed
        assert (
            fakes.records.list("r1", "slot#") == [] and fakes.records.list("r1", "waiting#") == []
        )
        assert fakes.callbacks.answers["parent-token"]["status"] == "success"
