"""Freeze: stop every further forward alias move and record where each component stands.

Reached by every Catch of the shifting part (a child's failure arrives as the failure of the
parent's WaitForShifts task). Sets the release's ``frozen`` flag (every forward
move checks it, so Map siblings still running stop at their next step), records each component's
live weights, and classifies the failure: a failed gate can be rolled forward with a hotfix; a gate
that could not judge (too little traffic, CloudWatch unreadable) holds the release until an
operator resumes it; an abort, a drifted alias or an orchestrator error halts the release.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from orchestrator.errors import (
    ApprovalTimeoutError,
    GateFailedError,
    MetricsUnreadableError,
    NotEnoughTrafficError,
    ReleaseAbortedError,
)
from orchestrator.model.steps import ReleaseRef
from orchestrator.release import ledger
from orchestrator.release.live import alias_weights
from orchestrator.release.scheduling import current_round
from orchestrator.step_handler import entrypoint

if TYPE_CHECKING:
    from orchestrator.ports import Ports

GATE_ERRORS = {GateFailedError.__name__}
HOLD_ERRORS = {
    NotEnoughTrafficError.__name__,
    MetricsUnreadableError.__name__,
    ApprovalTimeoutError.__name__,  # an approval that did not come blames no version
}
ABORT_ERRORS = {ReleaseAbortedError.__name__}


class FreezeInput(ReleaseRef):
    failure: dict[str, Any] = Field(default_factory=dict)
    """The ASL Catch output: ``{"Error": ..., "Cause": ...}``."""


class Frozen(BaseModel):
    error: str
    message: str
    kind: str
    """``gate`` (roll forward), ``hold`` (not enough traffic to judge or metrics unreadable:
    wait for ``rollout resume``), ``aborted`` or ``halt`` (anything else)."""
    aborted: bool
    weights: dict[str, dict[str, float]]
    shifting: list[str]


def error_message(failure: dict[str, Any]) -> str:
    cause = failure.get("Cause")
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
        except ValueError:
            return cause
        if isinstance(parsed, dict):
            return str(parsed.get("errorMessage") or parsed)
    return str(cause or "")


def freeze(event: FreezeInput, ports: Ports) -> Frozen:
    context = ledger.load_context(ports.records, event.release)
    failure = dict(event.failure)
    if not failure.get("Cause"):
        # a child's failure reaches the parent through SendTaskFailure, whose cause some engines
        # drop: the child recorded it with the round's outcome
        told = ports.records.get(event.release, f"told#r{current_round(ports, event.release)}")
        if told is not None and told.get("error") == failure.get("Error"):
            failure["Cause"] = told.get("cause")
    error = str(failure.get("Error") or "Unknown")
    message = error_message(failure)
    now = ports.clock.now()
    ledger.set_flag(ports.records, event.release, "frozen", f"{error}: {message}", now)
    aborted = (
        ledger.flag(ports.records, event.release, "abort") is not None or error in ABORT_ERRORS
    )
    weights = alias_weights(ports, context)
    shifting: list[str] = []
    for name, record in ledger.all_components(ports.records, event.release).items():
        if record.status == "shifting":
            shifting.append(name)
            ledger.put_component(
                ports.records, event.release, record.model_copy(update={"status": "frozen"})
            )
    if aborted:
        kind = "aborted"
    elif error in GATE_ERRORS:
        kind = "gate"
    elif error in HOLD_ERRORS:
        kind = "hold"
    else:
        kind = "halt"
    return Frozen(
        error=error,
        message=message,
        kind=kind,
        aborted=aborted,
        weights=weights,
        shifting=sorted(shifting),
    )


PORTS = ("alias_reads", "records", "clock")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("Freeze", FreezeInput, freeze, PORTS)
