"""Notify: publish a situation report on-call can act on without opening a console.

Release, failing component and gate (values and limits), every component's live version and
weights, queue depths and oldest ages, what was pulled back and why, and what a hotfix must read
and write to be accepted, with the exact commands to hand one over or abort.

:func:`publish_final_notice` is the notice of a release that has ended, whatever its status
(SUCCEEDED, ROLLED_FORWARD, HALTED, FAILED), built from the Report step's document
(:func:`final_notice`): sent once per release (a retried Report does not send it again), and
never failing the step that sends it. The Report step is where it belongs (the one task every
terminal path runs); until that step calls it, a release that ends without a failure sends no
SNS at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from orchestrator.errors import RolloutError
from orchestrator.model.steps import ReleaseRef
from orchestrator.release import ledger
from orchestrator.release.live import alias_weights
from orchestrator.release.shifting import fmt_weights
from orchestrator.step_handler import entrypoint, logger

if TYPE_CHECKING:
    from orchestrator.ports import Ports
    from orchestrator.release.ledger import ReleaseContext


class NotifyInput(ReleaseRef):
    on_failure: str = "roll-forward"


class Notice(BaseModel):
    wait: bool
    """True: wait for a hotfix; False: halt here (or hold, below)."""
    subject: str
    message: str
    hold: bool = False
    """True: nothing is broken, the gate could not judge: wait for ``rollout resume``."""


def live_lines(ports: Ports, context: ReleaseContext) -> list[str]:
    """Every component's live weights and status, then every queue: the middle of a notice."""
    lines = ["Live aliases:"]
    records = ledger.all_components(ports.records, context.manifest.release)
    for name, weights in sorted(alias_weights(ports, context).items()):
        status = records[name].status if name in records else "unchanged"
        lines.append(f"  {name}: [{fmt_weights(weights)}] ({status})")
    lines.append("Queues:")
    lines.extend(queue_lines(ports, context))
    return lines


HOLD_WHY = {
    "not-enough-traffic": "not enough traffic to judge",
    "metrics-unreadable": "CloudWatch metrics could not be read (an environment problem)",
    "approval-timeout": "a manual approval did not come within approval_timeout_seconds",
    "pause-timeout": "the release was paused longer than approval_timeout_seconds",
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
    lines.extend(live_lines(ports, context))
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
    lines.extend(live_lines(ports, context))
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
    # once per round, kind and refusal: a retried Notify does not page twice
    key = f"notified#{rollforward.round}#{rollforward.kind or 'none'}#{len(rollforward.rejections)}"
    if ports.records.put_new(event.release, key, {"subject": notice.subject}):
        try:
            ports.notifier.publish(notice.subject, notice.message)
        except RolloutError:
            # never lose the situation: it is in the log, the ledger, and `rollout status`
            logger.exception("could not publish the situation report")
    ports.records.put(event.release, "notice", notice.model_dump(mode="json"))
    return notice


FINAL_NOTICE = "final-notice"
"""The record that makes :func:`publish_final_notice` send once per release."""

_ENDED = {
    "SUCCEEDED": "every shifted component is live on its verified new version",
    "ROLLED_FORWARD": "every shifted component is live on a verified version, through a hotfix",
    "HALTED": "it stopped on a failure; nothing more will move",
    "FAILED": "it did not complete",
}


def final_notice(report: Mapping[str, Any]) -> Notice:
    """The notice of a release that has ended, from the Report step's document."""
    release = str(report.get("release", "?"))
    status = str(report.get("status", "FAILED"))
    hotfixes = [h for h in report.get("hotfixes") or [] if isinstance(h, Mapping)]
    failure = report.get("failure") if isinstance(report.get("failure"), Mapping) else None
    error = report.get("error") if isinstance(report.get("error"), Mapping) else None
    lines = [f"Release {release} ended {status}: {_ENDED.get(status, 'it ended')}."]
    lines.append("")
    lines.append("Live aliases:")
    for name, row in sorted((report.get("final") or {}).items()):
        weights = {str(v): float(w) for v, w in (row.get("weights") or {}).items()}
        lines.append(f"  {name}: [{fmt_weights(weights)}] ({row.get('status', '?')})")
    if hotfixes:
        lines.append(
            "Hotfixes shipped: "
            + ", ".join(f"{h.get('component')}@{h.get('version')}" for h in hotfixes)
        )
    if failure:
        lines.append(
            f"Failure: {failure.get('component')}@{failure.get('version')} at "
            f"{failure.get('step')}% broke {failure.get('broken') or failure.get('component')}"
        )
        lines.extend(f"  - {reason}" for reason in failure.get("reasons") or [])
    if error and status in ("HALTED", "FAILED"):
        lines.append(f"Error: {error.get('Error')}: {error.get('Cause') or '(no cause given)'}")
    findings = list(report.get("findings") or [])
    if findings:
        lines.append("Findings:")
        lines.extend(f"  - {finding}" for finding in findings)
    lines.append("")
    lines.append(f"  rollout status {release}")
    if status == "ROLLED_FORWARD":
        lines.append(
            "Messages the broken version dead-lettered can be moved back: rollout redrive "
            f"{release} --queue <queue> (see runbooks/hotfix.md)."
        )
    elif status == "HALTED":
        lines.append("See runbooks/failed-gate.md.")
    elif status == "FAILED":
        lines.append("See runbooks/abort.md and runbooks/stuck-execution.md.")
    subject = f"rollout {release}: {status}"
    if hotfixes and status == "ROLLED_FORWARD":
        subject += " with " + ", ".join(
            f"{h.get('component')}@{h.get('version')}" for h in hotfixes
        )
    elif error and status in ("HALTED", "FAILED") and error.get("Error"):
        subject += f" ({error.get('Error')})"
    return Notice(wait=False, subject=subject[:100], message="\n".join(lines))


def publish_final_notice(ports: Ports, report: Mapping[str, Any]) -> Notice | None:
    """Publish :func:`final_notice` once per release; None when it was sent already. A notifier
    that fails is logged, never raised (the report is stored either way, as Notify does)."""
    release = str(report.get("release", ""))
    notice = final_notice(report)
    record = {"status": str(report.get("status")), "subject": notice.subject}
    if not ports.records.put_new(release, FINAL_NOTICE, record):
        return None
    try:
        ports.notifier.publish(notice.subject, notice.message)
    except RolloutError:
        logger.exception("could not publish the final notice")
    return notice


PORTS = ("alias_reads", "queues", "records", "notifier", "clock")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("Notify", NotifyInput, notify, PORTS)
