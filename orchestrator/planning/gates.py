"""Gate evaluation: from observed figures to a closed verdict (pure).

The figures come from one GetMetricData call per check (see ``steps/verify.py``). Rules, in order:

1. a read failed (metric missing from the answer, or CloudWatch refused): ERROR, never FAILED;
2. any threshold breached (own error rate or throttles, an alarm in ALARM, DLQ growth, input queue
   age, a downstream consumer's error rate): FAILED, naming the breach with value and limit and the
   component that broke;
3. fewer own invocations than ``min_invocations``: INCONCLUSIVE (re-bake, up to a limit);
4. otherwise PASSED.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from orchestrator.model.manifest import Gates
from orchestrator.model.steps import Phase, Verdict


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
    """Everything one check saw. ``failed_reads`` lists what could not be read."""

    own: VersionFigures | None
    downstream: Sequence[VersionFigures] = ()
    alarms: Mapping[str, str] = field(default_factory=dict)
    dlq_growth: Mapping[str, int] = field(default_factory=dict)
    queue_age_seconds: Mapping[str, float] = field(default_factory=dict)
    failed_reads: Sequence[str] = ()


def evaluate(
    gates: Gates,
    component: str,
    version: str,
    step: float,
    seen: Observation,
    at: datetime | None = None,
) -> Verdict:
    values: dict[str, float] = {}
    if seen.own is not None:
        values.update(
            invocations=seen.own.invocations,
            errors=seen.own.errors,
            throttles=seen.own.throttles,
            error_rate=round(seen.own.error_rate, 6),
        )

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
        )

    if seen.failed_reads or seen.own is None:
        missing = list(seen.failed_reads) or ["own metrics"]
        return verdict(Phase.ERROR, [f"could not read {', '.join(missing)}"])

    own = seen.own
    failures: list[tuple[str, str]] = []  # (component that broke, reason)
    if own.invocations > 0 and own.error_rate > gates.max_error_rate:
        failures.append(
            (
                component,
                f"{component}@{version} error rate {own.error_rate:.4f} > max_error_rate "
                f"{gates.max_error_rate} ({own.errors:g} errors / {own.invocations:g} invocations)",
            )
        )
    if own.throttles > gates.max_throttles:
        failures.append(
            (
                component,
                f"{component}@{version} throttles {own.throttles:g} > max_throttles "
                f"{gates.max_throttles}",
            )
        )
    for name, state in sorted(seen.alarms.items()):
        if state == "ALARM":
            failures.append((component, f"alarm {name} is in ALARM"))
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
        if figures.invocations > 0 and figures.error_rate > gates.max_error_rate:
            failures.append(
                (
                    figures.component,
                    f"downstream consumer {key} error rate {figures.error_rate:.4f} > "
                    f"max_error_rate {gates.max_error_rate} ({figures.errors:g} errors / "
                    f"{figures.invocations:g} invocations) while {component}@{version} "
                    f"takes {step:g}% of the traffic",
                )
            )
    if failures:
        # a downstream breakage is the story: the consumer broke, this shift triggered it
        downstream = [name for name, _ in failures if name != component]
        broken = downstream[0] if downstream else component
        return verdict(Phase.FAILED, [reason for _, reason in failures], broken)
    if own.invocations < gates.min_invocations:
        return verdict(
            Phase.INCONCLUSIVE,
            [
                f"{component}@{version} had {own.invocations:g} invocations < min_invocations "
                f"{gates.min_invocations}"
            ],
        )
    return verdict(Phase.PASSED, [])
