"""What one execution holds: estimates of a release's history and report size (pure).

Step Functions caps an execution at 25,000 history events and every state's data at 256 KB. Until
the scale work splits a release into child executions, a release bigger than one execution holds
is named before it starts (``rollout validate``, ``plan`` and ``dry-run`` print the warning).
"""

from __future__ import annotations

from orchestrator.errors import Issue
from orchestrator.model.manifest import Manifest
from orchestrator.model.plan import Plan

HISTORY_EVENT_LIMIT = 25_000
"""Step Functions' cap on the history events of one execution (the embedded engine has none)."""
FIXED_EVENTS = 80
EVENTS_PER_STEP = 13
"""History events of a release: about ``FIXED_EVENTS`` plus ``EVENTS_PER_STEP`` per traffic step
of every shifted component (measured by ``tests/bench/bench_dry_run.py``: 80 and 13.0; a drain
poll adds 9, a hotfix round its own steps)."""
PAYLOAD_LIMIT = 256 * 1024
"""Step Functions' cap on the data a state passes on (UTF-8 JSON); moto's interpreter enforces it
too, as ``States.DataLimitExceeded``. The Report task's result (the release report) is the
largest: it names every component, with a verdict and an alias move per traffic step."""
REPORT_BYTES_PER_STEP = 520
REPORT_BYTES_PER_COMPONENT = 175
"""What the Report state passes on: about ``REPORT_BYTES_PER_STEP`` per traffic step of a
shifted component (its verdict and its move) and ``REPORT_BYTES_PER_COMPONENT`` per component
(its final entry, and its share of the state data the report is added to), fitted to the
synthetic releases of ``tests/bench/bench_dry_run.py`` (report, default JSON separators: 40 x 3
steps 63,546 bytes; 40 x 6 125,809; 80 x 3 131,886) and to where one execution ends (below)."""
DRY_RUN_CEILING = 150
"""The largest release measured to finish one execution (dry run; 4 waves of consumer-first
chains, 3 steps each, healthy): 150 components SUCCEEDED in 134 s (plus 10 s of seeding) at a
load average of 4.0-4.7 on 2 cores. 155 shifted every alias and reported, then failed with
States.DataLimitExceeded (the Report state's output, report and state data, over 256 KB); 160
and 200 failed one step earlier, at the Report task's result (and CleanupFailed's after it).
Step Functions has the same 256 KB limit, so this is the ceiling on AWS too, well below the
638 components that 25,000 history events would hold."""


def estimated_events(manifest: Manifest, plan: Plan) -> int:
    """History events the release needs at least: the fixed part and every traffic step of every
    shifted component (no drain poll, no retry, no hotfix round)."""
    return FIXED_EVENTS + EVENTS_PER_STEP * _traffic_steps(manifest, plan)


def estimated_report_bytes(manifest: Manifest, plan: Plan) -> int:
    """The size of the release report (the Report task's result) when every step passes."""
    steps = _traffic_steps(manifest, plan)
    return REPORT_BYTES_PER_STEP * steps + REPORT_BYTES_PER_COMPONENT * len(manifest.components)


def _traffic_steps(manifest: Manifest, plan: Plan) -> int:
    resolved = manifest.resolved
    return sum(len(resolved[name].strategy.steps) for wave in plan.waves for name in wave)


def capacity_warnings(manifest: Manifest, plan: Plan) -> list[Issue]:
    """What makes a release too big for one execution, on AWS and on the embedded engine alike:
    the report over Step Functions' 256 KB payload limit (what binds first), and the history
    over its 25,000 events. Each names the figure and the measured ceiling."""
    out: list[Issue] = []
    shifted = sum(len(wave) for wave in plan.waves)
    steps = _traffic_steps(manifest, plan)
    size = estimated_report_bytes(manifest, plan)
    if size > PAYLOAD_LIMIT:
        largest = PAYLOAD_LIMIT // (3 * REPORT_BYTES_PER_STEP + REPORT_BYTES_PER_COMPONENT)
        out.append(
            Issue(
                "components",
                f"{len(manifest.components)} components ({shifted} to shift in {steps} traffic "
                f"steps) make a release report of about {size // 1024} KB, more than the "
                f"{PAYLOAD_LIMIT // 1024} KB a Step Functions state can pass on: every alias "
                "would move, then the execution would fail at Report (States.DataLimitExceeded). "
                f"One execution holds about {largest} components of 3 steps (measured: "
                f"{DRY_RUN_CEILING} finished, 155 failed): split it into several releases",
            )
        )
    events = estimated_events(manifest, plan)
    if events > HISTORY_EVENT_LIMIT:
        largest = (HISTORY_EVENT_LIMIT - FIXED_EVENTS) // (EVENTS_PER_STEP * 3)
        out.append(
            Issue(
                "components",
                f"{shifted} components to shift need about {events:,} history events "
                f"({FIXED_EVENTS} + {EVENTS_PER_STEP} per traffic step of each), more than the "
                f"{HISTORY_EVENT_LIMIT:,} one Step Functions execution holds (about {largest} "
                "components of 3 steps): split it into several releases",
            )
        )
    return out
