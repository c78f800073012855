"""Verify: read what a gate needs in one GetMetricData call, then judge it (``planning.gates``).

Used by the Advance task after every bake. Reads, for the version being shifted to only
(dimensions ``FunctionName``, ``Resource`` = ``function:alias``, ``ExecutedVersion``): Invocations,
Errors, Throttles; for every *downstream* consumer (readers of the queues this version writes)
Invocations and Errors of each of its live versions, because they meet this version's new-schema
data for the first time now; the input queues' ``ApproximateAgeOfOldestMessage`` when a limit is
set; the manifest's alarms; and the growth of the dead-letter queues around the component.

A failed read is an ERROR verdict, never a FAILED or PASSED one. Failed reads are: CloudWatch
refusing the call; a query missing from its answer; a series CloudWatch flags incomplete
(``MetricResult.complete`` false); and an Errors series without a datapoint while the same
version's Invocations has some (Lambda publishes Errors with every invocation, so a gap means the
read lost data: zero errors must not be assumed). An empty Throttles series is normal (a throttled
request runs no version) and counts as zero. A version without any datapoint simply had no
invocations (INCONCLUSIVE, not ERROR).

The downstream consumers that must *meet the new data* before the step can pass
(``Observation.new_data_readers``) are the readers of every queue where the shifted version writes
a schema different from what its base version (``ShiftState.base_version``) writes; their
versions' invocations are summed against ``min_invocations`` by ``planning.gates``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from orchestrator.errors import EnvironmentProblemError, TransientError
from orchestrator.model.live import MetricQuery
from orchestrator.model.steps import ShiftState, Verdict
from orchestrator.planning.gates import Observation, VersionFigures, evaluate

if TYPE_CHECKING:
    from orchestrator.model.live import MetricResult
    from orchestrator.model.manifest import Component, VersionSpec
    from orchestrator.ports import Ports
    from orchestrator.release.ledger import ReleaseContext

LAMBDA_METRICS = ("Invocations", "Errors", "Throttles")


def lambda_dimensions(comp: Component, version: str) -> dict[str, str]:
    return {
        "FunctionName": comp.function_name,
        "Resource": f"{comp.function_name}:{comp.alias}",
        "ExecutedVersion": version,
    }


def window(started_at: datetime, now: datetime) -> tuple[datetime, datetime]:
    """Whole minutes around the bake: CloudWatch aggregates Lambda metrics per minute."""
    start = started_at.replace(second=0, microsecond=0)
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return start, end


def version_spec(context: ReleaseContext, name: str, version: str) -> VersionSpec | None:
    """What ``name``'s ``version`` reads and writes, if this release knows that version."""
    return context.known_versions(name).get(version)


def readers(context: ReleaseContext, queue: str, besides: str) -> list[str]:
    """Every component but ``besides`` that reads ``queue`` in a version this release knows."""
    out = []
    for other, comp in context.manifest.resolved.items():
        if other == besides:
            continue
        specs = [comp.from_, comp.to, *context.known_versions(other).values()]
        if any(queue in spec.reads for spec in specs):
            out.append(other)
    return sorted(out)


def downstream_consumers(context: ReleaseContext, name: str, version: str) -> list[str]:
    """Readers of the queues ``version`` (or the component's ``to``) writes."""
    comp = context.component(name)
    spec = version_spec(context, name, version) or comp.to
    queues = set(spec.writes) | set(comp.to.writes)
    return sorted({other for queue in queues for other in readers(context, queue, name)})


def new_data_queues(context: ReleaseContext, name: str, shift: ShiftState) -> dict[str, str]:
    """Queues where the shifted version writes a schema its base version does not write there.

    Maps queue -> a description of the change. A base version this release does not know counts
    as writing nothing (the conservative reading: its readers must show traffic first).
    """
    new = version_spec(context, name, shift.version) or context.component(name).to
    base = version_spec(context, name, shift.base_version)
    out = {}
    for queue, schema in sorted(new.writes.items()):
        before = None if base is None else base.writes.get(queue)
        if before != schema:
            out[queue] = f"{before} -> {schema}"
    return out


def new_data_readers(context: ReleaseContext, name: str, shift: ShiftState) -> dict[str, list[str]]:
    """Downstream component -> the queues on which it meets the shifted version's new data."""
    out: dict[str, list[str]] = {}
    for queue in new_data_queues(context, name, shift):
        for reader in readers(context, queue, name):
            out.setdefault(reader, []).append(queue)
    return out


def dlq_urls(context: ReleaseContext, name: str) -> dict[str, str]:
    """Dead-letter queues around a component: of the queues it reads and of those it writes."""
    comp = context.component(name)
    names = (
        set(comp.from_.reads) | set(comp.to.reads) | set(comp.from_.writes) | set(comp.to.writes)
    )
    out = {}
    for queue in sorted(names):
        spec = context.manifest.queues[queue]
        if spec.dlq_url is not None:
            out[queue] = spec.dlq_url
    return out


def dlq_depths(ports: Ports, context: ReleaseContext, name: str) -> dict[str, int]:
    return {q: ports.queues.depth(url).total for q, url in dlq_urls(context, name).items()}


def observe(ports: Ports, context: ReleaseContext, name: str, shift: ShiftState) -> Observation:
    comp = context.component(name)
    now = ports.clock.now()
    start, end = window(shift.started_at, now)
    queries: list[MetricQuery] = []
    owners: dict[str, tuple[str, str, str]] = {}  # query id -> (component, version, metric)

    def add(target: Component, version: str, metric: str) -> None:
        qid = f"m{len(queries)}"
        queries.append(
            MetricQuery(
                id=qid,
                namespace="AWS/Lambda",
                metric=metric,
                dimensions=lambda_dimensions(target, version),
                stat="Sum",
                period=60,
            )
        )
        owners[qid] = (target.name, version, metric)

    for metric in LAMBDA_METRICS:
        add(comp, shift.version, metric)
    for other in downstream_consumers(context, name, shift.version):
        target = context.component(other)
        live = ports.alias_reads.read(target.function, target.alias)
        for version in sorted(live.weights):
            add(target, version, "Invocations")
            add(target, version, "Errors")
    ages: dict[str, str] = {}
    if comp.gates.max_queue_age_seconds is not None:
        for queue in sorted(set(context.manifest.component(name).to.reads)):
            qid = f"m{len(queries)}"
            queries.append(
                MetricQuery(
                    id=qid,
                    namespace="AWS/SQS",
                    metric="ApproximateAgeOfOldestMessage",
                    dimensions={"QueueName": context.manifest.queues[queue].name},
                    stat="Maximum",
                    period=60,
                )
            )
            ages[qid] = queue

    failed: list[str] = []
    try:
        results = ports.metrics.query(queries, start, end)
    except (TransientError, EnvironmentProblemError) as exc:
        return Observation(own=None, failed_reads=[f"CloudWatch metrics ({exc})"])
    series: dict[tuple[str, str], dict[str, MetricResult]] = {}
    for qid, (owner, version, metric) in owners.items():
        result = results.get(qid)
        if result is None:
            failed.append(f"{metric} of {owner}@{version} (missing from CloudWatch's answer)")
            continue
        if not result.complete:
            failed.append(f"{metric} of {owner}@{version} (CloudWatch returned it incomplete)")
            continue
        series.setdefault((owner, version), {})[metric] = result
    for (owner, version), metrics in sorted(series.items()):
        invocations = metrics.get("Invocations")
        if invocations is None or invocations.total <= 0:
            continue
        # Errors is published with every invocation (0 or 1); Throttles is not: a throttled
        # request never runs a version, so an empty Throttles series is normal
        for metric in ("Errors",):
            got = metrics.get(metric)
            if got is not None and not got.values:
                failed.append(
                    f"{metric} of {owner}@{version} (no datapoints while Invocations has "
                    f"{invocations.total:g})"
                )
    queue_age = {}
    for qid, queue in ages.items():
        result = results.get(qid)
        if result is not None and result.maximum is not None:
            queue_age[queue] = result.maximum

    def version_figures(owner: str, version: str) -> VersionFigures:
        values = {metric: r.total for metric, r in series.get((owner, version), {}).items()}
        return VersionFigures(
            component=owner,
            version=version,
            invocations=values.get("Invocations", 0.0),
            errors=values.get("Errors", 0.0),
            throttles=values.get("Throttles", 0.0),
        )

    own = version_figures(name, shift.version)
    downstream = [
        version_figures(owner, version)
        for (owner, version) in sorted({(o, v) for o, v, _ in owners.values()})
        if owner != name
    ]
    alarms: dict[str, str] = {}
    if comp.gates.alarms:
        try:
            alarms = ports.metrics.alarm_states(list(comp.gates.alarms))
        except (TransientError, EnvironmentProblemError) as exc:
            failed.append(f"alarm states ({exc})")
        else:
            for missing in sorted(set(comp.gates.alarms) - set(alarms)):
                failed.append(f"alarm {missing} (it does not exist)")
    growth: dict[str, int] = {}
    try:
        for queue, depth in dlq_depths(ports, context, name).items():
            growth[queue] = max(0, depth - shift.dlq_baseline.get(queue, depth))
    except (TransientError, EnvironmentProblemError) as exc:
        failed.append(f"dead-letter queue depths ({exc})")
    return Observation(
        own=own,
        downstream=downstream,
        alarms=alarms,
        dlq_growth=growth,
        queue_age_seconds=queue_age,
        failed_reads=failed,
        new_data_readers=new_data_readers(context, name, shift),
    )


def verify(ports: Ports, context: ReleaseContext, name: str, shift: ShiftState) -> Verdict:
    seen = observe(ports, context, name, shift)
    comp = context.component(name)
    return evaluate(comp.gates, name, shift.version, shift.weight, seen, at=ports.clock.now())
