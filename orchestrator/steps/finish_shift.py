"""FinishShift: the last step of a component's child execution, after Promote.

Starts every successor whose constraints are now all satisfied, frees this child's concurrency
slot for the highest-ranked component waiting for one, and, when nothing is left running,
answers the parent's token: the release moves at the speed of its critical path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from orchestrator.model.steps import ShiftRef
from orchestrator.release import ledger, scheduling
from orchestrator.step_handler import entrypoint

if TYPE_CHECKING:
    from orchestrator.ports import Ports


class ShiftFinished(BaseModel):
    component: str
    started: list[str]
    """The components this finish started (successors, or components waiting for a slot)."""


def finish_shift(event: ShiftRef, ports: Ports) -> ShiftFinished:
    release = event.release
    if scheduling.stale(ports, release, event.round):
        return ShiftFinished(component=event.component, started=[])
    context = ledger.load_context(ports.records, release)
    record = ledger.get_component(ports.records, release, event.component)
    if record.shift_finished_at is None or record.round != event.round:
        ledger.put_component(
            ports.records,
            release,
            record.model_copy(update={"shift_finished_at": ports.clock.now()}),
        )
    started = scheduling.finish(ports, context, event.component, event.round)
    return ShiftFinished(component=event.component, started=started)


PORTS = ("records", "shifts", "callbacks", "clock")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("FinishShift", ShiftRef, finish_shift, PORTS)
