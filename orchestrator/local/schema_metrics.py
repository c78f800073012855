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

The counts follow the simulator's own model (``orchestrator/local/simulator.py``), so they add up
with its other figures: a version receives its share (alias weight among the versions the queue
reaches) of all the live traffic on the queue and of its component's share of the backlog
messages worked off in the window; of a schema it does not read every message is unreadable,
of one it reads the scenario's ``error_rate`` and ``errors_on`` fail, the rest are processed.
Whole numbers with a carried remainder per series (deterministic, no noise). A schema the version
received nothing of in a minute has no datapoint there; one it received has all three counts,
zeros included, as the library emits them.

Called once per window from ``Simulator._simulate`` (:func:`publish`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
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

__all__ = ["publish"]

Schema = int | str


class _Window(Protocol):
    start: datetime
    end: datetime


class SimulatorView(Protocol):
    """What :func:`publish` needs of the simulator (no import of it: no cycle)."""

    scenario: Any
    _carry: Any

    def reads(self, name: str, version: str, queue: str, schema: Schema) -> bool: ...

    def _failure(self, name: str, version: str, queue: str, schema: Schema) -> float: ...

    def _put_metrics(self, namespace: str, data: list[dict[str, Any]]) -> None: ...


def _minutes(start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    """``[start, end)`` cut at whole minutes: (start of the piece, its share of the window), as
    the simulator stamps its Lambda figures."""
    total = (end - start).total_seconds()
    out: list[tuple[datetime, float]] = []
    cursor = start
    while cursor < end:
        boundary = cursor.replace(second=0, microsecond=0) + timedelta(minutes=1)
        piece_end = min(boundary, end)
        out.append((cursor, (piece_end - cursor).total_seconds() / total))
        cursor = piece_end
    return out


def received(
    fresh: Mapping[Schema, float],
    backlog: Sequence[Any],
    consumers: int,
    share: float,
) -> dict[Schema, float]:
    """Messages of each schema one version receives in the window: its share of the live traffic
    and of its component's part of the backlog messages worked off."""
    out: dict[Schema, float] = defaultdict(float)
    for schema, count in fresh.items():
        out[schema] += count * share
    for message in backlog:
        out[message.schema] += share / max(1, consumers)
    return dict(out)


def publish(
    sim: SimulatorView,
    window: _Window,
    fresh: Mapping[str, Mapping[Schema, float]],
    readers: Mapping[str, Mapping[str, Mapping[str, float]]],
    drained: Mapping[str, Sequence[Any]],
) -> int:
    """Write the window's per-schema counts of every ``contracts: true`` version; returns the
    number of datapoints written."""
    minutes = _minutes(window.start, window.end)
    data: list[dict[str, Any]] = []
    for queue, components in sorted(readers.items()):
        for name, versions in sorted(components.items()):
            for version, share in sorted(versions.items()):
                if not sim.scenario.behaviour(name, version).contracts:
                    continue
                got = received(fresh.get(queue, {}), drained.get(queue, ()), len(components), share)
                for schema, count in sorted(got.items(), key=lambda i: str(i[0])):
                    if count <= 0:
                        continue
                    if sim.reads(name, version, queue, schema):
                        failing = sim._failure(name, version, queue, schema)
                        expected = {
                            PROCESSED: count * (1.0 - failing),
                            FAILED: count * failing,
                            UNREADABLE: 0.0,
                        }
                    else:
                        expected = {PROCESSED: 0.0, FAILED: 0.0, UNREADABLE: count}
                    data.extend(_points(sim, name, version, queue, schema, expected, minutes))
    if data:
        sim._put_metrics(NAMESPACE, data)
    return len(data)


def _points(
    sim: SimulatorView,
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
            metric: sim._carry.take(
                ("contracts", name, version, queue, schema, metric), v * fraction
            )
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
