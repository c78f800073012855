"""What a release's executions hold: estimates of their histories (pure).

Step Functions caps an execution at 25,000 history events and every state's data at 256 KiB.
A release runs in one parent execution and one child execution per component and round
(docs/architecture.md §5), and no state payload or ledger item grows with the number of
components, so the size of a release is not what binds. Two figures still can, and
``rollout validate``, ``plan`` and ``dry-run`` name them before a release starts:

* a component's own child history: its traffic steps times the events of a step (a bake judged
  every minute by the sequential judge makes several Advance looks per step);
* the parent's history: constant per round, plus one wake-up of WaitForShifts every 300 s for
  as long as the release runs (the check for a child that died), so a release that would take
  over a week of bakes and drains needs splitting.
"""

from __future__ import annotations

from orchestrator.errors import Issue
from orchestrator.model.manifest import Manifest
from orchestrator.model.plan import Plan

HISTORY_EVENT_LIMIT = 25_000
"""Step Functions' cap on the history events of one execution (the embedded engine enforces it)."""
CHILD_FIXED_EVENTS = 12
CHILD_EVENTS_PER_LOOK = 9
"""A child's history: about ``CHILD_FIXED_EVENTS`` (the execution's start and end, PrepareShift,
FinishShift) plus ``CHILD_EVENTS_PER_LOOK`` per Advance look (Bake, Advance, Shifted?): measured
39 events for 3 steps of one look each (``tests/bench/bench_scale.py``). A component guarded by a
drain adds about 9 events per drain check, and its PrepareShift runs twice."""
LOOK_SECONDS = 60
MAX_LOOKS_PER_BAKE = 10
PARENT_FIXED_EVENTS = 60
PARENT_EVENTS_PER_CHECK = 10
CHECK_SECONDS = 300
"""The parent: about ``PARENT_FIXED_EVENTS`` per release (measured 35 per round), plus
``PARENT_EVENTS_PER_CHECK`` (WaitForShifts timing out, CheckShifts, parking again) every
``CHECK_SECONDS`` of the release's duration."""


def looks_per_step(bake_seconds: int) -> int:
    """How many Advance looks one traffic step takes at most (a look a minute, at most 10)."""
    if bake_seconds <= LOOK_SECONDS:
        return 1
    return min(MAX_LOOKS_PER_BAKE, -(-bake_seconds // LOOK_SECONDS))


def estimated_child_events(manifest: Manifest, name: str) -> int:
    strategy = manifest.resolved[name].strategy
    looks = len(strategy.steps) * looks_per_step(strategy.bake_seconds)
    return CHILD_FIXED_EVENTS + CHILD_EVENTS_PER_LOOK * looks


def estimated_duration_seconds(manifest: Manifest, plan: Plan) -> float:
    """The release's nominal duration: the longest path of its constraint DAG, each component
    weighted by its steps x bake (drains and hotfix waits come on top)."""
    from orchestrator.planning.schedule import critical_path, dag_of

    resolved = manifest.resolved

    def duration(name: str) -> float:
        strategy = resolved[name].strategy
        return float(len(strategy.steps) * strategy.bake_seconds)

    length, _ = critical_path(dag_of(plan), duration)
    return length


def estimated_parent_events(manifest: Manifest, plan: Plan) -> int:
    checks = int(estimated_duration_seconds(manifest, plan) // CHECK_SECONDS)
    return PARENT_FIXED_EVENTS + PARENT_EVENTS_PER_CHECK * checks


def capacity_warnings(manifest: Manifest, plan: Plan) -> list[Issue]:
    """What would make an execution of the release exceed Step Functions' 25,000 events: a
    component with too many traffic steps, or a release that runs too long. Each names the
    figure and what to change."""
    out: list[Issue] = []
    for wave in plan.waves:
        for name in wave:
            events = estimated_child_events(manifest, name)
            if events > HISTORY_EVENT_LIMIT:
                out.append(
                    Issue(
                        f"components.{name}.strategy",
                        f"{name}'s shift needs about {events:,} history events (its traffic "
                        f"steps, each judged up to {MAX_LOOKS_PER_BAKE} times), more than the "
                        f"{HISTORY_EVENT_LIMIT:,} one Step Functions execution holds: use "
                        "fewer steps",
                    )
                )
    parent = estimated_parent_events(manifest, plan)
    if parent > HISTORY_EVENT_LIMIT:
        days = estimated_duration_seconds(manifest, plan) / 86_400
        out.append(
            Issue(
                "components",
                f"the release's longest chain of shifts takes about {days:.1f} days, so its "
                f"parent execution needs about {parent:,} history events (a check every "
                f"{CHECK_SECONDS} s), more than the {HISTORY_EVENT_LIMIT:,} one Step Functions "
                "execution holds: split it into several releases",
            )
        )
    return out
