"""The on-call engineer of a dry run: manual approvals, pauses and resumes in simulated time.

A scenario's ``operator`` list (``orchestrator/local/scenario.py``) says what a person does and
when (``{at: 600, do: approve, component: enrich}``); :class:`ScenarioOperator` runs each action
through the same operations as `rollout approve / pause / resume / abort`, on a timer of the
dry run's simulated clock (:meth:`SimulatedTime.schedule
<orchestrator.local.sim_time.SimulatedTime.schedule>`), so it happens at exactly that simulated
time whatever the threads do. Each answer tells the clock first who wakes up (the child or the
parent joins it again before its token is answered).

Without an ``operator`` list the dry run approves every approval at once (:meth:`approve_waiting`,
from its poll loop). With one, a child waiting for an approval nobody gives leaves the clock and
its wait times out in simulated time (the component's ``approval_timeout_seconds``): the timer
fails its token with ``ApprovalTimeoutError`` and the release holds, as the real wait's
TimeoutSeconds would. A pause nobody resumes ends the same way (Advance sees its age).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from orchestrator.errors import ApprovalTimeoutError, RolloutError, TransientError
from orchestrator.operations import (
    abort_release,
    approve_release,
    pause_release,
    resume_release,
)
from orchestrator.release import approvals

if TYPE_CHECKING:
    from orchestrator.local.runner import LocalDeployment
    from orchestrator.local.scenario import OperatorAction
    from orchestrator.local.sim_time import SimulatedTime

__all__ = ["ScenarioOperator"]


class ScenarioOperator:
    """Runs a scenario's operator actions and approval timeouts on the simulated clock."""

    def __init__(
        self,
        release: str,
        actions: list[OperatorAction] | None,
        timeline: SimulatedTime,
        deployment: LocalDeployment,
    ) -> None:
        self.release = release
        self.actions = sorted(actions or [], key=lambda a: a.at)
        self.scripted = actions is not None
        """Only the scenario's actions answer (else the dry run approves at once)."""
        self.timeline = timeline
        self.deployment = deployment
        self.log: list[dict[str, Any]] = []
        """What was done, in order: ``at`` (simulated seconds), ``do``, ``component``,
        ``outcome`` (``done`` or ``refused``) and ``message``."""
        self._lock = threading.Lock()
        self._pending: list[OperatorAction] = list(self.actions)
        self._timeouts: dict[str, str] = {}
        """actor -> the timer of its approval wait's simulated timeout."""
        self._started: datetime | None = None
        timeline.on_park = self.approval_parked
        timeline.parent_leaves_hold = self.will_resume

    def start(self, at: datetime) -> None:
        """The release starts now (simulated ``at``): schedule every action."""
        self._started = at
        for action in self.actions:
            self.timeline.schedule(
                at + timedelta(seconds=action.at),
                lambda action=action: self._run(action),  # type: ignore[misc]
                label=f"operator-{action.do}",
            )

    def will_resume(self) -> bool:
        """Whether an action still to come resumes the release (a hold waits for it)."""
        with self._lock:
            return any(a.do == "resume" for a in self._pending)

    def _seconds(self) -> float:
        now = self.deployment.ports.clock.now()
        return 0.0 if self._started is None else (now - self._started).total_seconds()

    def _wake(self, actor: str) -> None:
        if actor == "parent":
            self.timeline.answered("")
            return
        with self._lock:
            timer = self._timeouts.pop(actor, None)
        if timer is not None:
            self.timeline.cancel(timer)
        self.timeline.child_answered(actor)

    def _run(self, action: OperatorAction) -> None:
        try:
            self._act(action)
        finally:
            # pending until it has acted: a hold seen meanwhile (the dry run's poll, on its own
            # thread) must still wait for this resume, not end the release as nobody's to resume
            with self._lock:
                if action in self._pending:
                    self._pending.remove(action)

    def _act(self, action: OperatorAction) -> None:
        ports, sfn = self.deployment.ports, self.deployment.sfn
        entry: dict[str, Any] = {
            "at": self._seconds(),
            "do": action.do,
            "component": action.component,
        }
        try:
            if action.do == "approve":
                done = approve_release(
                    ports,
                    sfn,
                    self.release,
                    component=action.component,
                    by=action.reason,
                    before_answer=self._wake,
                )
                entry["approved"] = done["approved"]
            elif action.do == "pause":
                pause_release(ports, sfn, self.release, action.reason)
            elif action.do == "resume":
                resume_release(ports, sfn, self.release, before_answer=self._wake)
            else:
                abort_release(ports, sfn, self.release, action.reason)
            entry.update(outcome="done", message=None)
        except RolloutError as exc:
            entry.update(outcome="refused", message=str(exc))
        with self._lock:
            self.log.append(entry)

    # -- approvals -------------------------------------------------------------------------------

    def approve_waiting(self) -> None:
        """No operator list: approve every parked approval at once (the dry run's poll loop)."""
        if self.scripted:
            return
        ports = self.deployment.ports
        try:
            parked = approvals.parked_approvals(ports.records, self.release)
        except TransientError:
            return  # throttled: the next poll looks again
        for name in sorted(parked):
            with contextlib.suppress(RolloutError):
                approve_release(
                    ports,
                    self.deployment.sfn,
                    self.release,
                    component=name,
                    by="the dry run (no operator in the scenario)",
                    before_answer=self.timeline.child_answered,
                )

    def approval_parked(self, actor: str, event: Mapping[str, Any]) -> None:
        """A child parks for an approval and leaves the clock: its wait times out in simulated
        time unless someone approves first."""
        shift = event.get("shift")
        if not self.scripted or not isinstance(shift, Mapping):
            return  # a person answers from outside (the engine's own timeout applies)
        nominal = float(shift.get("nominal_approval_timeout_seconds") or 0)
        steps = list(shift.get("steps") or [])
        index = int(shift.get("step_index", 0)) + 1
        if nominal <= 0 or not 0 <= index < len(steps):
            return
        component, round_, step = str(event.get("component")), event.get("round"), steps[index]
        at = self.deployment.ports.clock.now() + timedelta(seconds=nominal)
        timer = self.timeline.schedule(
            at,
            lambda: self._time_out(actor, component, round_, float(step)),
            label=f"approval-timeout-{component}",
        )
        with self._lock:
            self._timeouts[actor] = timer

    def _time_out(self, actor: str, component: str, round_: object, step: float) -> None:
        parked = approvals.parked_approvals(self.deployment.ports.records, self.release).get(
            component
        )
        with self._lock:
            self._timeouts.pop(actor, None)
        if parked is None or parked.get("round") != round_ or float(parked["step"]) != step:
            return
        message = (
            f"the approval of {component}@{parked.get('version')} at {step:g}% did not come "
            "within approval_timeout_seconds (simulated): nothing is known to be broken, the "
            "release holds where it is"
        )
        self.timeline.child_answered(actor)
        with contextlib.suppress(Exception):
            self.deployment.sfn.send_task_failure(
                taskToken=str(parked["token"]),
                error=ApprovalTimeoutError.__name__,
                cause=json.dumps(
                    {"errorType": ApprovalTimeoutError.__name__, "errorMessage": message}
                ),
            )
        with self._lock:
            self.log.append(
                {
                    "at": self._seconds(),
                    "do": "approval-timeout",
                    "component": component,
                    "outcome": "done",
                    "message": message,
                }
            )
