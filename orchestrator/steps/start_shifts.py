"""StartShifts: begin a round of the release: start every component that is ready.

A round is the first run of the plan, or its rest after a roll-forward round or a hold. Each
ready component (every constraint into it satisfied) gets its own child execution of
``shift_component.asl.json``, named for the release, the component and the round; the rest start
as their predecessors finish (``release.scheduling``), so nothing waits for a wave barrier. A
retried StartShifts is the same round: it starts nothing twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from orchestrator.model.steps import ReleaseRef
from orchestrator.release import ledger, scheduling
from orchestrator.release.live import pending_components
from orchestrator.release.shifting import check_not_stopped
from orchestrator.step_handler import entrypoint

if TYPE_CHECKING:
    from orchestrator.ports import Ports


class StartShiftsInput(ReleaseRef):
    execution: str | None = None
    """The parent execution's name (``$$.Execution.Name``): children are named after it."""


class ShiftsStarted(BaseModel):
    round: int
    pending: int
    """Components this round has to shift."""
    started: int
    """Children started now (the others start as their predecessors finish)."""


def start_shifts(event: ReleaseRef, ports: Ports) -> ShiftsStarted:
    """``event``: a ``StartShiftsInput`` from the state machine (a bare ``ReleaseRef`` names
    children after the release id)."""
    release = event.release
    check_not_stopped(ports, release)
    context = ledger.load_context(ports.records, release)
    round_ = scheduling.open_round(ports, context, getattr(event, "execution", None))
    pending = pending_components(ports, context)
    started = scheduling.start_ready(ports, context, pending)
    return ShiftsStarted(
        round=round_,
        pending=len(pending),
        started=len(started),
    )


PORTS = ("records", "shifts", "clock")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("StartShifts", StartShiftsInput, start_shifts, PORTS)
