"""Advance: verify the step that just baked, then set the next weight (one task per step).

DESIGN §6 measures this shape (Advance -> Choice -> Bake) as the cheapest in history events. Every
verdict goes into the component's ledger entry; then, by phase:

* PASSED: move to the next step (or mark the shift done after the last one);
* FAILED: write the ``failure`` record (a version is broken: the roll-forward path pulls back what
  is safe and asks for a hotfix) and raise ``GateFailedError``;
* INCONCLUSIVE (too little traffic to judge): re-bake the same step, up to
  ``gates.max_inconclusive`` times; one more raises ``NotEnoughTrafficError``;
* ERROR (CloudWatch unreadable): re-bake, up to ``gates.max_errors`` failed reads in a row (a
  verdict that could read the metrics resets that count); one more raises
  ``MetricsUnreadableError``.

Neither of the last two writes ``failure``: nothing is known to be broken, so nothing should be
pulled back and no hotfix is needed. They write a ``hold`` record instead (``component``,
``version``, ``step``, ``phase``, ``reasons``, ``values``, ``at``, ``why``: ``not-enough-traffic``
or ``metrics-unreadable``) for the state machine's hold, which waits for ``rollout resume``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Literal, NoReturn

from orchestrator.errors import (
    AliasDriftError,
    ApprovalTimeoutError,
    GateFailedError,
    MetricsUnreadableError,
    NotEnoughTrafficError,
)
from orchestrator.model.steps import (
    ComponentInput,
    ComponentRecord,
    JudgeCursor,
    Phase,
    ShiftState,
    Verdict,
)
from orchestrator.release import approvals, ledger
from orchestrator.release.scheduling import check_current
from orchestrator.release.shifting import (
    check_not_stopped,
    expected_state,
    fmt_weights,
    move_alias,
    same_weights,
    target_weights,
)
from orchestrator.release.verify import (
    next_step_cursor,
    verify,
    verify_sequential,
    with_look,
)
from orchestrator.step_handler import entrypoint, logger

if TYPE_CHECKING:
    from orchestrator.ports import Ports
    from orchestrator.release.ledger import ReleaseContext

MAX_VERDICTS_KEPT = 30


def record_verdict(ports: Ports, release: str, name: str, verdict: Verdict) -> ComponentRecord:
    record = ledger.get_component(ports.records, release, name)
    verdicts = [*record.verdicts, verdict][-MAX_VERDICTS_KEPT:]
    record = record.model_copy(update={"verdicts": verdicts})
    ledger.put_component(ports.records, release, record)
    return record


def fail_gate(
    ports: Ports, context: ReleaseContext, name: str, verdict: Verdict, why: str
) -> NoReturn:
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


HoldWhy = Literal["not-enough-traffic", "metrics-unreadable"]


def write_hold(
    ports: Ports, context: ReleaseContext, name: str, verdict: Verdict, why: HoldWhy
) -> dict[str, object]:
    """The ``hold`` record: why the release stops without blaming a version."""
    hold: dict[str, object] = {
        "component": name,
        "version": verdict.version,
        "step": verdict.step,
        "phase": verdict.phase.value,
        "reasons": list(verdict.reasons),
        "values": dict(verdict.values),
        "at": ports.clock.now().isoformat(),
        "why": why,
    }
    ports.records.put(context.manifest.release, "hold", hold)
    return hold


def figures(verdict: Verdict) -> str:
    """The own figures of a verdict, for a message: ``7 invocations, 0 errors, 0 throttles``."""
    values = verdict.values
    if "invocations" not in values:
        return "no figures could be read"
    return (
        f"{values['invocations']:g} invocations, {values.get('errors', 0.0):g} errors, "
        f"{values.get('throttles', 0.0):g} throttles"
    )


def hold_not_enough_traffic(
    ports: Ports, context: ReleaseContext, name: str, verdict: Verdict, checks: int
) -> NoReturn:
    release = context.manifest.release
    limit = context.component(name).gates.max_inconclusive
    write_hold(ports, context, name, verdict, "not-enough-traffic")
    raise NotEnoughTrafficError(
        f"not enough traffic to judge {name}@{verdict.version} at {verdict.step:g}%: "
        f"{checks} inconclusive checks at this step (max_inconclusive {limit}), "
        f"{figures(verdict)} in the window: " + "; ".join(verdict.reasons) + ". Nothing is known "
        "to be broken: no pull-back, no hotfix needed; the release holds where it is. "
        f"`rollout resume {release}` bakes again, `rollout abort {release}` stops it",
        component=name,
        version=verdict.version,
    )


def hold_metrics_unreadable(
    ports: Ports, context: ReleaseContext, name: str, verdict: Verdict, reads: int
) -> NoReturn:
    release = context.manifest.release
    limit = context.component(name).gates.max_errors
    write_hold(ports, context, name, verdict, "metrics-unreadable")
    raise MetricsUnreadableError(
        f"CloudWatch could not be read to judge {name}@{verdict.version} at {verdict.step:g}%: "
        f"{reads} failed reads in a row (max_errors {limit}): " + "; ".join(verdict.reasons) + ". "
        "This is an environment problem (permissions, throttling or an outage), not a broken "
        "version: no hotfix needed; the release holds where it is. Once CloudWatch answers, "
        f"`rollout resume {release}` bakes again, `rollout abort {release}` stops it",
        component=name,
        version=verdict.version,
    )


def check_alias_where_left(ports: Ports, context: ReleaseContext, name: str) -> None:
    """An alias moved by hand during the bake is drift, reported as such (not as a version with
    too few invocations): nothing is judged on traffic this release did not route."""
    comp = context.component(name)
    record = ledger.get_component(ports.records, context.manifest.release, name)
    expected = expected_state(context, record)
    current = ports.alias_reads.read(comp.function, comp.alias)
    if not same_weights(current.weights, expected):
        raise AliasDriftError(
            f"alias {comp.function_name}:{comp.alias} is at [{fmt_weights(current.weights)}] but "
            f"release {context.manifest.release} left it at [{fmt_weights(expected)}] for this "
            "bake: someone moved it. Nothing was judged or overwritten; see "
            "runbooks/alias-drift.md",
            component=name,
        )


def advance(event: ComponentInput, ports: Ports) -> ShiftState:
    assert event.shift is not None, "Advance needs the shift cursor from PrepareShift"
    shift = event.shift
    context = ledger.load_context(ports.records, event.release)
    name = event.component
    comp = context.component(name)
    check_not_stopped(ports, event.release)
    check_current(ports, event.release, name, event.round)
    if shift.done:
        return shift
    if shift.step_index < 0:
        # PrepareShift set no weight: its cursor waits for a gate (a drain, an approval, a pause)
        # and went through a zero Bake; nothing baked, nothing to judge: Shifted? routes it
        return shift
    check_alias_where_left(ports, context, name)  # drift before the verdict, never after
    gated = event.round is not None and not shift.hotfix
    if shift.gate:  # the step passed; its move waited for an approval or a pause
        return move_on(ports, context, name, shift, None, shift.judge, gated=gated)
    if shift.judge is not None:
        return advance_sequential(ports, context, name, shift, gated=gated)
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
            hold_metrics_unreadable(ports, context, name, verdict, shift.errors + 1)
        return shift.model_copy(update={"errors": shift.errors + 1})
    if verdict.phase is Phase.INCONCLUSIVE:
        if shift.inconclusive + 1 > comp.gates.max_inconclusive:
            hold_not_enough_traffic(ports, context, name, verdict, shift.inconclusive + 1)
        # the metrics were read: the failed reads are no longer "in a row"
        return shift.model_copy(update={"inconclusive": shift.inconclusive + 1, "errors": 0})
    if shift.step_index + 1 >= len(shift.steps):
        return shift.model_copy(update={"done": True, "inconclusive": 0, "errors": 0})
    return move_on(ports, context, name, shift, record, None, gated=gated)


def move_on(
    ports: Ports,
    context: ReleaseContext,
    name: str,
    shift: ShiftState,
    record: ComponentRecord | None,
    cursor: JudgeCursor | None,
    *,
    gated: bool,
) -> ShiftState:
    """The step passed: move to the next one, unless a manual gate holds the move (``gated``: a
    child's shift; ``release/approvals.py``). A held shift keeps its judge's ``cursor``."""
    index = shift.step_index + 1
    step = shift.steps[index]
    if gated:
        gate = approvals.closed_gate(ports, context, name, shift.version, step)
        if gate == "pause":
            check_pause_timeout(ports, context, name, shift)
        if gate is not None:
            held = shift.model_copy(update={"judge": cursor, "inconclusive": 0, "errors": 0})
            return approvals.waiting(context, name, held, gate)
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
    now = ports.clock.now()
    moved = shift.model_copy(
        update={
            "step_index": index,
            "weight": step,
            "started_at": now,
            "inconclusive": 0,
            "errors": 0,
            "gate": "",
        }
    )
    if cursor is None:
        return moved
    return with_look(context, moved, next_step_cursor(cursor, now))


def check_pause_timeout(
    ports: Ports, context: ReleaseContext, name: str, shift: ShiftState
) -> None:
    """A pause that lasted longer than the component's ``approval_timeout_seconds`` holds the
    release, as an approval that did not come does (``ApprovalTimeoutError``)."""
    release = context.manifest.release
    since = approvals.paused_since(ports.records, release)
    limit = context.component(name).strategy.approval_timeout_seconds
    if since is None or (ports.clock.now() - since).total_seconds() <= limit:
        return
    step = approvals.next_step(shift) if shift.step_index + 1 < len(shift.steps) else 0.0
    approvals.write_hold(ports, release, name, shift.version, step, "pause-timeout")
    raise ApprovalTimeoutError(
        f"release {release} was paused longer than approval_timeout_seconds ({limit} s) before "
        f"{name}@{shift.version} moved to {step:g}%: nothing is known to be broken, the release "
        f"holds where it is. `rollout resume {release}` continues it, `rollout abort {release}` "
        "stops it",
        component=name,
        version=shift.version,
    )


def advance_sequential(
    ports: Ports, context: ReleaseContext, name: str, shift: ShiftState, *, gated: bool = False
) -> ShiftState:
    """One look of the sequential judge (``gates.judge: sequential``, ``docs/judge.md``).

    A bake is looked at every minute (``verify.look_seconds``): Bake waits one look, Advance
    judges the minutes not judged yet on the evidence carried in ``shift.judge``. FAILED at any
    look fails the gate (early fail); PASSED before the bake's end moves on at once (early pass);
    INCONCLUSIVE mid-bake waits for the next look and is not recorded as a verdict. At the bake's
    end INCONCLUSIVE (too few invocations) re-bakes, up to ``max_inconclusive``, then holds; ERROR
    re-looks, up to ``max_errors`` in a row, then holds, as the threshold rule does. The
    counters live in the judge's cursor (``ShiftState.inconclusive``/``errors`` stay 0: every
    Bake is one look).
    """
    comp = context.component(name)
    release = context.manifest.release
    look = verify_sequential(ports, context, name, shift)
    verdict, cursor = look.verdict, look.cursor
    keep_baking = verdict.phase is Phase.INCONCLUSIVE and not look.bake_complete
    record = None
    if not keep_baking:
        record = record_verdict(ports, release, name, verdict)
        logger.info(
            "verdict",
            extra={
                "component": name,
                "phase": verdict.phase,
                "step": shift.weight,
                "early": verdict.early,
                "reasons": verdict.reasons,
            },
        )
    if verdict.phase is Phase.FAILED:
        fail_gate(ports, context, name, verdict, f"gate failed at {shift.weight:g}%")
    if verdict.phase is Phase.ERROR:
        if cursor.errors + 1 > comp.gates.max_errors:
            hold_metrics_unreadable(ports, context, name, verdict, cursor.errors + 1)
        # the same minutes are read again at the next look
        cursor = cursor.model_copy(update={"errors": cursor.errors + 1})
        return with_look(
            context, shift.model_copy(update={"started_at": ports.clock.now()}), cursor
        )
    baked = cursor.baked_seconds + shift.nominal_bake_seconds
    if keep_baking:
        cursor = cursor.model_copy(update={"baked_seconds": baked, "errors": 0})
        return with_look(
            context, shift.model_copy(update={"started_at": ports.clock.now()}), cursor
        )
    if verdict.phase is Phase.INCONCLUSIVE:
        if cursor.inconclusive + 1 > comp.gates.max_inconclusive:
            hold_not_enough_traffic(ports, context, name, verdict, cursor.inconclusive + 1)
        cursor = cursor.model_copy(
            update={"inconclusive": cursor.inconclusive + 1, "errors": 0, "baked_seconds": 0}
        )
        return with_look(
            context, shift.model_copy(update={"started_at": ports.clock.now()}), cursor
        )
    if shift.step_index + 1 >= len(shift.steps):
        return shift.model_copy(
            update={
                "done": True,
                "inconclusive": 0,
                "errors": 0,
                "judge": cursor.model_copy(update={"baked_seconds": baked}),
            }
        )
    return move_on(ports, context, name, shift, record, cursor, gated=gated)


PORTS = ("aliases", "alias_reads", "metrics", "queues", "leases", "records", "clock")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("Advance", ComponentInput, advance, PORTS)
