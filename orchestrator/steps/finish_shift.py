"""FinishShift: the last step of a component's child execution, once its last step passed.

It promotes the component first (``steps/promote.py``: the alias must be fully on the new
version; the version joins the record's ``promoted`` list and the promotion time is the cutover of
the queues it writes), then starts every successor whose constraints are now all satisfied, frees
this child's concurrency slot for the highest-ranked component waiting for one, and, when nothing
is left running, answers the parent's token: the release moves at the speed of its critical path.
One task for both saves a state transition and a Lambda invocation per component; both halves are
idempotent, so a retried FinishShift repeats neither a promotion nor a start.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel

from orchestrator.model.steps import ComponentInput, FinishInput
from orchestrator.release import ledger, scheduling
from orchestrator.step_handler import entrypoint
from orchestrator.steps.promote import promote

if TYPE_CHECKING:
    from orchestrator.ports import Ports


class ShiftFinished(BaseModel):
    component: str
    version: str | None = None
    promoted_at: datetime | None = None
    started: list[str]
    """The components this finish started (successors, or components waiting for a slot)."""


def finish_shift(event: FinishInput, ports: Ports) -> ShiftFinished:
    release = event.release
    if scheduling.stale(ports, release, event.round):
        return ShiftFinished(component=event.component, started=[])
    promoted = promote(
        ComponentInput(
            release=release, component=event.component, round=event.round, shift=event.shift
        ),
        ports,
    )
    context = ledger.load_context(ports.records, release)
    record = ledger.get_component(ports.records, release, event.component)
    if record.shift_finished_at is None or record.round != event.round:
        ledger.put_component(
            ports.records,
            release,
            record.model_copy(update={"shift_finished_at": ports.clock.now()}),
        )
    started = scheduling.finish(ports, context, event.component, event.round)
    return ShiftFinished(
        component=event.component,
        version=promoted.version,
        promoted_at=promoted.promoted_at,
        started=started,
    )


PORTS = ("alias_reads", "records", "shifts", "callbacks", "clock")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("FinishShift", FinishInput, finish_shift, PORTS)
