"""Advance: verify the step that just baked, then set the next weight (one task per step).

DESIGN §6 measures this shape (Advance -> Choice -> Bake) as the cheapest in history events. On
PASSED it moves to the next step (or marks the shift done after the last one); INCONCLUSIVE and
ERROR re-bake the same step up to the gate's limits; FAILED records the verdict in the ledger and
raises ``GateFailedError`` so the state machine takes the roll-forward path.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from orchestrator.errors import GateFailedError
from orchestrator.model.steps import ComponentInput, ComponentRecord, Phase, ShiftState, Verdict
from orchestrator.steps import ledger
from orchestrator.steps.runtime import entrypoint, logger
from orchestrator.steps.shifting import check_not_stopped, move_alias, target_weights
from orchestrator.steps.verify import verify

if TYPE_CHECKING:
    from orchestrator.steps.ledger import ReleaseContext
    from orchestrator.steps.runtime import Ports

MAX_VERDICTS_KEPT = 30


def record_verdict(ports: Ports, release: str, name: str, verdict: Verdict) -> ComponentRecord:
    record = ledger.get_component(ports.records, release, name)
    verdicts = [*record.verdicts, verdict][-MAX_VERDICTS_KEPT:]
    record = record.model_copy(update={"verdicts": verdicts})
    ledger.put_component(ports.records, release, record)
    return record


def fail_gate(ports: Ports, context: ReleaseContext, name: str, verdict: Verdict, why: str) -> None:
    release = context.manifest.release
    failure = {
        "component": name,
        "version": verdict.version,
        "broken": verdict.broken or name,
        "step": verdict.step,
        "phase": verdict.phase.value,
        "reasons": verdict.reasons,
        "values": verdict.values,
        "at": ports.clock.now().isoformat(),
    }
    ports.records.put_new(release, "failure", failure)
    raise GateFailedError(
        f"{why}: " + "; ".join(verdict.reasons) + f" [{json.dumps({'broken': failure['broken']})}]",
        component=name,
        version=verdict.version,
    )


def advance(event: ComponentInput, ports: Ports) -> ShiftState:
    assert event.shift is not None, "Advance needs the shift cursor from PrepareShift"
    shift = event.shift
    context = ledger.load_context(ports.records, event.release)
    name = event.component
    comp = context.component(name)
    check_not_stopped(ports, event.release)
    if shift.done:
        return shift
    verdict = verify(ports, context, name, shift)
    record = record_verdict(ports, event.release, name, verdict)
    logger.info(
        "verdict",
        extra={
            "component": name,
            "phase": verdict.phase,
            "step": shift.weight,
            "reasons": verdict.reasons,
        },
    )
    if verdict.phase is Phase.FAILED:
        fail_gate(ports, context, name, verdict, f"gate failed at {shift.weight:g}%")
    if verdict.phase is Phase.ERROR:
        if shift.errors + 1 > comp.gates.max_errors:
            fail_gate(ports, context, name, verdict, f"{shift.errors + 1} failed reads in a row")
        return shift.model_copy(update={"errors": shift.errors + 1})
    if verdict.phase is Phase.INCONCLUSIVE:
        if shift.inconclusive + 1 > comp.gates.max_inconclusive:
            fail_gate(
                ports, context, name, verdict, f"{shift.inconclusive + 1} inconclusive checks"
            )
        return shift.model_copy(update={"inconclusive": shift.inconclusive + 1})
    if shift.step_index + 1 >= len(shift.steps):
        return shift.model_copy(update={"done": True, "inconclusive": 0, "errors": 0})
    index = shift.step_index + 1
    step = shift.steps[index]
    move_alias(
        ports,
        context,
        name,
        target_weights(shift.base_version, shift.version, step),
        action="hotfix-shift" if shift.hotfix else "shift",
        step=step,
        allow_frozen=shift.hotfix,
        record=record,
    )
    return shift.model_copy(
        update={
            "step_index": index,
            "weight": step,
            "started_at": ports.clock.now(),
            "inconclusive": 0,
            "errors": 0,
        }
    )


PORTS = ("aliases", "alias_reads", "metrics", "queues", "records", "clock")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("Advance", ComponentInput, advance, PORTS)
