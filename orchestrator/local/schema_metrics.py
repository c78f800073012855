"""The per-schema message metrics of simulated consumers written with ``orchestrator.contracts``.

A component version that the scenario marks ``contracts: true`` (``versions: {enrich@18:
{contracts: true}}``, DESIGN §7a extended) behaves in the dry run as if its handler were a
:class:`orchestrator.contracts.Component`: after every simulated window it publishes, per queue it
receives and schema version it received there, ``MessagesProcessed``, ``MessagesFailed`` and
``MessagesUnreadable`` in namespace ``Rollout/Contracts`` with both of the library's dimension
sets (``service``, ``Queue``, ``SchemaVersion``, and the same with ``ExecutedVersion``), one
datapoint per whole minute, as Lambda's log ingestion would from the EMF lines
(``orchestrator/contracts/metrics.py``). A version not marked publishes nothing, as a handler
written without the library.

The counts follow the simulator's own model (``orchestrator/local/traffic_model.py``), so they
add up with its other figures: a version receives its share (alias weight among the versions the
queue reaches) of all the live traffic on the queue and of its component's share of the backlog
messages worked off in the window; of a schema it does not read every message is unreadable,
of one it reads the scenario's ``error_rate`` and ``errors_on`` fail, the rest are processed.
Whole numbers with a carried remainder per series (deterministic, no noise). A schema the version
received nothing of in a minute has no datapoint there; one it received has all three counts,
zeros included, as the library emits them.

Called once per window from ``Simulator.tick`` (:func:`publish`); it only builds datapoints
and hands them to ``put``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from orchestrator.contracts.metrics import (
    COMPONENT_DIMENSION,
    FAILED,
    NAMESPACE,
    PROCESSED,
    QUEUE_DIMENSION,
    SCHEMA_DIMENSION,
    UNREADABLE,
    VERSION_DIMENSION,
)
from orchestrator.local.traffic_model import minute_buckets

__all__ = ["publish"]

Schema = int | str


class _Window(Protocol):
    start: datetime
    end: datetime


class VersionsView(Protocol):
    """What :func:`publish` needs to know of the versions (``DeliveryModel`` is one)."""

    scenario: Any

    def reads(self, name: str, version: str, queue: str, schema: Schema) -> bool: ...

    def failure(self, name: str, version: str, queue: str, schema: Schema) -> float: ...


class CarryView(Protocol):
    def take(self, key: tuple[object, ...], amount: float) -> int: ...


def received(
    fresh: Mapping[Schema, float],
    backlog: Sequence[Schema],
    consumers: int,
    share: float,
) -> dict[Schema, float]:
    """Messages of each schema one version receives in the window: its share of the live traffic
    and of its component's part of the backlog messages worked off."""
    out: dict[Schema, float] = defaultdict(float)
    for schema, count in fresh.items():
        out[schema] += count * share
    for schema in backlog:
        out[schema] += share / max(1, consumers)
    return dict(out)


def publish(
    model: VersionsView,
    carry: CarryView,
    window: _Window,
    fresh: Mapping[str, Mapping[Schema, float]],
    readers: Mapping[str, Mapping[str, Mapping[str, float]]],
    backlog: Mapping[str, Sequence[Schema]],
    put: Callable[[str, list[dict[str, Any]]], None],
) -> int:
    """Write (``put(namespace, datapoints)``) the window's per-schema counts of every
    ``contracts: true`` version, given the live traffic, the readers and the schemas of the
    backlog messages worked off per queue; returns the number of datapoints written."""
    minutes = minute_buckets(window.start, window.end)
    data: list[dict[str, Any]] = []
    for queue, components in sorted(readers.items()):
        for name, versions in sorted(components.items()):
            for version, share in sorted(versions.items()):
                if not model.scenario.behaviour(name, version).contracts:
                    continue
                got = received(fresh.get(queue, {}), backlog.get(queue, ()), len(components), share)
                for schema, count in sorted(got.items(), key=lambda i: str(i[0])):
                    if count <= 0:
                        continue
                    if model.reads(name, version, queue, schema):
                        failing = model.failure(name, version, queue, schema)
                        expected = {
                            PROCESSED: count * (1.0 - failing),
                            FAILED: count * failing,
                            UNREADABLE: 0.0,
                        }
                    else:
                        expected = {PROCESSED: 0.0, FAILED: 0.0, UNREADABLE: count}
                    data.extend(_points(carry, name, version, queue, schema, expected, minutes))
    if data:
        put(NAMESPACE, data)
    return len(data)


def _points(
    carry: CarryView,
    name: str,
    version: str,
    queue: str,
    schema: Schema,
    expected: Mapping[str, float],
    minutes: Sequence[tuple[datetime, float]],
) -> list[dict[str, Any]]:
    whole = {COMPONENT_DIMENSION: name, QUEUE_DIMENSION: queue, SCHEMA_DIMENSION: str(schema)}
    per_version = {**whole, VERSION_DIMENSION: version}
    out: list[dict[str, Any]] = []
    for minute, fraction in minutes:
        counts = {
            metric: carry.take(("contracts", name, version, queue, schema, metric), v * fraction)
            for metric, v in expected.items()
        }
        if not any(counts.values()):
            continue  # nothing of this schema reached the version in this minute: no datapoint
        for dims in (whole, per_version):
            dimensions = [{"Name": k, "Value": v} for k, v in sorted(dims.items())]
            for metric, value in counts.items():
                out.append(
                    {
                        "MetricName": metric,
                        "Dimensions": dimensions,
                        "Timestamp": minute,
                        "Value": float(value),
                        "Unit": "Count",
                    }
                )
    return out
