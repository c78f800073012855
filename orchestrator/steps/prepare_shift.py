"""PrepareShift: renew the lease (or stop), record baselines, and set the first traffic step.

The shift starts from the version the ledger last promoted on this alias (at the start: ``from``),
so a component promoted once and shifted again in a roll-forward round never gives its older
versions weight again. Re-running it resumes instead of restarting: when this release already moved
the alias part of the way (the ledger says so), the cursor starts at that step and the alias is not
touched, so a repeat never moves traffic backwards.

A component with ``smoke`` is invoked first, on the new version directly (its version qualifier:
0% traffic), before the first weight; a failed smoke test is a FAILED verdict of the 0% step
(``GateFailedError``, the usual roll-forward path, with nothing to pull back). A resumed shift
was smoke-tested before its first weight and is not invoked again.

The first weight waits for the drains that guard the component: while one is not proven, the
cursor comes back with ``step_index`` -1 and ``gate: drain``, the child runs DrainQueues (check,
Wait, check ...), and PrepareShift runs again once they are proven.

The first weight may also wait for a manual gate (``release/approvals.py``: an approval of the first
step, or `rollout pause`): the cursor then comes back with ``step_index`` -1 and its ``gate``, the
child waits, and PrepareShift runs again once the gate is open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from orchestrator.model.steps import ComponentInput, Phase, ShiftState, Verdict
from orchestrator.planning.schedule import execution_name
from orchestrator.planning.smoke import smoke_reasons
from orchestrator.release import approvals, ledger
from orchestrator.release.scheduling import check_current, child_prefix
from orchestrator.release.shifting import hold_lease, move_alias, target_weights
from orchestrator.release.verify import dlq_depths, start_judge
from orchestrator.step_handler import entrypoint, logger
from orchestrator.steps.advance import check_pause_timeout, fail_gate, record_verdict
from orchestrator.steps.drain_queues import unproven_drains

if TYPE_CHECKING:
    from datetime import datetime

    from orchestrator.ports import Ports
    from orchestrator.release.ledger import ReleaseContext


def resume_index(steps: list[float], weight: float) -> int:
    """The last step already reached at ``weight`` percent, or -1 when none was."""
    reached = [i for i, step in enumerate(steps) if step <= weight + 1e-9]
    return reached[-1] if reached else -1


def smoke_test(ports: Ports, context: ReleaseContext, name: str, version: str) -> None:
    """Invoke ``version`` of the component directly with its smoke payload and judge the answer:
    a PASSED verdict is recorded; a FAILED one fails the 0% step (``GateFailedError``)."""
    comp = context.component(name)
    if comp.smoke is None:
        return
    result = ports.invoker.invoke(comp.function, version, comp.smoke.payload)
    reasons = smoke_reasons(comp.smoke.expect, result)
    verdict = Verdict(
        phase=Phase.FAILED if reasons else Phase.PASSED,
        component=name,
        version=version,
        step=0.0,
        reasons=[f"smoke test: {r}" for r in reasons]
        or [f"smoke test passed: {comp.function_name}:{version} answered status {result.status}"],
        values={"smoke_status": float(result.status)},
        broken=name if reasons else None,
        at=ports.clock.now(),
    )
    record_verdict(ports, context.manifest.release, name, verdict)
    logger.info(
        "smoke test",
        extra={"component": name, "version": version, "phase": verdict.phase, "reasons": reasons},
    )
    if reasons:
        fail_gate(
            ports,
            context,
            name,
            verdict,
            f"smoke test of {comp.function_name}:{version} failed before any traffic",
        )


def before_first_weight(
    now: datetime, new: str, base: str, steps: list[float], gate: Literal["", "drain"] = ""
) -> ShiftState:
    """The cursor of a shift whose first weight waits (``step_index`` -1, nothing to bake):
    ``gate: drain`` sends the child to DrainQueues; approvals and pauses set theirs."""
    return ShiftState(
        step_index=-1,
        weight=0.0,
        bake_seconds=0,
        nominal_bake_seconds=0,
        started_at=now,
        version=new,
        base_version=base,
        steps=steps,
        gate=gate,
    )


def prepare_shift(event: ComponentInput, ports: Ports) -> ShiftState:
    context = ledger.load_context(ports.records, event.release)
    name = event.component
    comp = context.component(name)
    now = ports.clock.now()
    check_current(ports, event.release, name, event.round)
    hold_lease(ports, context, name)  # renewed, or LeaseLostError naming the holder
    record = ledger.get_component(ports.records, event.release, name)
    # every shift starts from the version the ledger last promoted (or ``from``): never from a
    # version a promotion superseded (DESIGN §4)
    base, new = ledger.base_version(context, record), context.to_version(name)
    steps = list(comp.strategy.steps)
    index = resume_index(steps, record.expected.get(new, 0.0))
    resumed = index >= 0 and record.shift_started_at is not None
    if index < 0 and event.round is not None and unproven_drains(ports, context, name):
        # the queues this component must not see old data on are not proven drained yet: the
        # child checks them (DrainQueues -> Wait ...) and comes back here
        return before_first_weight(now, new, base, steps, "drain")
    if index < 0 and event.round is not None:
        gate = approvals.closed_gate(ports, context, name, new, steps[0])
        if gate is not None:  # the first weight waits for an approval or a pause
            held = before_first_weight(now, new, base, steps)
            if gate == "pause":
                check_pause_timeout(ports, context, name, held)
            return approvals.waiting(context, name, held, gate)
    if index < 0:
        index = 0
        smoke_test(ports, context, name, new)  # before the first weight: 0% traffic
        move_alias(
            ports, context, name, target_weights(base, new, steps[0]), action="shift", step=steps[0]
        )
    record = ledger.get_component(ports.records, event.release, name)
    ledger.put_component(
        ports.records,
        event.release,
        record.model_copy(
            update={
                "status": "shifting",
                "version": new,
                "shift_started_at": record.shift_started_at if resumed else now,
                "shift_finished_at": None,
                "execution": (
                    execution_name(child_prefix(ports, event.release), name, event.round)
                    if event.round is not None
                    else record.execution
                ),
                "round": event.round if event.round is not None else record.round,
            }
        ),
    )
    shift = ShiftState(
        step_index=index,
        weight=steps[index],
        bake_seconds=context.scaled(comp.strategy.bake_seconds),
        nominal_bake_seconds=comp.strategy.bake_seconds,
        started_at=now,
        dlq_baseline=dlq_depths(ports, context, name),
        version=new,
        base_version=base,
        steps=steps,
    )
    return start_judge(context, name, shift)


PORTS = ("aliases", "leases", "queues", "records", "clock", "invoker")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("PrepareShift", ComponentInput, prepare_shift, PORTS)
