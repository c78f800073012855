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

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from orchestrator.errors import EnvironmentProblemError, TransientError
from orchestrator.model.live import MetricQuery
from orchestrator.model.steps import JudgeCursor, Phase, ShiftState, Verdict
from orchestrator.planning import judge
from orchestrator.planning.gates import (
    Check,
    Observation,
    VersionFigures,
    evaluate,
    evaluate_sequential,
)
from orchestrator.planning.schema_metrics import Counts, SchemaFailures, attribute_failures
from orchestrator.release.schema_reads import SchemaAnswer, SchemaQueries

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
    return [other for other in context.readers_of(queue) if other != besides]


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
    start, end = window(shift.started_at, ports.clock.now())
    return read(ports, context, name, shift, start, end)[0]


Series = dict[tuple[str, str], dict[str, "MetricResult"]]
"""(component, version) -> metric -> what CloudWatch answered."""


def read(
    ports: Ports,
    context: ReleaseContext,
    name: str,
    shift: ShiftState,
    start: datetime,
    end: datetime,
    *,
    with_base: bool = False,
) -> tuple[Observation, Series]:
    """Everything a check needs over ``[start, end)``, in one GetMetricData call; with
    ``with_base`` also the Invocations and Errors of the base version behind the same alias
    (the sequential judge's baseline). Returns the observation and the series read."""
    comp = context.component(name)
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
    if with_base and shift.base_version != shift.version:
        add(comp, shift.base_version, "Invocations")
        add(comp, shift.base_version, "Errors")
    for other in downstream_consumers(context, name, shift.version):
        target = context.component(other)
        live = ports.alias_reads.read(target.function, target.alias)
        for version in sorted(live.weights):
            add(target, version, "Invocations")
            add(target, version, "Errors")
    schemas = schema_queries(context, name, shift)
    queries.extend(schemas.queries)
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
        return Observation(own=None, failed_reads=[f"CloudWatch metrics ({exc})"]), {}
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
    observation = Observation(
        own=own,
        downstream=downstream,
        alarms=alarms,
        dlq_growth=growth,
        queue_age_seconds=queue_age,
        failed_reads=failed,
        new_data_readers=new_data_readers(context, name, shift),
        schemas=schema_evidence(context, name, shift, schemas.answer(results)),
    )
    return observation, series


def schema_pairs(
    context: ReleaseContext, name: str, shift: ShiftState
) -> list[tuple[str, str, str, str | None]]:
    """(downstream consumer, queue, new schema, old schema) wherever the shifted version writes
    new data: the series that tell its failures on the new schema from those on the old."""
    new = version_spec(context, name, shift.version) or context.component(name).to
    base = version_spec(context, name, shift.base_version)
    out = []
    for reader, queues in sorted(new_data_readers(context, name, shift).items()):
        for queue in sorted(queues):
            before = None if base is None else base.writes.get(queue)
            old = None if before is None else str(before)
            out.append((reader, queue, str(new.writes[queue]), old))
    return out


def schema_queries(context: ReleaseContext, name: str, shift: ShiftState) -> SchemaQueries:
    """The downstream consumers' per-schema counts of the new and the old schema, sent in the
    check's one GetMetricData call (ids ``s0``, ``s1`` ...)."""
    queries = SchemaQueries(prefix="s")
    for reader, queue, new, old in schema_pairs(context, name, shift):
        queries.add(reader, queue, new)
        if old is not None:
            queries.add(reader, queue, old)
    return queries


def schema_evidence(
    context: ReleaseContext, name: str, shift: ShiftState, answer: SchemaAnswer
) -> list[dict[str, object]]:
    """Failures per schema of every downstream consumer that publishes per-schema counts (none
    for the others, nor when those series could not be read: this is evidence, never a gate)."""
    out: list[dict[str, object]] = []
    subject = f"{name}@{shift.version}"
    for reader, queue, new, old in schema_pairs(context, name, shift):
        if not answer.reports(reader, queue):
            continue
        if not answer.readable(reader, queue):
            continue
        item = SchemaFailures(
            consumer=reader,
            queue=queue,
            new_schema=new,
            old_schema=old,
            new=answer.counts(reader, queue, new),
            old=answer.counts(reader, queue, old) if old is not None else Counts(),
        )
        out.append(attribute_failures(item, subject=subject))
    return out


def verify(ports: Ports, context: ReleaseContext, name: str, shift: ShiftState) -> Verdict:
    seen = observe(ports, context, name, shift)
    comp = context.component(name)
    return evaluate(comp.gates, name, shift.version, shift.weight, seen, at=ports.clock.now())


# -- the sequential judge (gates.judge: sequential) ---------------------------------------------

LOOK_SECONDS = 60
"""The sequential judge looks after every minute of a bake (CloudWatch's period for Lambda)."""
MAX_LOOKS_PER_BAKE = 10
"""Longer bakes are looked at in longer slices: history events stay bounded per step."""
BASELINE_LOOKBACK = timedelta(minutes=30)
"""How far before a shift began a downstream consumer's own figures are read (its baseline)."""


def look_seconds(bake_seconds: int) -> int:
    """The length of one look: a minute, or a tenth of a long bake in whole minutes."""
    if bake_seconds <= LOOK_SECONDS:
        return max(0, bake_seconds)
    return max(LOOK_SECONDS, math.ceil(bake_seconds / MAX_LOOKS_PER_BAKE / 60) * 60)


def next_look(cursor: JudgeCursor) -> int:
    return min(look_seconds(cursor.bake_seconds), cursor.bake_seconds - cursor.baked_seconds)


def with_look(context: ReleaseContext, shift: ShiftState, cursor: JudgeCursor) -> ShiftState:
    """The shift waiting for its next look: Bake waits one look, not the whole bake."""
    look = next_look(cursor)
    return shift.model_copy(
        update={
            "judge": cursor,
            "nominal_bake_seconds": look,
            "bake_seconds": context.scaled(look),
            "inconclusive": 0,
            "errors": 0,
        }
    )


def start_judge(context: ReleaseContext, name: str, shift: ShiftState) -> ShiftState:
    """A new shift's cursor: with ``gates.judge: sequential``, the judge's (the first look);
    otherwise unchanged (the threshold rule bakes whole bakes)."""
    if context.component(name).gates.judge != "sequential":
        return shift
    cursor = JudgeCursor(
        shift_started_at=shift.started_at,
        step_started_at=shift.started_at,
        bake_seconds=shift.nominal_bake_seconds,
    )
    return with_look(context, shift, cursor)


def shifted_components(context: ReleaseContext) -> int:
    return sum(1 for comp in context.manifest.resolved.values() if not comp.unchanged)


def judge_config(context: ReleaseContext, name: str, checks: int) -> judge.JudgeConfig:
    """This component's checks' share of the release budget: ``false_alarm_rate`` over the
    release's shifted components, then over this component's checks (itself and each
    downstream consumer). An early pass is no false alarm: its level is ``false_alarm_rate``
    itself (a version beyond the margin ends a step early at most that often)."""
    gates = context.component(name).gates
    return judge.JudgeConfig(
        alpha=judge.alpha_per_check(gates.false_alarm_rate, shifted_components(context), checks),
        tolerance=gates.tolerance,
        min_invocations=gates.min_invocations,
        max_error_rate=gates.max_error_rate,
        early_pass=gates.early_pass,
        absolute_tolerance=gates.absolute_tolerance,
        pass_alpha=gates.false_alarm_rate,
    )


def _floor(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


@dataclass(frozen=True)
class _Counts:
    invocations: float = 0.0
    errors: float = 0.0


def _split(
    series: Series, owner: str, version: str, since: datetime, before: datetime
) -> tuple[_Counts, _Counts]:
    """Invocations and errors of ``owner@version`` from ``since`` on, and before ``before``
    (values without timestamps count as from ``since`` on)."""
    now = {"Invocations": 0.0, "Errors": 0.0}
    earlier = {"Invocations": 0.0, "Errors": 0.0}
    for metric in now:
        result = series.get((owner, version), {}).get(metric)
        if result is None:
            continue
        stamps = result.timestamps if len(result.timestamps) == len(result.values) else []
        for i, value in enumerate(result.values):
            at = stamps[i] if stamps else None
            if at is None or at >= since:
                now[metric] += value
            elif at < before:
                earlier[metric] += value
    return (
        _Counts(now["Invocations"], now["Errors"]),
        _Counts(earlier["Invocations"], earlier["Errors"]),
    )


@dataclass(frozen=True)
class Look:
    """What one look of the sequential judge decided, and the cursor to carry on with."""

    verdict: Verdict
    cursor: JudgeCursor
    bake_complete: bool


def verify_sequential(ports: Ports, context: ReleaseContext, name: str, shift: ShiftState) -> Look:
    """One look: the minutes not judged yet, both versions behind the alias in one
    GetMetricData call (on the first look also the downstream consumers' figures before the
    shift began), added to the evidence carried in ``shift.judge``, then judged."""
    cursor = shift.judge
    assert cursor is not None, "start_judge sets the judge's cursor"
    comp = context.component(name)
    now = ports.clock.now()
    bake_complete = cursor.baked_seconds + shift.nominal_bake_seconds >= cursor.bake_seconds
    since = max(
        cursor.judged_until or _floor(cursor.step_started_at), _floor(cursor.step_started_at)
    )
    end = _floor(now)
    if bake_complete and end < now:
        end += timedelta(minutes=1)  # a bake that ends mid-minute judges that minute now
    end = max(end, since)
    before = _floor(cursor.shift_started_at)
    start = since if cursor.baselines_read else min(since, before - BASELINE_LOOKBACK)
    consumers = downstream_consumers(context, name, shift.version)
    config = judge_config(context, name, 1 + len(consumers))
    if end > start:
        seen, series = read(ports, context, name, shift, start, end, with_base=True)
    else:  # not a whole minute since the last look: nothing new to read
        seen, series = read(
            ports, context, name, shift, start, start + timedelta(minutes=1), with_base=True
        )
        series = {}
    readable = not seen.failed_reads and seen.own is not None
    own_state = judge.JudgeState.from_dict(cursor.own) if cursor.own else judge.start(config)
    states = {c: judge.JudgeState.from_dict(d) for c, d in cursor.downstream.items()}
    if readable:
        new, _ = _split(series, name, shift.version, since, before)
        old, old_before = _split(series, name, shift.base_version, since, before)
        if shift.base_version == shift.version:
            old = old_before = _Counts()
        if not cursor.baselines_read and not cursor.own and old_before.invocations > 0:
            # the old version's own minutes before the shift: the reference at 100% only
            own_state = judge.observe_before(own_state, old_before.invocations, old_before.errors)
        own_state = judge.observe(
            config,
            own_state,
            judge.Window(new.invocations, new.errors, old.invocations, old.errors),
            bake_end=bake_complete,
        )
        for consumer in consumers:
            versions = sorted(v for (o, v) in series if o == consumer)
            now_counts, before_counts = _Counts(), _Counts()
            for version in versions:
                a, b = _split(series, consumer, version, since, before)
                now_counts = _Counts(
                    now_counts.invocations + a.invocations, now_counts.errors + a.errors
                )
                before_counts = _Counts(
                    before_counts.invocations + b.invocations, before_counts.errors + b.errors
                )
            state = states.get(consumer)
            if state is None:
                state = judge.start(config)
                if before_counts.invocations > 0:
                    state = judge.observe(
                        config,
                        state,
                        judge.Window(0, 0, before_counts.invocations, before_counts.errors),
                    )
            states[consumer] = judge.observe(
                config,
                state,
                judge.Window(now_counts.invocations, now_counts.errors),
                bake_end=bake_complete,
            )
    own = Check(
        component=name,
        subject=f"{name}@{shift.version}",
        baseline=f"{name}@{shift.base_version}",
        judgement=judge.decide(config, own_state, bake_complete=bake_complete),
        step_invocations=own_state.step_invocations,
    )
    downstream = []
    for consumer in consumers:
        state = states.get(consumer) or judge.start(config)
        live = sorted(v for (o, v) in series if o == consumer) or ["?"]
        downstream.append(
            Check(
                component=consumer,
                subject=f"{consumer}@{'+'.join(live)}",
                baseline=f"{consumer} before the shift",
                judgement=judge.decide(config, state, bake_complete=bake_complete),
                step_invocations=state.step_invocations,
            )
        )
    baked = cursor.baked_seconds + shift.nominal_bake_seconds
    verdict = evaluate_sequential(
        comp.gates,
        name,
        shift.version,
        shift.weight,
        seen,
        own,
        downstream,
        minutes=round(baked / 60.0, 2),
        bake_minutes=round(cursor.bake_seconds / 60.0, 2),
        at=now,
    )
    if readable:
        if verdict.phase is Phase.PASSED and verdict.early:
            # the step ends early: no final look for this shift (its time is no longer fixed)
            own_state = judge.mark_early_pass(own_state)
            states = {c: judge.mark_early_pass(st) for c, st in states.items()}
        cursor = cursor.model_copy(
            update={
                "own": own_state.to_dict(),
                "downstream": {c: st.to_dict() for c, st in states.items()},
                "baselines_read": True,
                "judged_until": end,
            }
        )
    return Look(verdict=verdict, cursor=cursor, bake_complete=bake_complete)


def next_step_cursor(cursor: JudgeCursor, started_at: datetime) -> JudgeCursor:
    """The evidence carries on into the next traffic step; the step's own counts start over."""
    return cursor.model_copy(
        update={
            "own": judge.begin_step(judge.JudgeState.from_dict(cursor.own)).to_dict()
            if cursor.own
            else {},
            "downstream": {
                c: judge.begin_step(judge.JudgeState.from_dict(d)).to_dict()
                for c, d in cursor.downstream.items()
            },
            "step_started_at": started_at,
            "baked_seconds": 0,
            "inconclusive": 0,
            "errors": 0,
        }
    )
