"""Simulated time that does not depend on threads: a conservative discrete-event clock.

In a dry run every ``Wait`` is compressed to 0 s and time is simulated instead. Several
executions run at once (the parent and one child per shifting component), each on its own
interpreter thread. If each one moved the shared clock when it reached a bake, the figures would
depend on which thread got there first. Here the clock moves only when *every* actor (an execution
that may still act at the current simulated time) is waiting for a later time, and then only to
the earliest time anyone waits for; the window up to it is simulated first (``advance`` writes its
metrics), then everybody waiting for that time wakes up. Nothing an actor does at time ``t`` can be
missed by a window that ends after ``t``, and the same release gives the same timeline every run.

Actors:

* a child execution joins when the release starts it (:meth:`join`, called by the launcher before
  StartExecution, while the actor starting it is still running), sleeps in its bakes and drain
  polls (:meth:`sleep_until`), and leaves when its last step ends (:meth:`leave`);
* the parent joins when it starts and whenever a token it waits on is answered, and leaves while it
  waits for its children or for a person.

The keeper does not know what an execution does between two of these calls; the runner's hooks
tell it. A forgotten ``leave`` would stop time: :meth:`sleep_until` then fails after
``stall_seconds`` of wall time with the actors that never came back (a bug, never a verdict).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

from orchestrator.errors import EnvironmentProblemError

__all__ = ["StalledClockError", "TimeKeeper"]

PARENT = "parent"


class StalledClockError(EnvironmentProblemError):
    """Simulated time could not advance: an actor never slept or left (an engine bug)."""


class TimeKeeper:
    """The dry run's discrete-event clock (see the module docstring)."""

    def __init__(
        self,
        now: Callable[[], datetime],
        advance: Callable[[datetime], object],
        *,
        stall_seconds: float = 600.0,
    ) -> None:
        self._now = now
        self._advance = advance
        self._stall = stall_seconds
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}
        self._sleeping: dict[str, datetime] = {}
        self._wakeups: dict[str, threading.Condition] = {}
        """Each sleeping actor's own condition (on ``_lock``): an advance wakes only the actors
        whose time came, not every sleeper (with hundreds of children asleep in their bakes, a
        ``notify_all`` per advance woke them all, each to go back to sleep: O(N) wake-ups per
        advance, O(N^2) over a release, most of it system time)."""
        self._cancelled: set[str] = set()
        self.advances = 0
        """How many times the clock moved (a figure for tests and benchmarks)."""

    # -- actors ----------------------------------------------------------------------------------

    def join(self, actor: str) -> None:
        """``actor`` may act at the current time: the clock waits for it."""
        with self._lock:
            self._sleeping.pop(actor, None)
            self._running[actor] = 1

    def leave(self, actor: str) -> None:
        """``actor`` will not act until someone joins it again."""
        with self._lock:
            self._running.pop(actor, None)
            self._sleeping.pop(actor, None)
            self._maybe_advance()

    def cancel(self, actor: str) -> None:
        """A sleeping ``actor`` (a timer) gives up: its :meth:`sleep_until` returns False at once
        and it no longer holds a wake-up time (nor the clock)."""
        with self._lock:
            if actor in self._sleeping or actor in self._running:
                self._cancelled.add(actor)
            self._running.pop(actor, None)
            self._sleeping.pop(actor, None)
            self._wake(actor)
            self._maybe_advance()

    def running(self) -> list[str]:
        with self._lock:
            return sorted(self._running)

    def sleeping(self) -> list[str]:
        """The actors asleep in :meth:`sleep_until`, by name."""
        with self._lock:
            return sorted(self._sleeping)

    def sleep_until(self, actor: str, until: datetime) -> bool:
        """Block ``actor`` until simulated time reaches ``until`` (at once when it has). False
        when the sleep was cancelled (:meth:`cancel`) instead."""
        with self._lock:
            if actor in self._cancelled:
                self._cancelled.discard(actor)
                return False
            if self._now() >= until:
                self._running[actor] = 1
                return True
            self._running.pop(actor, None)
            self._sleeping[actor] = until
            wakeup = self._wakeups[actor] = threading.Condition(self._lock)
            try:
                self._maybe_advance()
                deadline = time.monotonic() + self._stall
                while self._now() < until:
                    if actor in self._cancelled:
                        self._cancelled.discard(actor)
                        return False
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        self._sleeping.pop(actor, None)
                        raise StalledClockError(
                            f"simulated time stopped at {self._now().isoformat()}: {actor} waits "
                            f"for {until.isoformat()} but "
                            f"{', '.join(sorted(self._running)) or 'nobody'} never slept or left "
                            f"within {self._stall:g} s"
                        )
                    wakeup.wait(timeout=min(remaining, 5.0))
                    if self._now() < until:
                        self._maybe_advance()
            finally:
                if self._wakeups.get(actor) is wakeup:
                    del self._wakeups[actor]
            self._sleeping.pop(actor, None)
            self._running[actor] = 1
            return True

    # -- the clock -------------------------------------------------------------------------------

    def _maybe_advance(self) -> None:
        """With the lock held: while nobody may act now and somebody waits, move to the earliest
        wake-up time (simulating the window first) and wake whoever waits for it."""
        while not self._running and self._sleeping:
            earliest = min(self._sleeping.values())
            if earliest > self._now():
                self._advance(earliest)
                self.advances += 1
            for actor, until in list(self._sleeping.items()):
                if until <= self._now():
                    del self._sleeping[actor]
                    self._running[actor] = 1
                    self._wake(actor)

    def _wake(self, actor: str) -> None:
        """With the lock held: wake ``actor`` if it sleeps in :meth:`sleep_until`."""
        wakeup = self._wakeups.get(actor)
        if wakeup is not None:
            wakeup.notify()
