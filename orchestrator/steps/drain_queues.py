"""DrainQueues: before a component shifts, wait until the queues it must not see old data on are
drained of the old schema.

DESIGN §4's rule, read-only (``GetQueueAttributes`` and CloudWatch; never receive, delete or purge):
a queue is drained of schema ``o`` once every message enqueued before the producers' full cutover
is gone. The cutover is the later of the producers' promotions and the end of the last minute in
which an old producer version still had invocations (``ExecutedVersion``: in-flight invocations
of the old version keep enqueueing the old schema after the alias moved; an unreadable answer
proves nothing). Then the queue was observed empty after the cutover, or its
``ApproximateAgeOfOldestMessage`` is younger than the time since the cutover (with one CloudWatch
period of margin, since the datapoint may be up to a minute old). Where the queue's consumers
publish per-schema counts (``orchestrator.contracts``: ``Rollout/Contracts``), the age rule must
also hold per schema: no message of ``o`` processed, failed or unreadable for
``planning.schema_metrics.QUIET_SECONDS`` after the cutover; they are read in the same
GetMetricData call as the old-version invocations (``planning/schema_metrics.py`` says why the
counts add a condition and never prove a drain alone). A drain proven once stays proven:
the producers no longer write that schema. The state machine loops DrainQueues -> Wait until done;
past the queue's ``drain_timeout_seconds`` it raises ``DrainTimeoutError``. A component's child
execution enters it from PrepareShift, before the first weight, only when a drain guarding the
component is not proven yet (``unproven_drains``; a component without drains pays no state for
them); once done, PrepareShift runs again. The child starts once the producers are promoted, so
the drain's clock starts with their cutover, not with a wave.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from orchestrator.errors import (
    DrainTimeoutError,
    EnvironmentProblemError,
    ReleaseStateError,
    TransientError,
)
from orchestrator.model.live import MetricQuery
from orchestrator.model.steps import DrainInput, DrainState
from orchestrator.planning.schema_metrics import decide_drain
from orchestrator.release import ledger
from orchestrator.release.scheduling import check_current
from orchestrator.release.schema_reads import SchemaQueries, consumers_of, schemas_on
from orchestrator.release.shifting import check_not_stopped, hold_lease
from orchestrator.release.verify import lambda_dimensions
from orchestrator.step_handler import entrypoint

if TYPE_CHECKING:
    from orchestrator.model.plan import Drain
    from orchestrator.model.steps import ComponentRecord
    from orchestrator.ports import Ports
    from orchestrator.release.ledger import ReleaseContext
    from orchestrator.release.schema_reads import SchemaAnswer

AGE_MARGIN_SECONDS = 60.0
PERIOD_SECONDS = 60
LOOKBACK_SECONDS = 900
"""How far before the promotion to look for old-version invocations (Lambda's longest timeout)."""


def drains_before(context: ReleaseContext, component: str) -> list[Drain]:
    """The drains that guard ``component`` (it is in their ``before``)."""
    return [d for d in context.plan.drains if component in d.before]


def proof_kind(drain: Drain) -> str:
    """The ledger item that proves ``drain`` (written once, by :func:`drained`)."""
    return f"drained#{drain.queue}#{drain.schema_}"


def unproven_drains(ports: Ports, context: ReleaseContext, component: str) -> list[Drain]:
    """The drains guarding ``component`` that no check has proven yet (PrepareShift sends the
    child to DrainQueues while there are any; most components have none, and pay nothing)."""
    release = context.manifest.release
    return [
        d
        for d in drains_before(context, component)
        if ports.records.get(release, proof_kind(d)) is None
    ]


def old_writers(context: ReleaseContext, record: ComponentRecord, queue: str) -> list[str]:
    """Versions of a producer that were live in this release, are not its promoted version, and
    write ``queue``: their in-flight invocations may still enqueue the old schema."""
    known = context.known_versions(record.component)
    return sorted(
        v
        for v in dict.fromkeys([*record.versions_seen, context.from_version(record.component)])
        if v != record.version and queue in (known[v].writes if v in known else {queue: None})
    )


def last_old_invocation(
    ports: Ports,
    context: ReleaseContext,
    drain: Drain,
    now: datetime,
    schemas: SchemaQueries | None = None,
) -> tuple[datetime | None, str | None, SchemaAnswer | None]:
    """End of the last minute in which an old producer version still ran (None: none ran), and
    the answer to ``schemas`` (the consumers' per-schema counts), read in the same GetMetricData
    call.

    Returns ``(None, why, None)`` when CloudWatch could not say: then nothing is proven this time.
    """
    release = context.manifest.release
    queries: list[MetricQuery] = []
    for producer in drain.after:
        record = ledger.get_component(ports.records, release, producer)
        comp = context.component(producer)
        for version in old_writers(context, record, drain.queue):
            queries.append(
                MetricQuery(
                    id=f"m{len(queries)}",
                    namespace="AWS/Lambda",
                    metric="Invocations",
                    dimensions=lambda_dimensions(comp, version),
                    stat="Sum",
                    period=PERIOD_SECONDS,
                )
            )
    extra = schemas.queries if schemas is not None else []
    if not queries and not extra:
        return None, None, None
    start = min(
        ledger.get_component(ports.records, release, p).promoted_at or now for p in drain.after
    ) - timedelta(seconds=LOOKBACK_SECONDS)
    end = now.replace(second=0, microsecond=0) + timedelta(seconds=PERIOD_SECONDS)
    try:
        results = ports.metrics.query(
            [*queries, *extra], start.replace(second=0, microsecond=0), end
        )
    except (TransientError, EnvironmentProblemError) as exc:
        return None, f"old-version invocations could not be read ({exc})", None
    last: datetime | None = None
    for query in queries:
        result = results.get(query.id)
        if result is None:
            return None, "old-version invocations could not be read (no answer)", None
        if result.total > 0 and not result.timestamps:
            return None, "old-version invocations have no timestamps", None
        period = result.last_nonzero_period_start()
        if period is not None:
            ended = period + timedelta(seconds=PERIOD_SECONDS)
            last = ended if last is None else max(last, ended)
    return last, None, None if schemas is None else schemas.answer(results)


def cutover_time(
    ports: Ports,
    context: ReleaseContext,
    drain: Drain,
    now: datetime,
    schemas: SchemaQueries | None = None,
) -> tuple[datetime | None, str | None, SchemaAnswer | None]:
    """The producers' full cutover (DESIGN §4): every producer promoted, and the end of the last
    period in which an old producer version had invocations. ``(None, why, None)``: not known
    yet. The third item answers ``schemas``, read in the same call."""
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
    last_run, why, answer = last_old_invocation(ports, context, drain, now, schemas)
    if why is not None:
        return None, why, None
    if last_run is not None:
        times.append(last_run)
    return max(times), None, answer


def schema_queries(context: ReleaseContext, drain: Drain) -> tuple[list[str], SchemaQueries]:
    """The consumers of the drained queue, and their per-schema series to read: every schema
    known on the queue, so that a consumer publishing any of them counts as reporting."""
    consumers = consumers_of(context, drain.queue)
    queries = SchemaQueries(prefix="s")
    for consumer in consumers:
        for schema in schemas_on(context, drain.queue):
            queries.add(consumer, drain.queue, schema)
    return consumers, queries


def drained(ports: Ports, context: ReleaseContext, drain: Drain, now: datetime) -> str | None:
    """None when the drain holds; otherwise what is still waiting.

    The decision is ``planning.schema_metrics.decide_drain``: observed empty, or the age rule,
    which must also hold per schema where the consumers publish per-schema counts (no message of
    the old schema received for ``QUIET_SECONDS`` after the cutover). The proof record
    ``drained#<queue>#<schema>`` says which (``proof``: ``empty``, ``age``, ``age+schema``).
    """
    release = context.manifest.release
    kind = proof_kind(drain)
    if ports.records.get(release, kind) is not None:
        return None
    consumers, queries = schema_queries(context, drain)
    cutover, unknown, answer = cutover_time(ports, context, drain, now, queries)
    if cutover is None:
        return f"{drain.queue}: {unknown}"
    url = context.manifest.queues[drain.queue].url
    since = (now - cutover).total_seconds()
    if since < 0:
        return (
            f"{drain.queue}: an old version of {', '.join(drain.after)} ran until "
            f"{cutover.isoformat()}; the drain clock starts then"
        )
    depth = ports.queues.depth(url)
    # the age can only prove the drain once the cutover is more than a margin ago (and an
    # empty window is not a CloudWatch query at all)
    age = (
        ports.queues.oldest_age_seconds(url, cutover, now)
        if depth.total > 0 and since > AGE_MARGIN_SECONDS
        else None
    )
    activity = None
    if answer is not None and depth.total > 0:
        if answer.unreadable:
            return (
                f"{drain.queue}: the consumers' per-schema counts could not be read "
                f"({'; '.join(answer.unreadable[:3])})"
            )
        activity = answer.old_schema_activity(consumers, drain.queue, drain.schema_, cutover, now)
    decision = decide_drain(
        queue=drain.queue,
        cutover=cutover,
        now=now,
        depth=depth.total,
        age=age,
        activity=activity,
        margin=AGE_MARGIN_SECONDS,
    )
    if decision.proof is None:
        return decision.text
    ports.records.put(
        release,
        kind,
        {
            "proof": decision.text,
            "kind": decision.proof,
            "at": now.isoformat(),
            "cutover": cutover.isoformat(),
            "evidence": decision.evidence,
        },
    )
    return None


def drain_queues(event: DrainInput, ports: Ports) -> DrainState:
    check_not_stopped(ports, event.release)  # an abort must not wait for a drain
    check_current(ports, event.release, event.component, event.round)
    context = ledger.load_context(ports.records, event.release)
    now = ports.clock.now()
    drains = drains_before(context, event.component)
    if not drains:
        return DrainState(done=True, poll_seconds=0, started_at=now)
    hold_lease(ports, context, event.component)  # a long drain must not let the lease expire
    kind = f"drain#{event.component}"
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
            f"drain before {event.component} timed out after {waited:g}s and {polls} checks: "
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


PORTS = ("leases", "metrics", "queues", "records", "clock")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("DrainQueues", DrainInput, drain_queues, PORTS)
