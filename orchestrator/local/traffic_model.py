"""The dry run's traffic arithmetic (pure: no AWS, no moto): what one simulated window produces.

Given the live weights of every alias, the scenario's ``traffic_per_minute`` and the versions'
declarations (:class:`~orchestrator.local.delivery_model.DeliveryModel`), a window of ``minutes``
yields, as expected values:

* invocations per executed version: traffic x weight (:func:`split_traffic`);
* the messages the producers write per queue and schema (:func:`messages_written`): each producer
  invocation writes one (virtual) message on every queue its version writes;
* who reads each queue (:func:`readers_of`): every live version the queue reaches, with its share;
* the backlog worked off (:class:`Backlog`): ``drain_per_minute`` real messages per queue, split
  evenly between the queue's reading components;
* errors per version (:func:`expected_errors`): ``error_rate`` plus, of the rest, what it fails
  on in the schema mix it receives (:func:`schema_mix`), its invocations spread evenly over the
  queues it receives;
* per queue and schema, the deliveries nobody could read and the messages that fail
  (:func:`settle_live_traffic`, :func:`settle_backlog`).

Expected values become whole numbers with a remainder carried per series (:class:`Carry`: 600/min
at 10% for 60 s is exactly 60, and totals over many windows never drift by more than one), except
the Lambda figures when noise is on (:class:`Noise`: Poisson invocations, binomial errors, Poisson
throttles from ``orchestrator/local/noise.py``, each draw a pure function of the seed, the series
and the piece of minute). A window is cut at whole minutes (:func:`minute_buckets`), one datapoint
per piece.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from orchestrator.local import noise

__all__ = [
    "EPSILON",
    "LAMBDA_METRICS",
    "Backlog",
    "Carry",
    "Noise",
    "Schema",
    "Settled",
    "expected_errors",
    "expected_figures",
    "figures_per_minute",
    "messages_written",
    "minute_buckets",
    "readers_of",
    "schema_mix",
    "schema_order",
    "settle_backlog",
    "settle_live_traffic",
    "split_traffic",
]

Schema = int | str
EPSILON = 1e-6
LAMBDA_METRICS = ("Invocations", "Errors", "Throttles")

Weights = Mapping[str, Mapping[str, float]]
"""component -> version -> fraction of its traffic (0..1)."""
Readers = Mapping[str, Mapping[str, Mapping[str, float]]]
"""queue -> reading component -> its live versions the queue reaches -> share (sum 1)."""


class VersionModel(Protocol):
    """What the arithmetic needs to know of the versions (``DeliveryModel`` is one)."""

    def writes(self, name: str, version: str) -> Mapping[str, Schema]: ...

    def delivered(self, name: str, version: str) -> list[str]: ...

    def reads(self, name: str, version: str, queue: str, schema: Schema) -> bool: ...

    def error_rate(self, name: str, version: str) -> float: ...

    def failure(self, name: str, version: str, queue: str, schema: Schema) -> float: ...


class Carry:
    """Expected values -> whole numbers, carrying each series' remainder to its next amount."""

    def __init__(self) -> None:
        self._total: dict[tuple[object, ...], float] = defaultdict(float)
        self._emitted: dict[tuple[object, ...], int] = defaultdict(int)

    def take(self, key: tuple[object, ...], amount: float) -> int:
        if amount <= 0:
            return 0
        self._total[key] += amount
        target = math.floor(self._total[key] + EPSILON)
        out = target - self._emitted[key]
        self._emitted[key] = target
        return max(out, 0)


def minute_buckets(start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    """``[start, end)`` cut at whole minutes: (timestamp of the piece, its share of the window)."""
    total = (end - start).total_seconds()
    out: list[tuple[datetime, float]] = []
    cursor = start
    while cursor < end:
        boundary = cursor.replace(second=0, microsecond=0) + timedelta(minutes=1)
        piece_end = min(boundary, end)
        out.append((cursor, (piece_end - cursor).total_seconds() / total))
        cursor = piece_end
    return out


def schema_order(item: tuple[Schema, Any]) -> tuple[int, int, str]:
    """Sort key of ``(schema, ...)`` pairs: numbered schemas first, in order, then named ones."""
    schema = item[0]
    return (0, schema, "") if isinstance(schema, int) else (1, 0, schema)


# -- traffic and schema mix ----------------------------------------------------------------------


def split_traffic(
    traffic_per_minute: float, minutes: float, weights: Weights
) -> dict[str, dict[str, float]]:
    """Expected invocations per component and executed version in a window of ``minutes``."""
    traffic = traffic_per_minute * minutes
    return {name: {v: traffic * w for v, w in per.items()} for name, per in weights.items()}


def messages_written(
    invocations: Mapping[str, Mapping[str, float]], model: VersionModel
) -> dict[str, dict[Schema, float]]:
    """Messages written per queue and schema in the window (virtual: never sent to SQS)."""
    fresh: dict[str, dict[Schema, float]] = defaultdict(lambda: defaultdict(float))
    for name, per in invocations.items():
        for version, count in per.items():
            for queue, schema in model.writes(name, version).items():
                fresh[queue][schema] += count
    return fresh


def readers_of(
    weights: Weights, queues: Iterable[str], model: VersionModel
) -> dict[str, dict[str, dict[str, float]]]:
    """queue -> reading component -> its live versions the queue reaches -> share (sum 1)."""
    index = {queue: i for i, queue in enumerate(queues)}
    readers: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for name, per in weights.items():
        # each version's queues once, then only the queues some version of ``name`` reads, in
        # the given order (a release of N components has about 2N queues: not N x queues^2)
        reach = {v: set(model.delivered(name, v)) for v in per}
        for queue in sorted(set().union(*reach.values()) & index.keys(), key=index.__getitem__):
            reached = {v: w for v, w in per.items() if queue in reach[v]}
            total = sum(reached.values())
            if total > 0:
                readers[queue][name] = {v: w / total for v, w in reached.items()}
    return readers


def schema_mix(
    fresh: Mapping[Schema, float], backlog: Sequence[Schema], reading_components: int
) -> dict[Schema, float]:
    """What one reading component receives of a queue in the window, per schema: all the live
    traffic, plus its share of the backlog messages worked off (one schema per message)."""
    mix: dict[Schema, float] = defaultdict(float, fresh)
    k = max(1, reading_components)
    for schema in backlog:
        mix[schema] += 1.0 / k
    return mix


def expected_errors(
    invocations: Mapping[str, Mapping[str, float]],
    fresh: Mapping[str, Mapping[Schema, float]],
    readers: Readers,
    backlog: Mapping[str, Sequence[Schema]],
    model: VersionModel,
) -> dict[tuple[str, str], float]:
    """Expected Errors per executed version, from its error rate and its schema mix."""
    errors: dict[tuple[str, str], float] = {}
    for name, per in invocations.items():
        for version, count in per.items():
            rate = model.error_rate(name, version)
            queues = model.delivered(name, version)
            if not queues:
                errors[(name, version)] = count * rate
                continue
            share = count / len(queues)
            expected = 0.0
            for queue in queues:
                mix = schema_mix(
                    fresh.get(queue, {}), backlog.get(queue, ()), len(readers.get(queue, {}))
                )
                total = sum(mix.values())
                if total <= 0:
                    expected += share * rate
                    continue
                expected += share * sum(
                    (n / total) * model.failure(name, version, queue, schema)
                    for schema, n in mix.items()
                )
            errors[(name, version)] = expected
    return errors


# -- what becomes of the messages ----------------------------------------------------------------


@dataclass(frozen=True)
class Settled:
    """What became of one schema's messages on one queue in a window (whole numbers)."""

    schema: Schema
    unreadable: int
    """Deliveries to a version that does not read ``schema``."""
    failed: int
    """Messages the readers failed on (unreadable ones included)."""


def settle_live_traffic(
    queue: str,
    fresh: Mapping[Schema, float],
    readers: Readers,
    model: VersionModel,
    carry: Carry,
    *,
    has_dlq: bool,
) -> list[Settled]:
    """The live traffic's unreadable deliveries and, where the queue has a DLQ, the failed
    messages that become real dead letters (without one they vanish: ``failed`` is 0)."""
    out: list[Settled] = []
    for schema, count in sorted(fresh.items(), key=schema_order):
        expected = 0.0
        unreadable = 0.0
        for name, versions in readers.get(queue, {}).items():
            for version, share in versions.items():
                expected += count * share * model.failure(name, version, queue, schema)
                if not model.reads(name, version, queue, schema):
                    unreadable += count * share
        lost = carry.take(("unreadable", "live", queue, schema), unreadable)
        failed = carry.take(("fresh-failed", queue, schema), expected) if has_dlq else 0
        out.append(Settled(schema, lost, failed))
    return out


def settle_backlog(
    queue: str,
    received: Mapping[Schema, int],
    readers: Readers,
    model: VersionModel,
    carry: Carry,
) -> list[Settled]:
    """Of the backlog messages received (count per schema), split evenly between the reading
    components, the unreadable deliveries and the messages that fail (at most those received)."""
    consumers = readers.get(queue, {})
    out: list[Settled] = []
    for schema, count in sorted(received.items(), key=schema_order):
        expected = 0.0
        unreadable = 0.0
        for name, versions in consumers.items():
            per_reader = count / len(consumers)
            for version, share in versions.items():
                expected += per_reader * share * model.failure(name, version, queue, schema)
                if not model.reads(name, version, queue, schema):
                    unreadable += per_reader * share
        lost = carry.take(("unreadable", "backlog", queue, schema), unreadable)
        taken = carry.take(("backlog-failed", queue, schema), expected)
        out.append(Settled(schema, lost, min(count, taken)))
    return out


@dataclass
class Backlog:
    """The scenario's backlog still waiting in each queue, and when it was enqueued."""

    remaining: dict[str, Counter[Schema]] = field(default_factory=dict)
    enqueued_at: dict[str, datetime] = field(default_factory=dict)

    def start(self, queue: str, enqueued_at: datetime) -> bool:
        """Set when ``queue``'s backlog was enqueued; True when it is new (to be sent)."""
        self.enqueued_at[queue] = enqueued_at
        if queue in self.remaining:
            return False  # seeded before: the backlog is already there
        self.remaining[queue] = Counter()
        return True

    def add(self, queue: str, schema: Schema, count: int) -> None:
        self.remaining[queue][schema] += count

    def left(self, queue: str) -> int:
        return sum(self.remaining.get(queue, Counter()).values())

    def quota(self, queue: str, per_minute: float, minutes: float, carry: Carry) -> int:
        """How many backlog messages the consumers get through in the window."""
        left = self.left(queue)
        if left <= 0:
            return 0
        return min(left, carry.take(("drain", queue), per_minute * minutes))

    def worked_off(self, queue: str, schemas: Sequence[Schema]) -> None:
        """The messages received (one schema each); none at all: the queue is empty."""
        remaining = self.remaining[queue]
        for schema in schemas:
            if remaining[schema] > 0:
                remaining[schema] -= 1
        if not schemas:  # someone emptied the queue behind our back: nothing is left
            remaining.clear()

    def oldest_age(self, queue: str, at: datetime) -> float:
        """ApproximateAgeOfOldestMessage at ``at``: the backlog's age, 0 once it is gone (live
        traffic is processed at once)."""
        return (at - self.enqueued_at[queue]).total_seconds() if self.left(queue) > 0 else 0.0


# -- Lambda figures ------------------------------------------------------------------------------


def expected_figures(
    invocations: float, errors: float, throttles_per_minute: float, minutes: float, weight: float
) -> dict[str, float]:
    """A version's expected Invocations, Errors and Throttles in a window."""
    return {
        "Invocations": invocations,
        "Errors": errors,
        "Throttles": throttles_per_minute * minutes * weight,
    }


@dataclass(frozen=True)
class Noise:
    """Seeded noise around the Lambda figures; ``epoch``: minute 0 of the draws (the start of
    the simulation, so the same release and seed give the same figures whenever it runs)."""

    enabled: bool
    seed: int
    epoch: datetime

    def draw(
        self,
        name: str,
        version: str,
        expected: Mapping[str, float],
        timestamp: datetime,
        fraction: float,
    ) -> dict[str, int]:
        """One piece of a minute drawn around its expectations: Poisson invocations, binomial
        errors over them, Poisson throttles; each draw a pure function of the seed, the series
        and the piece (minute index and offset), whatever the order windows run in."""
        since = (timestamp - self.epoch).total_seconds()
        minute = math.floor(since / 60.0)
        offset = round(since - minute * 60.0, 3)

        def u(metric: str) -> float:
            return noise.uniform(self.seed, name, version, metric, minute, offset)

        mean = expected["Invocations"] * fraction
        invocations = noise.poisson(mean, u("Invocations"))
        rate = min(1.0, expected["Errors"] / expected["Invocations"]) if mean > 0 else 0.0
        return {
            "Invocations": invocations,
            "Errors": noise.binomial(invocations, rate, u("Errors")),
            "Throttles": noise.poisson(expected["Throttles"] * fraction, u("Throttles")),
        }


def figures_per_minute(
    name: str,
    version: str,
    expected: Mapping[str, float],
    buckets: Sequence[tuple[datetime, float]],
    noise_: Noise,
    carry: Carry,
) -> list[tuple[datetime, dict[str, int]]]:
    """The whole-number figures of each piece of the window: drawn with noise, else the
    expectations with a carried remainder per series."""
    out: list[tuple[datetime, dict[str, int]]] = []
    for timestamp, fraction in buckets:
        if noise_.enabled:
            drawn = noise_.draw(name, version, expected, timestamp, fraction)
        else:
            drawn = {
                metric: carry.take(("metric", name, version, metric), amount * fraction)
                for metric, amount in expected.items()
            }
        out.append((timestamp, drawn))
    return out
