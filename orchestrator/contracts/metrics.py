"""Per-schema message metrics, through Powertools Metrics (CloudWatch embedded metric format).

After every batch, :meth:`Component.handle <orchestrator.contracts.Component.handle>` prints one EMF
document per (queue, schema version) the batch contained, with three counts:

* ``MessagesProcessed``: handled (directly, or after its upgrade functions) without an error;
* ``MessagesFailed``: of a schema the version reads, but invalid, its upgrade failed, or its
  handler raised: retried, then dead-lettered;
* ``MessagesUnreadable``: of a schema (or from a queue) the version does not read, or carrying no
  schema version: retried, then dead-lettered, never acknowledged.

Namespace ``Rollout/Contracts`` (``Component(namespace=...)`` changes it). Unit ``Count``, standard
resolution. Two dimension sets, so a query needs no SEARCH or sum over versions:

* ``service``, ``Queue``, ``SchemaVersion``: per component, for the whole alias;
* ``service``, ``Queue``, ``SchemaVersion``, ``ExecutedVersion``: per published version (the
  Lambda context's ``function_version``, as in ``AWS/Lambda``'s ``ExecutedVersion``; this set is
  left out when the handler is called without a context).

``service`` is the component's name (the manifest's key), ``Queue`` the queue name the component
registered (the manifest's queue key; for a record from a queue it does not read, the SQS queue
name from ``eventSourceARN``), ``SchemaVersion`` the version the message carried as text (``"2"``;
``"missing"`` when it carried none), ``ExecutedVersion`` e.g. ``"18"``.

Every count of a (queue, version) present in the batch is emitted, zeros included, so "processed 0"
is data while a schema absent from the batch has no datapoint. A partial batch failure is not a
Lambda error (``AWS/Lambda`` ``Errors`` stays 0 when one message of ten fails): ``MessagesFailed``
and ``MessagesUnreadable`` are where such failures show.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

NAMESPACE = "Rollout/Contracts"
PROCESSED = "MessagesProcessed"
FAILED = "MessagesFailed"
UNREADABLE = "MessagesUnreadable"
METRICS = (PROCESSED, FAILED, UNREADABLE)

COMPONENT_DIMENSION = "service"
QUEUE_DIMENSION = "Queue"
SCHEMA_DIMENSION = "SchemaVersion"
VERSION_DIMENSION = "ExecutedVersion"
MISSING_SCHEMA = "missing"
"""``SchemaVersion`` of a message that carried no schema version."""


class Tally:
    """Counts of one batch: (queue, schema version text) -> metric name -> count."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], Counter[str]] = {}

    def add(self, queue: str, schema: str, metric: str) -> None:
        self.counts.setdefault((queue, schema), Counter())[metric] += 1

    def __bool__(self) -> bool:
        return bool(self.counts)


def dimensions(
    component: str, queue: str, schema: str, executed_version: str | None = None
) -> dict[str, str]:
    """The dimensions of one series, as a CloudWatch query names them."""
    out = {COMPONENT_DIMENSION: component, QUEUE_DIMENSION: queue, SCHEMA_DIMENSION: schema}
    if executed_version:
        out[VERSION_DIMENSION] = executed_version
    return out


def emit(
    tally: Tally,
    *,
    component: str,
    namespace: str = NAMESPACE,
    executed_version: str | None = None,
) -> None:
    """Print the batch's EMF documents (one per queue and schema version) on stdout."""
    for (queue, schema), counts in sorted(tally.counts.items()):
        metrics = EphemeralMetrics(namespace=namespace, service=component)
        metrics.add_dimension(name=QUEUE_DIMENSION, value=queue)
        metrics.add_dimension(name=SCHEMA_DIMENSION, value=schema)
        for name in METRICS:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts[name])
        per_version = dimensions(component, queue, schema, executed_version)
        add_set = getattr(metrics, "add_dimensions", None)
        if executed_version and add_set is not None:
            add_set(**per_version)
        metrics.flush_metrics()
        if executed_version and add_set is None:  # pragma: no cover - older Powertools
            versioned = EphemeralMetrics(namespace=namespace, service=component)
            for key in (QUEUE_DIMENSION, SCHEMA_DIMENSION, VERSION_DIMENSION):
                versioned.add_dimension(name=key, value=per_version[key])
            for name in METRICS:
                versioned.add_metric(name=name, unit=MetricUnit.Count, value=counts[name])
            versioned.flush_metrics()


def parse_emf(output: str | Iterable[str]) -> list[dict[str, Any]]:
    """The EMF documents among log lines (other lines are skipped)."""
    lines = output.splitlines() if isinstance(output, str) else output
    documents: list[dict[str, Any]] = []
    for line in lines:
        text = line.strip()
        if not text.startswith("{"):
            continue
        try:
            document = json.loads(text)
        except ValueError:
            continue
        if isinstance(document, dict) and "CloudWatchMetrics" in document.get("_aws", {}):
            documents.append(document)
    return documents


def emf_to_metric_data(document: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """What CloudWatch derives from one EMF document, as ``PutMetricData`` arguments.

    Namespace -> ``MetricData`` entries: one per metric and dimension set. For a harness that feeds
    an emulated CloudWatch (moto) the figures Lambda's log ingestion would extract on AWS.
    """
    meta = document["_aws"]
    timestamp = datetime.fromtimestamp(int(meta["Timestamp"]) / 1000, tz=UTC)
    out: dict[str, list[dict[str, Any]]] = {}
    for directive in meta["CloudWatchMetrics"]:
        data = out.setdefault(directive["Namespace"], [])
        for dimension_set in directive["Dimensions"]:
            dims = [{"Name": name, "Value": str(document[name])} for name in dimension_set]
            for metric in directive["Metrics"]:
                raw = document[metric["Name"]]
                values = [float(v) for v in (raw if isinstance(raw, list) else [raw])]
                data.append(
                    {
                        "MetricName": metric["Name"],
                        "Dimensions": dims,
                        "Timestamp": timestamp,
                        "Values": values,
                        "Unit": metric.get("Unit", "None"),
                    }
                )
    return out
