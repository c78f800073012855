"""DrainQueues: before a wave shifts, wait until its consumers' queues hold no old-schema message.

DESIGN §4's rule, read-only (``GetQueueAttributes`` and CloudWatch; never receive, delete or purge):
a queue is drained of schema ``o`` once every message enqueued before the producers' full cutover
is gone, i.e. the queue was observed empty after the cutover, or its
``ApproximateAgeOfOldestMessage`` is younger than the time since the cutover (with one CloudWatch
period of margin, since the datapoint may be up to a minute old). A drain proven once stays proven:
the producers no longer write that schema. The state machine loops DrainQueues -> Wait until done;
past the queue's ``drain_timeout_seconds`` it raises ``DrainTimeoutError``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from orchestrator.errors import DrainTimeoutError, ReleaseStateError
from orchestrator.model.steps import DrainState, WaveInput
from orchestrator.steps import ledger
from orchestrator.steps.runtime import entrypoint
from orchestrator.steps.shifting import check_not_stopped

if TYPE_CHECKING:
    from orchestrator.model.plan import Drain
    from orchestrator.steps.ledger import ReleaseContext
    from orchestrator.steps.runtime import Ports

AGE_MARGIN_SECONDS = 60.0


def drains_for_wave(context: ReleaseContext, components: list[str]) -> list[Drain]:
    members = set(components)
    return [d for d in context.plan.drains if members & set(d.before)]


def cutover_time(ports: Ports, context: ReleaseContext, drain: Drain) -> datetime:
    release = context.manifest.release
    times = []
    for producer in drain.after:
        record = ledger.get_component(ports.records, release, producer)
        if record.status != "promoted" or record.promoted_at is None:
            raise ReleaseStateError(
                f"{producer} is not cut over yet, so {drain.queue} cannot be drained of schema "
                f"{drain.schema_} before {', '.join(drain.before)}",
                component=producer,
            )
        times.append(record.promoted_at)
    return max(times)


def drained(ports: Ports, context: ReleaseContext, drain: Drain, now: datetime) -> str | None:
    """None when the drain holds; otherwise what is still waiting."""
    release = context.manifest.release
    kind = f"drained#{drain.queue}#{drain.schema_}"
    if ports.records.get(release, kind) is not None:
        return None
    cutover = cutover_time(ports, context, drain)
    url = context.manifest.queues[drain.queue].url
    depth = ports.queues.depth(url)
    since = (now - cutover).total_seconds()
    proof = None
    if depth.total == 0:
        proof = "observed empty after the cutover"
    else:
        # the age can only prove the drain once the cutover is more than a margin ago (and an
        # empty window is not a CloudWatch query at all)
        age = (
            ports.queues.oldest_age_seconds(url, cutover, now)
            if since > AGE_MARGIN_SECONDS
            else None
        )
        if age is not None and age + AGE_MARGIN_SECONDS < since:
            proof = f"oldest message {age:g}s old, cutover {since:g}s ago"
        pending = (
            f"{drain.queue}: {depth.total} message(s) left, oldest "
            f"{'unknown' if age is None else f'{age:g}s'}, cutover {since:g}s ago"
        )
    if proof is None:
        return pending
    ports.records.put(release, kind, {"proof": proof, "at": now.isoformat()})
    return None


def drain_queues(event: WaveInput, ports: Ports) -> DrainState:
    check_not_stopped(ports, event.release)  # an abort must not wait for a drain
    context = ledger.load_context(ports.records, event.release)
    now = ports.clock.now()
    drains = drains_for_wave(context, event.components)
    if not drains:
        return DrainState(done=True, poll_seconds=0, started_at=now)
    kind = f"drain#{event.wave}"
    ports.records.put_new(event.release, kind, {"started_at": now.isoformat(), "polls": 0})
    item = ports.records.get(event.release, kind) or {}
    started = datetime.fromisoformat(str(item["started_at"]))
    polls = int(str(item.get("polls", 0))) + 1
    pending: list[str] = []
    timeouts: list[int] = []
    polls_every: list[int] = []
    for drain in drains:
        waiting = drained(ports, context, drain, now)
        if waiting is not None:
            queue = context.manifest.queues[drain.queue]
            pending.append(waiting)
            timeouts.append(queue.drain_timeout_seconds)
            polls_every.append(queue.drain_poll_seconds)
    ports.records.put(event.release, kind, {"started_at": started.isoformat(), "polls": polls})
    waited = (now - started).total_seconds()
    poll = min(polls_every) if polls_every else 0
    # bounded twice: by time, and by a poll count (a loop must end even if no clock advances)
    max_polls = (min(timeouts) // poll + 2) if pending else 0
    if pending and (waited >= min(timeouts) or polls > max_polls):
        raise DrainTimeoutError(
            f"drain of wave {event.wave + 1} timed out after {waited:g}s and {polls} checks: "
            + "; ".join(pending)
            + ". Nothing was received or deleted; see runbooks/drain-timeout.md",
        )
    return DrainState(
        done=not pending,
        poll_seconds=context.scaled(poll),
        nominal_poll_seconds=poll,
        started_at=started,
        polls=polls,
        pending=pending,
    )


PORTS = ("queues", "records", "clock")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("DrainQueues", WaveInput, drain_queues, PORTS)
