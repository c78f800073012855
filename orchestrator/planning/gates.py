"""Gate evaluation: from observed figures to a closed verdict (pure).

The figures come from one GetMetricData call per check (see ``release/verify.py``). Rules, in order:

1. a read failed (a metric missing from the answer, a series CloudWatch returned incomplete, an
   Errors or Throttles series without datapoints while Invocations has some, alarm states or
   dead-letter depths unreadable): ERROR, never FAILED and never PASSED;
2. a threshold breached: FAILED, naming the breach with value and limit and the component that
   broke. Too few invocations never FAILS a version, so the thresholds that depend on the sample
   size need one first:

   * the own error rate counts only once the version had at least ``min_invocations``
     invocations;
   * a downstream consumer version's error rate counts only once *that* version had at least
     ``min_invocations`` invocations.

   The others FAIL whatever the invocations, because they do not depend on a sample: own
   throttles above ``max_throttles``, an alarm in ``ALARM`` (or in ``INSUFFICIENT_DATA`` where its
   policy says ``failed``), dead-letter queue growth above ``max_dlq_growth``, and an input queue
   older than ``max_queue_age_seconds``;
3. too little traffic to judge: INCONCLUSIVE (the step re-bakes, up to ``max_inconclusive``, then
   the release holds). That is: fewer own invocations than ``min_invocations`` (at least one
   always, whatever the configuration); a downstream consumer that has not met the new data yet
   (for every queue where the shifted version writes a schema its base version does not, each
   reader of that queue must show, summed over its live versions, at least ``min_invocations``
   invocations); an alarm in ``INSUFFICIENT_DATA`` whose policy is ``inconclusive`` (the default);
4. otherwise PASSED.

An alarm in ``INSUFFICIENT_DATA`` whose policy is ``ok`` counts as ``OK``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orchestrator.model.manifest import Gates
from orchestrator.model.steps import Phase, Verdict
from orchestrator.planning.judge import Judgement, evidence_line

ALARM_STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")


@dataclass(frozen=True)
class VersionFigures:
    """Invocations, errors and throttles of one executed version over the window."""

    component: str
    version: str
    invocations: float
    errors: float
    throttles: float = 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.invocations if self.invocations > 0 else 0.0


@dataclass(frozen=True)
class Observation:
    """Everything one check saw. ``failed_reads`` lists what could not be read.

    ``new_data_readers`` maps every downstream component that must meet the shifted version's
    new data (it reads a queue where that version writes a schema its base version does not) to
    those queues; its figures are the ``downstream`` entries of its live versions.
    """

    own: VersionFigures | None
    downstream: Sequence[VersionFigures] = ()
    alarms: Mapping[str, str] = field(default_factory=dict)
    dlq_growth: Mapping[str, int] = field(default_factory=dict)
    queue_age_seconds: Mapping[str, float] = field(default_factory=dict)
    failed_reads: Sequence[str] = ()
    new_data_readers: Mapping[str, Sequence[str]] = field(default_factory=dict)
    schemas: Sequence[Mapping[str, Any]] = ()
    """Downstream consumers' failures per schema (``schema_metrics.attribute_failures``), where
    they publish per-schema counts: evidence in the verdict, never a gate of its own."""


def schema_evidence(seen: Observation, values: dict[str, float]) -> list[dict[str, Any]]:
    """The observation's per-schema evidence, as verdict ``evidence`` entries (``kind: schema``),
    and its figures in ``values`` (``schema.<consumer>.<queue>.<new|old>.<count>``)."""
    out = []
    for entry in seen.schemas:
        prefix = f"schema.{entry['component']}.{entry['queue']}"
        for side in ("new", "old"):
            for count, value in dict(entry.get(side) or {}).items():
                values[f"{prefix}.{side}.{count}"] = float(value)
        out.append(dict(entry))
    return out


def schema_reasons(seen: Observation, broken: str | None) -> list[str]:
    """The per-schema lines of the downstream consumer that broke, for a FAILED verdict."""
    return [str(e["text"]) for e in seen.schemas if broken and e.get("component") == broken]


def min_invocations(gates: Gates) -> int:
    """The sample a verdict needs: ``min_invocations``, and never less than one invocation."""
    return max(1, gates.min_invocations)


def evaluate(
    gates: Gates,
    component: str,
    version: str,
    step: float,
    seen: Observation,
    at: datetime | None = None,
    *,
    rates: bool = True,
) -> Verdict:
    """The threshold rule (``gates.judge: threshold``); with ``rates=False`` only the rules that
    do not judge error rates or sample sizes (the sequential judge's companion rules)."""
    values: dict[str, float] = {}
    if seen.own is not None:
        values.update(
            invocations=seen.own.invocations,
            errors=seen.own.errors,
            throttles=seen.own.throttles,
            error_rate=round(seen.own.error_rate, 6),
        )
    minimum = min_invocations(gates)
    me = f"{component}@{version}"

    schemas = schema_evidence(seen, values)

    def verdict(phase: Phase, reasons: list[str], broken: str | None = None) -> Verdict:
        return Verdict(
            phase=phase,
            component=component,
            version=version,
            step=step,
            reasons=reasons,
            values=values,
            broken=broken,
            at=at,
            evidence=schemas,
        )

    # 1. ERROR: what could not be read is never judged
    unreadable = list(seen.failed_reads)
    if seen.own is None and not unreadable:
        unreadable.append(f"the metrics of {me}")
    for name, state in sorted(seen.alarms.items()):
        if state not in ALARM_STATES:
            unreadable.append(f"alarm {name} (unknown state {state!r})")
    if unreadable:
        return verdict(Phase.ERROR, [f"could not read {', '.join(unreadable)}"])
    assert seen.own is not None
    own = seen.own

    # 2. FAILED: thresholds; the sample-size ones only with enough invocations
    failures: list[tuple[str, str]] = []  # (component that broke, reason)
    if rates and own.invocations >= minimum and own.error_rate > gates.max_error_rate:
        failures.append(
            (
                component,
                f"{me} error rate {own.error_rate:.4f} > max_error_rate "
                f"{gates.max_error_rate} ({own.errors:g} errors / {own.invocations:g} invocations)",
            )
        )
    if own.throttles > gates.max_throttles:
        failures.append(
            (component, f"{me} throttles {own.throttles:g} > max_throttles {gates.max_throttles}")
        )
    no_data: list[str] = []  # alarms in INSUFFICIENT_DATA that keep the step INCONCLUSIVE
    for name, state in sorted(seen.alarms.items()):
        if state == "ALARM":
            failures.append((component, f"alarm {name} is in ALARM"))
        elif state == "INSUFFICIENT_DATA":
            policy = gates.insufficient_data.get(name, "inconclusive")
            if policy == "failed":
                failures.append(
                    (component, f"alarm {name} is in INSUFFICIENT_DATA (insufficient_data: failed)")
                )
            elif policy == "inconclusive":
                no_data.append(name)
    for queue, growth in sorted(seen.dlq_growth.items()):
        values[f"dlq_growth.{queue}"] = growth
        if growth > gates.max_dlq_growth:
            failures.append(
                (
                    component,
                    f"dead-letter queue of {queue} grew by {growth} > max_dlq_growth "
                    f"{gates.max_dlq_growth}",
                )
            )
    if gates.max_queue_age_seconds is not None:
        for queue, age in sorted(seen.queue_age_seconds.items()):
            values[f"queue_age.{queue}"] = age
            if age > gates.max_queue_age_seconds:
                failures.append(
                    (
                        component,
                        f"oldest message in {queue} is {age:g}s old > max_queue_age_seconds "
                        f"{gates.max_queue_age_seconds:g}",
                    )
                )
    for figures in seen.downstream:
        key = f"{figures.component}@{figures.version}"
        values[f"downstream.{key}.errors"] = figures.errors
        values[f"downstream.{key}.invocations"] = figures.invocations
        if rates and figures.invocations >= minimum and figures.error_rate > gates.max_error_rate:
            failures.append(
                (
                    figures.component,
                    f"downstream consumer {key} error rate {figures.error_rate:.4f} > "
                    f"max_error_rate {gates.max_error_rate} ({figures.errors:g} errors / "
                    f"{figures.invocations:g} invocations) while {me} "
                    f"takes {step:g}% of the traffic",
                )
            )
    if failures:
        # a downstream breakage is the story: the consumer broke, this shift triggered it
        downstream = [name for name, _ in failures if name != component]
        broken = downstream[0] if downstream else component
        return verdict(
            Phase.FAILED,
            [reason for _, reason in failures] + schema_reasons(seen, broken),
            broken,
        )

    # 3. INCONCLUSIVE: too little traffic (or data) to judge
    waiting: list[str] = []
    if rates and own.invocations < minimum:
        waiting.append(f"{me} had {own.invocations:g} invocations < min_invocations {minimum}")
    for reader, queues in sorted(seen.new_data_readers.items() if rates else ()):
        met = sum(f.invocations for f in seen.downstream if f.component == reader)
        values[f"downstream.{reader}.invocations"] = met
        if met < minimum:
            waiting.append(
                f"downstream {reader} has not met {me}'s new data yet: {met:g} invocations < "
                f"min_invocations {minimum} (it reads {', '.join(sorted(queues))})"
            )
    for name in no_data:
        waiting.append(f"alarm {name} is in INSUFFICIENT_DATA (insufficient_data: inconclusive)")
    if waiting:
        return verdict(Phase.INCONCLUSIVE, waiting)
    return verdict(Phase.PASSED, [])


@dataclass(frozen=True)
class Check:
    """One sequential check: whose figures, compared with what, and the judge's judgement."""

    component: str
    subject: str
    """``enrich@18``, or a downstream consumer's live versions (``store@5``)."""
    baseline: str
    """``enrich@17``, or ``store@5 before the shift``."""
    judgement: Judgement
    step_invocations: int = 0


def evaluate_sequential(
    gates: Gates,
    component: str,
    version: str,
    step: float,
    seen: Observation,
    own: Check,
    downstream: Sequence[Check],
    *,
    minutes: float,
    bake_minutes: float,
    at: datetime | None = None,
) -> Verdict:
    """The sequential judge's verdict (``gates.judge: sequential``, ``planning/judge.py``).

    In order: a read that failed (or an impossible figure) is ERROR; the version's judge FAILED
    (the ratio, or the ceiling), a downstream consumer's judge FAILED (``broken`` names it), or
    one of the rules that do not judge rates (throttles, alarms, dead letters, queue age: as
    the threshold rule) is FAILED; the version's judge not decided yet, or a downstream consumer
    that has not met the new data (``min_invocations`` in the step), is INCONCLUSIVE (mid-bake:
    keep baking; at the bake's end: a re-bake); otherwise PASSED (``early`` before the bake's
    end). A downstream consumer's own judgement never holds a step: only its FAILED counts.
    """
    base = evaluate(gates, component, version, step, seen, at, rates=False)
    checks = [own, *downstream]
    evidence = []
    for check in checks:
        judged = check.judgement
        entry = judge_evidence(check)
        entry["text"] = evidence_line(
            check.subject,
            check.baseline,
            judged.evidence,
            judged.phase,
            step,
            minutes,
            bake_minutes,
        )
        evidence.append(entry)
    evidence.extend(base.evidence)  # the per-schema entries (kind: schema), after the checks
    values = dict(base.values)
    ev = own.judgement.evidence
    values.update(
        shift_invocations=ev.new_invocations,
        shift_errors=ev.new_errors,
        baseline_invocations=ev.old_invocations,
        baseline_errors=ev.old_errors,
        step_invocations=own.step_invocations,
    )
    if ev.ratio is not None and math.isfinite(ev.ratio):
        values["ratio"] = round(ev.ratio, 6)

    def verdict(
        phase: Phase, reasons: list[str], broken: str | None = None, early: bool = False
    ) -> Verdict:
        return base.model_copy(
            update={
                "phase": phase,
                "reasons": reasons,
                "broken": broken,
                "values": values,
                "evidence": evidence,
                "early": early,
            }
        )

    if base.phase is Phase.ERROR:
        return verdict(Phase.ERROR, base.reasons)
    errors = [c for c in checks if c.judgement.phase is Phase.ERROR]
    if errors:
        return verdict(
            Phase.ERROR, [f"{c.subject}: {r}" for c in errors for r in c.judgement.reasons]
        )
    failures: list[tuple[str, str]] = []
    for check in checks:
        if check.judgement.phase is Phase.FAILED:
            text = evidence[checks.index(check)]["text"]
            reasons = "; ".join(check.judgement.reasons)
            failures.append((check.component, f"{text} ({reasons})"))
    if base.phase is Phase.FAILED:
        failures.extend((base.broken or component, reason) for reason in base.reasons)
    if failures:
        downstream_broken = [name for name, _ in failures if name != component]
        broken = downstream_broken[0] if downstream_broken else component
        lines = [reason for _, reason in failures]
        lines += [r for r in schema_reasons(seen, broken) if r not in lines]
        return verdict(
            Phase.FAILED,
            lines,
            broken,
            early=own.judgement.early or any(c.judgement.early for c in downstream),
        )
    waiting = list(base.reasons) if base.phase is Phase.INCONCLUSIVE else []
    if own.judgement.phase is Phase.INCONCLUSIVE:
        waiting.extend(f"{own.subject}: {r}" for r in own.judgement.reasons)
    minimum = min_invocations(gates)
    for reader, queues in sorted(seen.new_data_readers.items()):
        met = sum(c.step_invocations for c in downstream if c.component == reader)
        values[f"downstream.{reader}.invocations"] = met
        if met < minimum:
            waiting.append(
                f"downstream {reader} has not met {component}@{version}'s new data yet: {met:g} "
                f"invocations < min_invocations {minimum} (it reads {', '.join(sorted(queues))})"
            )
    if waiting:
        return verdict(Phase.INCONCLUSIVE, waiting)
    return verdict(
        Phase.PASSED, [evidence[0]["text"], *own.judgement.reasons], early=own.judgement.early
    )


def judge_evidence(check: Check) -> dict[str, Any]:
    """A check's evidence as JSON data (infinite figures as None, with ``ratio_infinite``)."""
    ev = check.judgement.evidence

    def finite(value: float | None) -> float | None:
        return value if value is not None and math.isfinite(value) else None

    return {
        "component": check.component,
        "subject": check.subject,
        "baseline": check.baseline,
        "phase": check.judgement.phase.value,
        "early": check.judgement.early,
        "new_invocations": ev.new_invocations,
        "new_errors": ev.new_errors,
        "old_invocations": ev.old_invocations,
        "old_errors": ev.old_errors,
        "ratio": finite(ev.ratio),
        "ratio_infinite": ev.ratio == math.inf,
        "interval": [finite(ev.interval[0]), finite(ev.interval[1])] if ev.interval else None,
        "e_fail": finite(ev.e_fail),
        "e_pass": finite(ev.e_pass),
        "e_ceiling": finite(ev.e_ceiling),
        "threshold": finite(ev.threshold),
    }
