"""The runner's hooks that make a dry run's time simulated and deterministic.

:class:`SimulatedTime` connects the executions of a release (the parent, and one child per
component and round) to a :class:`~orchestrator.local.timekeeper.TimeKeeper` and the
:class:`~orchestrator.local.simulator.Simulator`:

* a bake is the ``Advance`` step about to run: its execution sleeps until the bake's nominal end
  (now + ``nominal_bake_seconds``; "now" is the time of its previous step, since a running actor
  holds the clock);
* a repeated ``DrainQueues`` check sleeps the queue's nominal poll interval (the one the previous
  check of the same execution returned);
* a child joins when the release starts it and leaves when ``FinishShift`` or ``ShiftFailed``
  ends; the parent leaves while it waits for its children (``WaitForShifts``) and, unless the dry
  run answers its waits itself, while it waits for a person (``WaitForHotfix``), and joins again
  when its token is answered;
* a child parked on a task token of its own (``CHILD_WAITS``: a manual approval) leaves once
  its token is stored, while a person answers it (unless the dry run answers it itself), and
  joins again when :meth:`child_answered` says its token is about to be answered;
* a paused child (``rollout pause``: its Advance or PrepareShift came back with ``gate: pause``)
  sleeps the nominal poll interval before it looks again;
* :meth:`schedule` runs an action at a simulated time (a timer actor sleeping until then): the
  scenario's operator actions and an approval's simulated timeout (``on_park``), so a pause
  nobody answers ends in simulated time, never by stalling the clock;
* ``ApplyHotfix`` teaches the simulator a hotfix's declarations.

The simulator writes every window's metrics when the keeper moves the clock
(``Simulator.tick_until``), so a step reads exactly what its bake would have recorded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from orchestrator.local.timekeeper import PARENT, TimeKeeper

if TYPE_CHECKING:
    from orchestrator.local.simulator import Simulator

__all__ = ["SimulatedTime", "actor_of"]

logger = logging.getLogger(__name__)

CHILD_ENDS = ("FinishShift", "ShiftFailed")
CHILD_WAITS = ("WaitForApproval",)
"""Child steps that park a task token for a person (issue 13 item 3: approvals and pauses)."""
GATED_STEPS = ("PrepareShift", "Advance")
"""Child steps that come back with ``gate: pause`` while the release is paused."""


def actor_of(event: Mapping[str, Any]) -> str:
    """The actor a step's event belongs to: a child (``<component>#r<round>``) or the parent."""
    round_ = event.get("round")
    component = event.get("component")
    if round_ is None or component is None:
        return PARENT
    return f"{component}#r{round_}"


class SimulatedTime:
    """Hooks for ``LocalDeployment`` (``before_step``, ``after_step``, ``child_started``,
    ``answered``) on a keeper driven by ``simulator``."""

    def __init__(
        self,
        simulator: Simulator,
        *,
        answers_waits: bool = True,
        stall_seconds: float = 600.0,
        answers_approvals: bool | None = None,
    ) -> None:
        self.simulator = simulator
        self.answers_waits = answers_waits
        """Whether the dry run answers WaitForHotfix itself (then the parent keeps the clock)."""
        self.answers_approvals = answers_waits if answers_approvals is None else answers_approvals
        """Whether the dry run approves a child's approval wait itself (the child keeps the
        clock); otherwise the child leaves it and ``on_park`` is told."""
        self.on_park: Callable[[str, Mapping[str, Any]], None] | None = None
        """Told ``(actor, event)`` when a child parks for an approval and leaves the clock."""
        self.parent_leaves_hold: Callable[[], bool] = lambda: False
        """Whether the parent leaves the clock while it is held (someone will resume it)."""
        self._timers: dict[str, _Timer] = {}
        self._timer_seq = 0
        self.keeper = TimeKeeper(
            simulator.clock.now, simulator.tick_until, stall_seconds=stall_seconds
        )
        self._lock = threading.Lock()
        self._parent_lock = threading.Lock()
        self._parent_answered = False
        """Whether the parent's token was answered since its WaitForShifts began (it then keeps
        the clock: its wait ends at once)."""
        self._started: set[str] = set()
        self._next_poll: dict[str, datetime] = {}
        """Per actor: when its next DrainQueues check is due (its last check found waiting)."""
        self._paused_until: dict[str, datetime] = {}
        """Per paused child: when it looks again whether the release was resumed."""

    def parent_started(self) -> None:
        self.keeper.join(PARENT)

    def parent_ended(self) -> None:
        """The parent execution ended: nobody holds the clock for it any more, and no timer
        (an operator action, an approval timeout) fires after it."""
        with self._lock:
            timers = list(self._timers.values())
        for timer in timers:
            self.cancel(timer.name)
        self.keeper.leave(PARENT)

    def schedule(self, at: datetime, action: Callable[[], None], label: str = "timer") -> str:
        """Run ``action`` when simulated time reaches ``at`` (at once when it has): a timer actor
        holds the clock from now until it sleeps, so the clock cannot pass ``at`` first. Returns
        the timer's name (for :meth:`cancel`)."""
        with self._lock:
            self._timer_seq += 1
            name = f"{label}#{self._timer_seq}"
            timer = _Timer(name, at, action)
            self._timers[name] = timer
        self.keeper.join(name)
        thread = threading.Thread(target=self._run_timer, args=(timer,), daemon=True, name=name)
        thread.start()
        return name

    def _run_timer(self, timer: _Timer) -> None:
        try:
            if not self.keeper.sleep_until(timer.name, timer.at):
                return
            with self._lock:
                if timer.cancelled:
                    return
                timer.fired = True
            timer.action()
        except Exception:  # an operator action that fails is the action's business
            logger.exception("a dry-run timer failed", extra={"timer": timer.name})
        finally:
            with self._lock:
                self._timers.pop(timer.name, None)
            self.keeper.leave(timer.name)

    def cancel(self, name: str) -> None:
        """A timer that has not fired yet never fires."""
        with self._lock:
            timer = self._timers.get(name)
            if timer is None or timer.fired:
                return
            timer.cancelled = True
        self.keeper.cancel(name)

    def before_step(self, step: str, event: dict[str, Any]) -> None:
        now = self.simulator.clock.now()
        if step in GATED_STEPS and self._sleep_if_paused(event):
            return
        if step == "Advance":
            shift = event.get("shift")
            if not isinstance(shift, Mapping) or shift.get("done") or shift.get("gate"):
                return
            seconds = float(shift.get("nominal_bake_seconds") or 0)
            if seconds > 0:
                self.keeper.sleep_until(actor_of(event), now + timedelta(seconds=seconds))
        elif step == "DrainQueues":
            actor = actor_of(event)
            with self._lock:
                due = self._next_poll.pop(actor, None)
            if due is not None:
                self.keeper.sleep_until(actor, due)
        elif step == "ApplyHotfix" and isinstance(event.get("hotfix"), Mapping):
            self.simulator.learn_hotfix(event["hotfix"])
        elif step == "WaitForShifts":
            # the parent leaves the clock once its token is stored (after_step), not before: a
            # child that fails before the token exists makes WaitForShifts raise at once, and
            # the parent must hold the clock on its way to the roll-forward states
            with self._parent_lock:
                self._parent_answered = False
        elif step == "WaitForHotfix" and not self.answers_waits:
            self.keeper.leave(PARENT)

    def _sleep_if_paused(self, event: Mapping[str, Any]) -> bool:
        """A paused child's next look waits its poll interval (the child's ``Paused`` Wait)."""
        actor = actor_of(event)
        with self._lock:
            due = self._paused_until.pop(actor, None)
        if due is None:
            return False
        self.keeper.sleep_until(actor, due)
        return True

    def after_step(
        self, step: str, event: dict[str, Any], error: BaseException | None, result: Any
    ) -> None:
        if step in GATED_STEPS and isinstance(result, Mapping) and result.get("gate") == "pause":
            seconds = float(result.get("nominal_poll_seconds") or 0) or 60.0
            due = self.simulator.clock.now() + timedelta(seconds=seconds)
            with self._lock:
                self._paused_until[actor_of(event)] = due
        if step == "WaitForShifts" and error is None:
            with self._parent_lock:
                if not self._parent_answered:  # else a child answered already: it goes on
                    self.keeper.leave(PARENT)
        if (
            step == "WaitForHotfix"
            and self.answers_waits
            and error is None
            and event.get("purpose") == "resume"
            and self.parent_leaves_hold()
        ):
            self.keeper.leave(PARENT)  # held, and the scenario's operator resumes it later
        if step in CHILD_WAITS and error is None and not self.answers_approvals:
            # the token is stored now (an approval before that would find nothing to answer)
            actor = actor_of(event)
            if self.on_park is not None:
                self.on_park(actor, event)
            self.keeper.leave(actor)
        if step == "ShiftFailed" or (step == "FinishShift" and error is None):
            self.keeper.leave(actor_of(event))
        elif step == "DrainQueues" and isinstance(result, Mapping) and not result.get("done"):
            seconds = float(result.get("nominal_poll_seconds") or 0)
            if seconds > 0:
                due = self.simulator.clock.now() + timedelta(seconds=seconds)
                with self._lock:
                    self._next_poll[actor_of(event)] = due

    def child_started(self, name: str, payload: Mapping[str, object]) -> None:
        """Before StartExecution: the child holds the clock from now (once per execution name;
        a repeated start by name is the same execution)."""
        with self._lock:
            if name in self._started:
                return
            self._started.add(name)
        self.keeper.join(actor_of(payload))

    def child_answered(self, actor: str) -> None:
        """Before a child's own token (``CHILD_WAITS``) is answered: that child (``actor_of`` its
        event, ``<component>#r<round>``) acts again at the current time."""
        self.keeper.join(actor)

    def answered(self, token: str) -> None:
        """Before a step answers the parent's token: the parent wakes at the current time."""
        with self._parent_lock:
            self._parent_answered = True
            self.keeper.join(PARENT)


@dataclass
class _Timer:
    name: str
    at: datetime
    action: Callable[[], None]
    fired: bool = False
    cancelled: bool = False
