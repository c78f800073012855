"""Concurrent FinishShifts lose no wake-up, whatever the order of their ledger operations.

Children that finish at the same moment (a common bake end) run FinishShift at the same time: each
frees its slot, queues its successors and fills free slots from the queue, with no lock between
them. The scheduler's claim is that in every interleaving a free slot never stays empty while a
ready component waits (``release/scheduling.py``, "Losing no wake-up").

Here the interleavings are chosen, not left to thread timing: every record-store operation is a
turn, and a seeded scheduler picks which of the concurrent FinishShifts makes the next one (the
others wait at theirs). Only one thread runs at a time, so the fakes need no locks, and a seed
gives the same interleaving on every run.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from orchestrator.model.steps import FinishInput, ReleaseRef
from orchestrator.ports import Ports
from orchestrator.steps.finish_shift import finish_shift
from orchestrator.steps.start_shifts import start_shifts
from orchestrator.testing import FakeRecordStore, Fakes
from tests.functional.test_scheduling import fully_shifted, park, planned, started

SEEDS = 60
"""Random releases tried (each a few dozen interleaved rounds; about 0.1 s each)."""

TURN_TIMEOUT = 30.0
"""Seconds a turn may take (a thread blocked anywhere but at a turn would hang the test)."""


class Turns:
    """Runs functions in threads, one record-store operation at a time, in a seeded order."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._cv = threading.Condition()
        self._ids: dict[int, int] = {}  # thread ident -> its function's index (stable order)
        self._at: set[int] = set()  # indexes waiting at a turn
        self._live: set[int] = set()
        self._turn: int | None = None
        self.turns = 0

    def point(self) -> None:
        """Wait for this thread's turn (a no-op outside the threads ``run`` starts)."""
        with self._cv:
            me = self._ids.get(threading.get_ident())
            if me is None:
                return
            self._at.add(me)
            self._turn = None
            self._cv.notify_all()
            if not self._cv.wait_for(lambda: self._turn == me, timeout=TURN_TIMEOUT):
                raise TimeoutError(f"thread {me} never got its turn")
            self._at.discard(me)

    def run(self, fns: list[Callable[[], Any]]) -> list[Any]:
        results: list[Any] = [None] * len(fns)
        errors: list[BaseException] = []

        def body(index: int) -> None:
            with self._cv:
                self._ids[threading.get_ident()] = index
                self._live.add(index)
            try:
                self.point()  # nobody starts before the scheduler picks it
                results[index] = fns[index]()
            except BaseException as error:  # re-raised in the caller
                errors.append(error)
            finally:
                with self._cv:
                    self._live.discard(index)
                    self._turn = None
                    self._cv.notify_all()

        threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(len(fns))]
        for thread in threads:
            thread.start()
        with self._cv:
            assert self._cv.wait_for(lambda: len(self._at) == len(fns), timeout=TURN_TIMEOUT)
            while self._live:
                ready = self._cv.wait_for(
                    lambda: self._turn is None and self._at == self._live, timeout=TURN_TIMEOUT
                )
                assert ready, "a thread blocked outside a turn"
                if not self._live:
                    break
                self._turn = self._rng.choice(sorted(self._at))
                self.turns += 1
                self._cv.notify_all()
        for thread in threads:
            thread.join(TURN_TIMEOUT)
        if errors:
            raise errors[0]
        return results


class TurnTakingRecords:
    """The fake record store, each operation one turn."""

    def __init__(self, store: FakeRecordStore, turns: Turns) -> None:
        self._store = store
        self._turns = turns

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def operation(*args: Any, **kwargs: Any) -> Any:
            self._turns.point()
            return attr(*args, **kwargs)

        return operation


def _finisher(ports: Ports, name: str) -> Callable[[], list[str]]:
    return lambda: finish_shift(FinishInput(release="r1", component=name, round=0), ports).started


@pytest.mark.parametrize("seed", range(SEEDS))
def test_concurrent_finishes_leave_no_free_slot_beside_a_waiting_component(seed: int) -> None:
    """Random DAGs and concurrencies; each round two or more running children (up to all)
    finish at once, their ledger operations interleaved at random. After each round the
    children running number min(max_concurrency, components ready); every component is
    started once; at the end nothing holds a slot or waits, and the parent was told success."""
    rng = random.Random(seed)
    nodes = [f"c{i:02d}" for i in range(rng.randint(8, 16))]
    edges = [(u, v) for i, u in enumerate(nodes) for v in nodes[i + 1 :] if rng.random() < 0.15]
    k = rng.randint(2, 6)
    fakes: Fakes = planned(nodes, edges, max_concurrency=k)
    start_shifts(ReleaseRef(release="r1"), fakes.ports)
    park(fakes)
    preds = {n: {u for u, v in edges if v == n} for n in nodes}
    done: set[str] = set()
    rounds = 0
    while len(done) < len(nodes):
        running = [n for n in started(fakes) if n not in done]
        ready = [n for n in nodes if n not in done and preds[n] <= done]
        assert len(running) == min(k, len(ready)), (seed, rounds, running, ready)
        together = rng.sample(running, rng.randint(min(2, len(running)), len(running)))
        for name in together:
            fully_shifted(fakes, name)
        turns = Turns(seed * 1000 + rounds)
        ports = replace(fakes.ports, records=TurnTakingRecords(fakes.records, turns))  # type: ignore[arg-type]
        turns.run([_finisher(ports, name) for name in together])
        done.update(together)
        rounds += 1
    assert sorted(started(fakes)) == nodes, seed
    assert fakes.records.list("r1", "slot#") == [] and fakes.records.list("r1", "waiting#") == []
    assert fakes.callbacks.answers["parent-token"]["status"] == "success"
