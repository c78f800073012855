"""On-call operations on a running release: status, hotfix, abort, redrive.

Used by the CLI against AWS or an engine, and by the dry run's rehearsal. Each works through the
ports (the release's ledger and the live aliases) plus the Step Functions client.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from orchestrator.errors import (
    HotfixRejectedError,
    InputError,
    Issue,
    ReleaseNotFoundError,
    ReleaseStateError,
)
from orchestrator.model.manifest import schema_sort_key
from orchestrator.model.steps import HotfixSpec
from orchestrator.steps import ledger
from orchestrator.steps.apply_hotfix import hotfix_problems
from orchestrator.steps.live import alias_weights, observe_live
from orchestrator.steps.notify import queue_lines

if TYPE_CHECKING:
    from orchestrator.ports import MessageMover
    from orchestrator.steps.runtime import Ports


def waiting_token(ports: Ports, release: str) -> dict[str, object] | None:
    """The parked task token of a release waiting for a hotfix, or None."""
    return ports.records.get(release, "hotfix-token")


def hand_over_hotfix(
    ports: Ports, sfn: Any, release: str, hotfix: HotfixSpec, *, check: bool = True
) -> dict[str, Any]:
    """Give a waiting release its hotfix (SendTaskSuccess). Refuses an incompatible one first."""
    context = ledger.load_context(ports.records, release)
    parked = waiting_token(ports, release)
    if parked is None:
        raise ReleaseStateError(
            f"release {release} is not waiting for a hotfix (see `rollout status {release}`)"
        )
    if parked.get("purpose") == "resume":
        raise ReleaseStateError(
            f"release {release} is held (its gate could not judge), not waiting for a hotfix: "
            f"nothing is broken. Continue it with `rollout resume {release}`"
        )
    if check:
        _, issues = hotfix_problems(ports, context, hotfix)
        if issues:
            raise HotfixRejectedError(issues, component=hotfix.component, version=hotfix.version)
    sfn.send_task_success(taskToken=str(parked["token"]), output=hotfix.model_dump_json())
    ports.records.delete(release, "hotfix-token")
    return {"release": release, "handed_over": hotfix.model_dump(mode="json")}


def resume_release(ports: Ports, sfn: Any, release: str) -> dict[str, Any]:
    """Continue a held release (SendTaskSuccess): the held step re-bakes and is judged afresh."""
    ledger.load_context(ports.records, release)  # raises ReleaseNotFoundError
    parked = waiting_token(ports, release)
    if parked is None or parked.get("purpose") != "resume":
        what = "waits for a hotfix" if parked is not None else "is not held"
        raise ReleaseStateError(
            f"release {release} {what}: nothing to resume (see `rollout status {release}`)"
        )
    hold = ports.records.get(release, "hold") or {}
    sfn.send_task_success(taskToken=str(parked["token"]), output=json.dumps({"resume": True}))
    ports.records.delete(release, "hotfix-token")
    return {"release": release, "resumed": True, "held": hold or None}


def abort_release(ports: Ports, sfn: Any, release: str, reason: str) -> dict[str, Any]:
    """Ask a release to stop: no further forward moves, locks released, state reported.

    A release waiting for a hotfix ends at once (SendTaskFailure); a shifting one stops at its
    next step (every alias move checks the abort flag).
    """
    ledger.load_context(ports.records, release)  # raises ReleaseNotFoundError
    ledger.set_flag(ports.records, release, "abort", reason, ports.clock.now())
    parked = waiting_token(ports, release)
    woke = False
    if parked is not None:
        sfn.send_task_failure(
            taskToken=str(parked["token"]), error="ReleaseAbortedError", cause=reason[:32_000]
        )
        ports.records.delete(release, "hotfix-token")
        woke = True
    return {"release": release, "abort_requested": True, "was_waiting": woke, "reason": reason}


def release_status(ports: Ports, release: str) -> dict[str, Any]:
    """Per component: wave, live weights, status, last verdict; queues; roll-forward state."""
    context = ledger.load_context(ports.records, release)
    records = ledger.all_components(ports.records, release)
    weights = alias_weights(ports, context)
    components: dict[str, Any] = {}
    for name in context.manifest.resolved:
        record = records.get(name)
        wave = context.plan.wave_of(name)
        last = record.verdicts[-1] if record and record.verdicts else None
        components[name] = {
            "wave": None if wave is None else wave + 1,
            "weights": weights[name],
            "status": record.status if record else ("unchanged" if wave is None else "pending"),
            "target": context.to_version(name),
            "last_verdict": last.model_dump(mode="json") if last else None,
        }
    rollforward = ledger.get_rollforward(ports.records, release)
    parked = waiting_token(ports, release)
    waiting: dict[str, Any] | None = None
    if parked is not None and rollforward.round:
        since = datetime.fromisoformat(str(parked["since"]))
        elapsed = (ports.clock.now() - since).total_seconds()
        waiting = {
            "since": since.isoformat(),
            "seconds_left": max(0.0, context.manifest.hotfix_timeout_seconds - elapsed),
            "requirements": rollforward.requirements,
            "broken": rollforward.broken,
            "trigger": rollforward.trigger,
            "reasons": rollforward.reasons,
        }
    return {
        "release": release,
        "components": components,
        "queues": queue_lines(ports, context),
        "rollforward": rollforward.model_dump(mode="json") if rollforward.round else None,
        "waiting_for_hotfix": waiting,
        "report": ports.records.get(release, "report"),
        "aborted": ledger.flag(ports.records, release, "abort"),
    }


def redrive(ports: Ports, mover: MessageMover, release: str, queue: str) -> dict[str, Any]:
    """Move a queue's dead-lettered messages back once every live consumer reads their schemas."""
    context = ledger.load_context(ports.records, release)
    spec = context.manifest.queues.get(queue)
    if spec is None:
        known = ", ".join(sorted(context.manifest.queues))
        raise InputError([Issue("--queue", f"{queue!r} is not in release {release} ({known})")])
    if spec.dlq_url is None:
        raise InputError([Issue("--queue", f"queue {queue!r} has no dlq_url in the manifest")])
    if waiting_token(ports, release) is not None:
        raise ReleaseStateError(
            f"release {release} still waits for a hotfix: redrive once the hotfix is live"
        )
    _, state = observe_live(ports, context)
    schemas = state.queue_schemas.get(queue, frozenset())
    problems = []
    for name, version in state.consumers_of(queue):
        unread = schemas - version.reads[queue]
        if unread:
            problems.append(
                f"{name}@{version.version} is live and cannot read schema(s) "
                f"{sorted(unread, key=schema_sort_key)} that may be in the dead-letter queue"
            )
    if problems:
        raise ReleaseStateError(
            f"not redriving {queue}: "
            + "; ".join(problems)
            + ". Ship a hotfix that reads them first"
        )
    depth = ports.queues.depth(spec.dlq_url).total
    task = mover.move(spec.dlq_url, spec.url)
    return {
        "release": release,
        "queue": queue,
        "from": spec.dlq_url,
        "to": spec.url,
        "messages": depth,
        "schemas": sorted(schemas, key=schema_sort_key),
        "task": task,
    }


def dumps(document: Any) -> str:
    return json.dumps(document, indent=2, default=str)


__all__ = [
    "ReleaseNotFoundError",
    "abort_release",
    "hand_over_hotfix",
    "redrive",
    "release_status",
    "resume_release",
    "waiting_token",
]
