"""Notify: publish a situation report on-call can act on without opening a console.

Release, failing component and gate (values and limits), every component's live version and
weights, queue depths and oldest ages, what was pulled back and why, and what a hotfix must read
and write to be accepted, with the exact commands to hand one over or abort.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from orchestrator.errors import RolloutError
from orchestrator.model.steps import ReleaseRef
from orchestrator.steps import ledger
from orchestrator.steps.live import alias_weights
from orchestrator.steps.runtime import entrypoint, logger
from orchestrator.steps.shifting import fmt_weights

if TYPE_CHECKING:
    from orchestrator.steps.ledger import ReleaseContext
    from orchestrator.steps.runtime import Ports


class NotifyInput(ReleaseRef):
    on_failure: str = "roll-forward"


class Notice(BaseModel):
    wait: bool
    """True: wait for a hotfix; False: halt here (or hold, below)."""
    subject: str
    message: str
    hold: bool = False
    """True: nothing is broken, the gate could not judge: wait for ``rollout resume``."""


HOLD_WHY = {
    "not-enough-traffic": "not enough traffic to judge",
    "metrics-unreadable": "CloudWatch metrics could not be read (an environment problem)",
}


def hold_report(ports: Ports, context: ReleaseContext) -> Notice:
    """A release held because its gate could not judge: no pull-back, no hotfix asked for."""
    release = context.manifest.release
    hold: dict[str, Any] = dict(ports.records.get(release, "hold") or {})
    why = HOLD_WHY.get(str(hold.get("why")), "the gate could not judge")
    component = hold.get("component", "?")
    lines = [
        f"Release {release} is held: {why} for {component}@{hold.get('version')} at "
        f"{hold.get('step')}%. Nothing is broken and nothing was pulled back; no hotfix is needed.",
    ]
    for reason in hold.get("reasons") or []:
        lines.append(f"  - {reason}")
    lines.append("")
    lines.append("Live aliases:")
    records = ledger.all_components(ports.records, release)
    for name, weights in sorted(alias_weights(ports, context).items()):
        status = records[name].status if name in records else "unchanged"
        lines.append(f"  {name}: [{fmt_weights(weights)}] ({status})")
    lines.append("Queues:")
    lines.extend(queue_lines(ports, context))
    lines += [
        "",
        "When there is traffic again (or CloudWatch answers), continue: the step re-bakes and is "
        "judged afresh:",
        f"  rollout resume {release}",
        "Or stop the release where it stands:",
        f"  rollout abort {release} --reason '...'",
        "See runbooks/failed-gate.md (a held release).",
    ]
    subject = f"rollout {release}: {why} for {component}, release held"
    return Notice(wait=False, hold=True, subject=subject, message="\n".join(lines))


def queue_lines(ports: Ports, context: ReleaseContext) -> list[str]:
    now = ports.clock.now()
    lines = []
    for name, queue in sorted(context.manifest.queues.items()):
        try:
            depth = ports.queues.depth(queue.url)
            age = ports.queues.oldest_age_seconds(queue.url, now - timedelta(minutes=15), now)
            text = f"  {name}: {depth.visible} visible, {depth.in_flight} in flight"
            text += f", oldest {age:g}s" if age is not None else ""
            if queue.dlq_url:
                dlq = ports.queues.depth(queue.dlq_url)
                text += f"; dead-letter queue {dlq.total}"
        except RolloutError as exc:
            text = f"  {name}: could not be read ({exc})"
        lines.append(text)
    return lines


def situation_report(ports: Ports, context: ReleaseContext, on_failure: str) -> Notice:
    release = context.manifest.release
    rollforward = ledger.get_rollforward(ports.records, release)
    failure: dict[str, Any] = dict(
        ports.records.get(release, "failure") or rollforward.failure or {}
    )
    wait = rollforward.can_hotfix and on_failure != "halt"
    broken = rollforward.broken
    trigger = rollforward.trigger
    lines = [f"Release {release} is frozen: roll-forward round {rollforward.round}."]
    if trigger:
        lines.append(
            f"Failing gate: {trigger}@{failure.get('version')} at {failure.get('step')}% broke "
            f"{broken}."
        )
    for reason in rollforward.reasons:
        lines.append(f"  - {reason}")
    values: dict[str, Any] = dict(failure.get("values") or {})
    if values:
        lines.append("Values: " + ", ".join(f"{k}={v:g}" for k, v in sorted(values.items())))
    lines.append("")
    lines.append("Live aliases:")
    records = ledger.all_components(ports.records, release)
    for name, weights in sorted(alias_weights(ports, context).items()):
        status = records[name].status if name in records else "unchanged"
        lines.append(f"  {name}: [{fmt_weights(weights)}] ({status})")
    lines.append("Queues:")
    lines.extend(queue_lines(ports, context))
    if rollforward.decisions:
        lines.append("What the orchestrator did:")
        for decision in rollforward.decisions:
            lines.append(
                f"  {decision['component']}: {decision['action']}: "
                + "; ".join(decision["reasons"])
            )
    if rollforward.rejections:
        lines.append("Rejected hotfixes:")
        for rejection in rollforward.rejections:
            lines.append(f"  {rejection}")
    needs = rollforward.requirements
    if wait and isinstance(needs, dict):
        reads = " ".join(
            f"--reads {q}={','.join(str(s) for s in schemas)}"
            for q, schemas in needs["reads"].items()
        )
        writes_info = ", ".join(
            f"{q}: one of {schemas}" if schemas is not None else f"{q}: any"
            for q, schemas in needs["writes"].items()
        )
        lines += [
            "",
            f"Waiting for a hotfix of {needs['component']}: it must read "
            + (", ".join(f"{q} {s}" for q, s in needs["reads"].items()) or "nothing in particular")
            + (f"; and write {writes_info}" if writes_info else "")
            + ".",
            f"  rollout hotfix {release} --component {needs['component']} --version <V> {reads}",
            f"  rollout abort {release} --reason '...'",
            "After the hotfix is live, messages the broken version dead-lettered can be moved "
            "back: rollout redrive " + release + " --queue <queue> (see runbooks/hotfix.md).",
        ]
    else:
        lines += ["", "The release is halted; nothing more will move. See runbooks/failed-gate.md."]
    subject = f"rollout {release}: " + (
        f"{broken} broke, hotfix needed" if wait else "release halted"
    )
    return Notice(wait=wait, subject=subject, message="\n".join(lines))


def notify(event: NotifyInput, ports: Ports) -> Notice:
    context = ledger.load_context(ports.records, event.release)
    rollforward = ledger.get_rollforward(ports.records, event.release)
    if rollforward.kind == "hold":
        notice = hold_report(ports, context)
    else:
        notice = situation_report(ports, context, event.on_failure)
    try:
        ports.notifier.publish(notice.subject, notice.message)
    except RolloutError:
        # never lose the situation: it is in the log, the ledger, and `rollout status`
        logger.exception("could not publish the situation report")
    ports.records.put(event.release, "notice", notice.model_dump(mode="json"))
    return notice


PORTS = ("alias_reads", "queues", "records", "notifier", "clock")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("Notify", NotifyInput, notify, PORTS)
