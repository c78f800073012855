"""ShiftFailed: a component's child execution stopped; freeze and tell the parent.

Every Catch of ``shift_component.asl.json`` leads here. The first failure of a round sets the
release's ``frozen`` flag at once (so the siblings still running stop at their next forward move,
before the parent has even woken), records the error and answers the parent's token with it: the
parent's Catch takes the roll-forward path (Freeze, AssessSafety, Notify, WaitForHotfix, ...). A
sibling that stopped *because* of the freeze, or a child of a round the release has moved past,
tells nobody.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from orchestrator.errors import ApprovalTimeoutError, ReleaseFrozenError
from orchestrator.model.steps import ShiftRef
from orchestrator.release import approvals, ledger, scheduling
from orchestrator.step_handler import entrypoint
from orchestrator.steps.freeze import error_message

if TYPE_CHECKING:
    from orchestrator.ports import Ports


class ShiftFailure(ShiftRef):
    failure: dict[str, Any] = Field(default_factory=dict)
    """The ASL Catch output: ``{"Error": ..., "Cause": ...}``."""


class ShiftStopped(BaseModel):
    component: str
    error: str
    told_parent: bool


def approval_timed_out(ports: Ports, event: ShiftFailure) -> None:
    """An approval wait timed out: its parked token is spent; the round's first failure writes
    the ``hold`` the parent's Notify and `rollout status` tell it from (a pause that timed out
    wrote its own in Advance)."""
    release, name = event.release, event.component
    parked = approvals.parked_approvals(ports.records, release).get(name)
    approvals.forget(ports.records, release, name)
    if parked is None or ports.records.get(release, f"told#r{event.round}") is not None:
        return
    if ports.records.get(release, "hold") is None:
        approvals.write_hold(
            ports,
            release,
            name,
            str(parked.get("version")),
            float(str(parked.get("step"))),
            "approval-timeout",
        )


def shift_failed(event: ShiftFailure, ports: Ports) -> ShiftStopped:
    release = event.release
    error = str(event.failure.get("Error") or "Unknown")
    cause = event.failure.get("Cause")
    cause_text = cause if isinstance(cause, str) else str(cause or "")
    if scheduling.stale(ports, release, event.round) or error == ReleaseFrozenError.__name__:
        scheduling.free(ports, release, event.component, event.round)
        return ShiftStopped(component=event.component, error=error, told_parent=False)
    message = error_message(event.failure)
    if error == ApprovalTimeoutError.__name__:
        approval_timed_out(ports, event)
    if ledger.flag(ports.records, release, "frozen") is None:
        ledger.set_flag(
            ports.records, release, "frozen", f"{error}: {message}"[:2000], ports.clock.now()
        )
    told = scheduling.fail(ports, release, event.component, event.round, error, cause_text)
    return ShiftStopped(component=event.component, error=error, told_parent=told)


PORTS = ("records", "callbacks", "clock")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("ShiftFailed", ShiftFailure, shift_failed, PORTS)
