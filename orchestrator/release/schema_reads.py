"""Reading the consumers' per-schema message metrics (``Rollout/Contracts``) through the
``MetricSource`` port: the queries to add to a step's one GetMetricData call, and what their
answers say (``planning/schema_metrics.py`` judges them).

The series read are the whole-alias ones (``service``, ``Queue``, ``SchemaVersion``: summed over
the component's versions by the component itself), Sum per minute, for every component that reads
the queue in a version this release knows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from orchestrator.model.live import MetricQuery
from orchestrator.planning.schema_metrics import (
    METRICS,
    NAMESPACE,
    PERIOD_SECONDS,
    Counts,
    OldSchemaActivity,
    periods_after,
    schema_dimensions,
)

if TYPE_CHECKING:
    from orchestrator.model.live import MetricResult
    from orchestrator.release.ledger import ReleaseContext

Key = tuple[str, str, str]
"""(component, queue, schema as text)."""


def consumers_of(context: ReleaseContext, queue: str) -> list[str]:
    """Every component that reads ``queue`` in a version this release knows."""
    return list(context.readers_of(queue))


def schemas_on(context: ReleaseContext, queue: str) -> list[str]:
    """Every schema a known version writes or reads on ``queue``, as text."""
    return list(context.schemas_on(queue))


@dataclass
class SchemaQueries:
    """Per-schema queries to send along with a step's others; ``owners`` maps their ids."""

    prefix: str = "s"
    queries: list[MetricQuery] = field(default_factory=list)
    owners: dict[str, tuple[Key, str]] = field(default_factory=dict)

    def add(
        self, component: str, queue: str, schema: object, metrics: Iterable[str] = METRICS
    ) -> None:
        for metric in metrics:
            qid = f"{self.prefix}{len(self.queries)}"
            self.queries.append(
                MetricQuery(
                    id=qid,
                    namespace=NAMESPACE,
                    metric=metric,
                    dimensions=schema_dimensions(component, queue, schema),
                    stat="Sum",
                    period=PERIOD_SECONDS,
                )
            )
            self.owners[qid] = ((component, queue, str(schema)), metric)

    def answer(self, results: Mapping[str, MetricResult]) -> SchemaAnswer:
        answer = SchemaAnswer()
        for qid, (key, metric) in self.owners.items():
            result = results.get(qid)
            if result is None or not result.complete:
                answer.unreadable.append(f"{metric} of {key[0]} on {key[1]} schema {key[2]}")
                answer.missing.add(key)
                continue
            answer.series.setdefault(key, {})[metric] = result
        return answer


@dataclass
class SchemaAnswer:
    """What CloudWatch answered for the per-schema queries."""

    series: dict[Key, dict[str, MetricResult]] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)
    missing: set[Key] = field(default_factory=set)

    def readable(self, component: str, queue: str) -> bool:
        """Whether every series of ``component`` on ``queue`` was answered in full."""
        return not any(c == component and q == queue for c, q, _ in self.missing)

    def reports(self, component: str, queue: str) -> bool:
        """Whether ``component`` published any per-schema datapoint on ``queue`` in the window."""
        return any(
            result.values
            for (c, q, _), metrics in self.series.items()
            if c == component and q == queue
            for result in metrics.values()
        )

    def counts(
        self, component: str, queue: str, schema: object, since: datetime | None = None
    ) -> Counts:
        """Totals of one series, from the period starting at ``since`` on (None: all)."""
        totals: dict[str, float] = {}
        for metric, result in self.series.get((component, queue, str(schema)), {}).items():
            stamped = len(result.timestamps) == len(result.values)
            totals[metric] = sum(
                v
                for i, v in enumerate(result.values)
                if since is None or not stamped or result.timestamps[i] >= since
            )
        return Counts.of(totals)

    def old_schema_activity(
        self,
        consumers: Iterable[str],
        queue: str,
        schema: object,
        cutover: datetime,
        now: datetime,
    ) -> OldSchemaActivity:
        """The old schema's receptions after ``cutover`` by the consumers that report."""
        reporting = [c for c in consumers if self.reports(c, queue)]
        silent = [c for c in consumers if c not in reporting]
        totals: dict[str, float] = {}
        last: datetime | None = None
        for component in reporting:
            for metric, result in self.series.get((component, queue, str(schema)), {}).items():
                total, seen = periods_after(result.timestamps, result.values, cutover, now)
                totals[metric] = totals.get(metric, 0.0) + total
                if seen is not None:
                    last = seen if last is None else max(last, seen)
        return OldSchemaActivity(
            schema=str(schema),
            reporting=tuple(reporting),
            silent=tuple(silent),
            after_cutover=Counts.of(totals),
            last_seen=last,
        )

    def mix(self, consumers: Iterable[str], queue: str) -> dict[str, Counts]:
        """Schema -> counts summed over ``consumers`` (schemas without messages left out)."""
        out: dict[str, Counts] = {}
        names = set(consumers)
        for (component, q, schema), _ in sorted(self.series.items()):
            if q != queue or component not in names:
                continue
            counts = self.counts(component, queue, schema)
            if counts.received > 0:
                out[schema] = out.get(schema, Counts()) + counts
        return out
