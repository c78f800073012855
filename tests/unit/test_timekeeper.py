"""The dry run's discrete-event clock: time moves only when every actor waits."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.local.timekeeper import StalledClockError, TimeKeeper

T0 = datetime(2026, 12, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0
        self.windows: list[tuple[datetime, datetime]] = []

    def advance(self, until: datetime) -> None:
        self.windows.append((self.now, until))
        self.now = until


def keeper(clock: Clock, stall: float = 30.0) -> TimeKeeper:
    return TimeKeeper(lambda: clock.now, clock.advance, stall_seconds=stall)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_lone_sleeper_moves_the_clock_to_its_wake_up_time() -> None:
    clock = Clock()
    k = keeper(clock)
    k.sleep_until("a", at(300))
    assert clock.now == at(300)
    assert clock.windows == [(T0, at(300))]
    k.sleep_until("a", at(100))  # already past: returns at once
    assert clock.now == at(300)


def test_time_waits_for_an_actor_that_is_still_running() -> None:
    clock = Clock()
    k = keeper(clock)
    k.join("b")
    woke = threading.Event()

    def sleeper() -> None:
        k.sleep_until("a", at(60))
        woke.set()

    thread = threading.Thread(target=sleeper)
    thread.start()
    # b is running: however long we wait, a does not wake (a bounded, generous check)
    assert not woke.wait(timeout=0.3)
    assert clock.now == T0
    k.leave("b")
    assert woke.wait(timeout=10)
    thread.join(timeout=10)
    assert clock.now == at(60)


def test_several_sleepers_wake_in_time_order_whatever_the_threads_do() -> None:
    clock = Clock()
    k = keeper(clock)
    order: list[str] = []
    lock = threading.Lock()
    for name in ("a", "b", "c"):
        k.join(name)

    def run(name: str, wake: float) -> None:
        k.sleep_until(name, at(wake))
        with lock:
            order.append(f"{name}@{(clock.now - T0).total_seconds():g}")
        k.leave(name)

    threads = [
        threading.Thread(target=run, args=(n, w)) for n, w in (("c", 300), ("a", 100), ("b", 200))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert order == ["a@100", "b@200", "c@300"]
    assert clock.windows == [(T0, at(100)), (at(100), at(200)), (at(200), at(300))]


def test_an_actor_that_never_comes_back_is_a_loud_error() -> None:
    clock = Clock()
    k = keeper(clock, stall=0.2)
    k.join("forgotten")
    with pytest.raises(StalledClockError, match="forgotten never slept or left"):
        k.sleep_until("a", at(60))


def test_a_cancelled_sleeper_wakes_at_once_and_the_others_sleep_on() -> None:
    """Each sleeper has its own wake-up: cancelling one wakes it (False), not its neighbours."""
    clock = Clock()
    k = keeper(clock)
    k.join("runner")  # holds the clock: nobody's time comes while it runs
    answers: dict[str, bool] = {}
    done = {name: threading.Event() for name in ("a", "b")}

    def sleeper(name: str) -> None:
        answers[name] = k.sleep_until(name, at(100))
        done[name].set()

    threads = [threading.Thread(target=sleeper, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while k.sleeping() != ["a", "b"] and time.monotonic() < deadline:
        time.sleep(0.01)  # polling with a timeout: both must be asleep before the cancel
    assert k.sleeping() == ["a", "b"]
    k.cancel("a")
    assert done["a"].wait(timeout=10)
    assert answers == {"a": False}
    assert not done["b"].wait(timeout=0.2) and clock.now == T0
    k.leave("runner")
    assert done["b"].wait(timeout=10)
    for thread in threads:
        thread.join(timeout=10)
    assert answers == {"a": False, "b": True} and clock.now == at(100)
