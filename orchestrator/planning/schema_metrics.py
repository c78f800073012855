"""What the consumers' per-schema message metrics say (pure): drain proofs, failures per schema,
the mix of schemas on a queue.

Components written with :mod:`orchestrator.contracts` publish, per queue and schema version, the
messages they processed, failed and found unreadable (``orchestrator/contracts/metrics.py``:
namespace ``Rollout/Contracts``, dimensions ``service`` = the component's manifest key, ``Queue`` =
the manifest's queue key, ``SchemaVersion`` = the version as text). A batch publishes every count
of each (queue, schema) it contained, zeros included; a schema absent from a batch has no
datapoint. So a series with no datapoint in a window says "no message of that schema was
received", and a consumer with no datapoint for *any* schema of a queue has no per-schema metrics
there (or received nothing): its evidence is absent, never zero.

*Drains* (``decide_drain``, called by ``steps/drain_queues.drained``). The age rule of DESIGN §4
stays the proof; the per-schema counts are a second, independent condition on it:

* the queue observed empty after the cutover proves the drain on its own (``empty``): there is no
  message left of any schema;
* where no consumer of the queue has per-schema metrics, the age rule alone proves it (``age``):
  the oldest message is younger than the time since the cutover, with a CloudWatch period of
  margin;
* where consumers have them, the age rule must hold *and* no message of the old schema may have
  been processed (nor failed, nor found unreadable) by any of them for ``quiet_seconds`` after the
  cutover (``age+schema``). An old-schema message received after the age rule says it is gone
  means the age lies: ``ApproximateAgeOfOldestMessage`` skips a message received three times or
  more (a poison message cycling), and it lags a minute. A failing old-schema message is still in
  the queue, so failures and unreadable deliveries count like processed ones.

The counts only ever *add* a condition: the consumers see the messages they receive, never those
still waiting, so no count of received messages can prove that none of the old schema waits
unreceived. Only the queue's own depth and age bound those, which is why neither the issue's
words ("processed count zero for a period after the cutover *and* the age rule holds") nor this
module lets the counts prove a drain before the age rule does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from orchestrator.contracts.metrics import (
    COMPONENT_DIMENSION,
    FAILED,
    METRICS,
    NAMESPACE,
    PROCESSED,
    QUEUE_DIMENSION,
    SCHEMA_DIMENSION,
    UNREADABLE,
)

__all__ = [
    "FAILED",
    "METRICS",
    "NAMESPACE",
    "PERIOD_SECONDS",
    "PROCESSED",
    "QUIET_SECONDS",
    "UNREADABLE",
    "Counts",
    "DrainDecision",
    "OldSchemaActivity",
    "SchemaFailures",
    "attribute_failures",
    "decide_drain",
    "schema_dimensions",
    "schema_mix",
]

PERIOD_SECONDS = 60
"""The period the orchestrator reads the per-schema counts in (EMF's standard resolution)."""
QUIET_SECONDS = 120
"""How long after the cutover (or after the last old-schema message a consumer received, if
later) no old-schema message may have been received: two periods, because the latest minute's
EMF figures may not have reached CloudWatch yet."""
AGE_MARGIN_SECONDS = 60.0
"""The age rule's margin: an ``ApproximateAgeOfOldestMessage`` datapoint may be a minute old."""

Proof = Literal["empty", "age", "age+schema"]


def schema_dimensions(component: str, queue: str, schema: object) -> dict[str, str]:
    """The whole-alias series of ``component``'s ``schema`` messages on ``queue``."""
    return {
        COMPONENT_DIMENSION: component,
        QUEUE_DIMENSION: queue,
        SCHEMA_DIMENSION: str(schema),
    }


@dataclass(frozen=True)
class Counts:
    """Messages of one schema received by one consumer (or summed) over a window."""

    processed: float = 0.0
    failed: float = 0.0
    unreadable: float = 0.0

    @property
    def received(self) -> float:
        return self.processed + self.failed + self.unreadable

    @property
    def not_handled(self) -> float:
        """Failed or unreadable: retried, then dead-lettered."""
        return self.failed + self.unreadable

    @property
    def failure_rate(self) -> float | None:
        return self.not_handled / self.received if self.received > 0 else None

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.processed + other.processed,
            self.failed + other.failed,
            self.unreadable + other.unreadable,
        )

    def as_dict(self) -> dict[str, float]:
        return {"processed": self.processed, "failed": self.failed, "unreadable": self.unreadable}

    @classmethod
    def of(cls, totals: Mapping[str, float]) -> Counts:
        """From metric name -> total (``MessagesProcessed`` ...)."""
        return cls(totals.get(PROCESSED, 0.0), totals.get(FAILED, 0.0), totals.get(UNREADABLE, 0.0))


# -- drains --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OldSchemaActivity:
    """What the queue's consumers received of the old schema, from their per-schema metrics.

    ``reporting``: consumers with at least one per-schema datapoint on the queue (any schema) in
    the window read; ``silent``: consumers of the queue without any (no per-schema metrics there,
    or nothing received). ``after_cutover``: the old schema's counts, summed over ``reporting``, in
    the periods that end after the cutover; ``last_seen``: the end of the latest such period in
    which an old-schema message was received (None: none was).
    """

    schema: str
    reporting: tuple[str, ...] = ()
    silent: tuple[str, ...] = ()
    after_cutover: Counts = field(default_factory=Counts)
    last_seen: datetime | None = None

    @property
    def exists(self) -> bool:
        return bool(self.reporting)


@dataclass(frozen=True)
class DrainDecision:
    """``proof`` is None while the drain is not proven; ``text`` is the proof, or what waits."""

    proof: Proof | None
    text: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def proven(self) -> bool:
        return self.proof is not None


def age_rule(since: float, age: float | None, margin: float = AGE_MARGIN_SECONDS) -> bool:
    """DESIGN §4: the oldest message is younger than the time since the cutover (with margin)."""
    return age is not None and since > margin and age + margin < since


def decide_drain(
    *,
    queue: str,
    cutover: datetime,
    now: datetime,
    depth: int,
    age: float | None,
    activity: OldSchemaActivity | None,
    quiet_seconds: float = QUIET_SECONDS,
    margin: float = AGE_MARGIN_SECONDS,
) -> DrainDecision:
    """Whether ``queue`` is proven drained of the old schema (see the module's docstring).

    ``depth``: messages visible, in flight and delayed; ``age``: the latest
    ``ApproximateAgeOfOldestMessage`` after the cutover (None: no datapoint, or not read);
    ``activity``: the consumers' per-schema evidence (None, or nobody reporting: there is none).
    """
    since = (now - cutover).total_seconds()
    evidence: dict[str, Any] = {"depth": depth, "age_seconds": age, "since_cutover": since}
    if since < 0:
        return DrainDecision(None, f"{queue}: the drain clock starts at {cutover.isoformat()}")
    if depth == 0:
        return DrainDecision("empty", "observed empty after the cutover", evidence)
    aged = age_rule(since, age, margin)
    left = (
        f"{queue}: {depth} message(s) left, oldest {'unknown' if age is None else f'{age:g}s'}, "
        f"cutover {since:g}s ago"
    )
    if activity is None or not activity.exists:
        if not aged:
            return DrainDecision(None, left, evidence)
        return DrainDecision(
            "age", f"oldest message {age:g}s old, cutover {since:g}s ago", evidence
        )
    quiet_from = max(cutover, activity.last_seen or cutover)
    quiet = (now - quiet_from).total_seconds()
    evidence["schema"] = {
        "schema": activity.schema,
        "reporting": list(activity.reporting),
        "silent": list(activity.silent),
        "after_cutover": activity.after_cutover.as_dict(),
        "last_seen": None if activity.last_seen is None else activity.last_seen.isoformat(),
        "quiet_seconds": quiet,
    }
    seen = activity.after_cutover
    flowing = (
        f"schema {activity.schema} last received by {', '.join(activity.reporting)} until "
        f"{quiet_from.isoformat()} ({seen.processed:g} processed, {seen.failed:g} failed, "
        f"{seen.unreadable:g} unreadable since the cutover)"
        if activity.last_seen is not None and activity.last_seen > cutover
        else f"no schema-{activity.schema} message received by {', '.join(activity.reporting)}"
    )
    quiet_enough = quiet >= quiet_seconds
    if aged and quiet_enough:
        text = f"oldest message {age:g}s old, cutover {since:g}s ago, and {flowing} for {quiet:g}s"
        if activity.silent:
            text += f" ({', '.join(activity.silent)}: no per-schema metrics)"
        return DrainDecision("age+schema", text, evidence)
    if aged:
        return DrainDecision(
            None,
            f"{queue}: the age rule holds, but {flowing}: {max(0.0, quiet):g}s of the "
            f"{quiet_seconds:g}s without it",
            evidence,
        )
    return DrainDecision(None, f"{left}; {flowing}", evidence)


# -- failures per schema (Verify) ----------------------------------------------------------------


@dataclass(frozen=True)
class SchemaFailures:
    """One downstream consumer's messages on one queue, split by schema: the new data and the
    data it read before."""

    consumer: str
    queue: str
    new_schema: str
    old_schema: str | None
    new: Counts
    old: Counts


def _rate(counts: Counts) -> str:
    if counts.received <= 0:
        return "none received"
    return f"{counts.not_handled:g} of {counts.received:g} failed ({counts.failure_rate:.1%})"


def attribute_failures(
    item: SchemaFailures, *, subject: str, tolerance: float = 0.0
) -> dict[str, Any]:
    """Which schema a downstream consumer's failures are on, as verdict evidence.

    ``blame``: ``new`` when the new schema fails at a higher rate than the old (more than
    ``tolerance`` above it, or the old had none), ``old`` when the old one does, ``none`` without
    failures, ``unknown`` without messages of the new schema.
    """
    new_rate, old_rate = item.new.failure_rate, item.old.failure_rate
    if new_rate is None:
        blame = "unknown"
    elif item.new.not_handled == 0 and item.old.not_handled == 0:
        blame = "none"
    elif old_rate is None or new_rate > old_rate + tolerance:
        blame = "new"
    elif old_rate > new_rate + tolerance:
        blame = "old"
    else:
        blame = "both"
    old_text = (
        f", schema {item.old_schema}: {_rate(item.old)}" if item.old_schema is not None else ""
    )
    verdict = {
        "new": f"the failures are on {subject}'s new schema {item.new_schema}",
        "old": f"the failures are on schema {item.old_schema}, not on {subject}'s new data",
        "both": "both schemas fail alike: not the new data's doing",
        "none": "no failures on either schema",
        "unknown": f"no schema-{item.new_schema} message has reached it yet",
    }[blame]
    return {
        "kind": "schema",
        "component": item.consumer,
        "queue": item.queue,
        "new_schema": item.new_schema,
        "old_schema": item.old_schema,
        "new": item.new.as_dict(),
        "old": item.old.as_dict(),
        "new_failure_rate": new_rate,
        "old_failure_rate": old_rate,
        "blame": blame,
        "text": (
            f"{item.consumer} on {item.queue}: schema {item.new_schema}: {_rate(item.new)}"
            f"{old_text}: {verdict}"
        ),
    }


# -- the mix on a queue (status) -----------------------------------------------------------------


def schema_mix(received: Mapping[str, Counts]) -> list[dict[str, Any]]:
    """Schema -> counts (summed over the queue's consumers) as rows with each schema's share of
    the messages received, the most common first."""
    total = sum(c.received for c in received.values())
    rows = [
        {
            "schema": schema,
            **counts.as_dict(),
            "share": round(counts.received / total, 4) if total > 0 else 0.0,
        }
        for schema, counts in received.items()
    ]
    return sorted(rows, key=lambda r: (-float(r["share"]), str(r["schema"])))


def periods_after(
    timestamps: Sequence[datetime], values: Sequence[float], after: datetime, now: datetime
) -> tuple[float, datetime | None]:
    """Sum of the values whose period ends after ``after``, and the end of the latest such period
    with a value above zero (periods of ``PERIOD_SECONDS``). Values without timestamps count, and
    one above zero was received at an unknown time: ``now``, the conservative answer."""
    total = 0.0
    last: datetime | None = None
    stamped = len(timestamps) == len(values)
    for i, value in enumerate(values):
        end = timestamps[i] + timedelta(seconds=PERIOD_SECONDS) if stamped else now
        if end <= after:
            continue
        total += value
        if value > 0:
            last = end if last is None else max(last, end)
    return total, last
