"""Promote: confirm the alias is fully on the new version and record the cutover time.

Promotion is this step's verdict, not the weight: a 100% step that failed its gate is not
promoted. The version joins the record's ``promoted`` list: every later shift of the component
starts from it, and no version promoted before it gets weight again. The promotion time is the
earliest cutover of DESIGN §4 for the queues this component writes (DrainQueues also waits for the
old versions' last invocations).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel

from orchestrator.errors import AliasDriftError
from orchestrator.model.steps import ComponentInput
from orchestrator.release import ledger
from orchestrator.release.shifting import fmt_weights
from orchestrator.step_handler import entrypoint

if TYPE_CHECKING:
    from orchestrator.ports import Ports


class Promoted(BaseModel):
    component: str
    version: str
    promoted_at: datetime


def promote(event: ComponentInput, ports: Ports) -> Promoted:
    context = ledger.load_context(ports.records, event.release)
    name = event.component
    comp = context.component(name)
    version = event.shift.version if event.shift is not None else context.to_version(name)
    live = ports.alias_reads.read(comp.function, comp.alias)
    if live.weights != {version: 100.0}:
        raise AliasDriftError(
            f"alias {comp.function_name}:{comp.alias} should be fully on {version} but is on "
            f"[{fmt_weights(live.weights)}]: someone changed it; see runbooks/alias-drift.md",
            component=name,
            version=version,
        )
    record = ledger.get_component(ports.records, event.release, name)
    if (
        record.status == "promoted"
        and record.promoted_at is not None
        and record.version == version
        and record.promoted[-1:] == [version]
    ):
        return Promoted(component=name, version=version, promoted_at=record.promoted_at)
    now = ports.clock.now()
    promoted = [v for v in record.promoted if v != version] + [version]
    ledger.put_component(
        ports.records,
        event.release,
        record.model_copy(
            update={
                "status": "promoted",
                "promoted_at": now,
                "version": version,
                "expected": {version: 100.0},
                "promoted": promoted,
            }
        ),
    )
    return Promoted(component=name, version=version, promoted_at=now)


PORTS = ("alias_reads", "records", "clock")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("Promote", ComponentInput, promote, PORTS)
