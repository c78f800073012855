"""A whole dry run of a large release: wall time and the history budget (DESIGN §5, §6).

Run: ``.venv/bin/python -m tests.bench.bench_dry_run [--components 30] [--small 10] [--waves 4]
[--steps 3]`` (``python -m tests.bench`` runs every benchmark in this folder).

The synthetic release is made of chains of consumer-first edges: in a chain
``c0 -> q0 -> c1 -> q1 -> ... -> c{W-1}`` every component moves the queue it writes from schema 1
to 2 and every consumer learns to read 2 first (``[1] -> [1, 2]``), so the chain's last component
goes in wave 1 and its first in wave W. ``--components`` are cut into as many chains of length W
as fit, plus one shorter chain with the rest, so the release has exactly W waves. Every component
shifts in ``--steps`` traffic steps (bake 60 s, compressed to 0 s) under the healthy scenario.

Two releases of the same shape (``--components`` and ``--small`` components, both W waves) are
run on one engine; a line through their figures splits every count into a part per component (the
slope) and a fixed part (ValidateAndPlan, locks, waves, report: the intercept). The largest
release that fits in Step Functions' 25,000 history events is ``(25000 - fixed) // per component``.

Targets: the dry run of the large release under 20 s (including the engine's start), and at most
20 history events per component per traffic step.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from dataclasses import dataclass
from typing import Any

from orchestrator.local.dry_run import DryRun, DryRunResult
from orchestrator.local.engine import EmbeddedEngine
from orchestrator.local.scenario import Scenario
from orchestrator.model.load import manifest_from_data
from orchestrator.planning import plan_release

HISTORY_LIMIT = 25_000
TARGET_SECONDS = 20.0
TARGET_EVENTS_PER_STEP = 20.0
BAKE_SECONDS = 60
RUN_TIMEOUT = 600.0
QUEUE_URL = "https://sqs.eu-west-2.amazonaws.com/111122223333/{name}"


def traffic_steps(count: int) -> list[float]:
    """``count`` increasing steps ending at 100, e.g. 3 -> [10, 50, 100]."""
    if count == 3:
        return [10.0, 50.0, 100.0]
    return [round(100.0 * (i + 1) / count, 3) for i in range(count)]


def chains(components: int, waves: int) -> list[int]:
    """Chain lengths: as many of length ``waves`` as fit, then the rest."""
    if components < waves:
        raise SystemExit(f"{components} components cannot make {waves} waves")
    full, rest = divmod(components, waves)
    return [waves] * full + ([rest] if rest else [])


def synthetic_release(components: int, waves: int, steps: int, release: str) -> dict[str, Any]:
    queues: dict[str, Any] = {}
    spec: dict[str, Any] = {}
    for k, length in enumerate(chains(components, waves)):
        for j in range(length):
            name = f"k{k:02d}c{j}"
            old: dict[str, Any] = {"version": "1"}
            new: dict[str, Any] = {"version": "2"}
            if j > 0:  # reads what the component before it in the chain writes
                queue = f"k{k:02d}q{j - 1}"
                old["reads"] = {queue: [1]}
                new["reads"] = {queue: [1, 2]}
            if j < length - 1:
                queue = f"k{k:02d}q{j}"
                queues[queue] = {"url": QUEUE_URL.format(name=queue)}
                old["writes"] = {queue: 1}
                new["writes"] = {queue: 2}
            spec[name] = {"function": name, "from": old, "to": new}
    return {
        "release": release,
        "defaults": {
            "alias": "live",
            "strategy": {"steps": traffic_steps(steps), "bake_seconds": BAKE_SECONDS},
            "gates": {"min_invocations": 20},
        },
        "queues": queues,
        "components": spec,
    }


@dataclass
class Measured:
    components: int
    setup_seconds: float
    run_seconds: float
    cpu_seconds: float
    """CPU time of the whole process (engine, handlers, simulator) over setup and execution."""
    result: DryRunResult

    @property
    def events(self) -> int:
        return self.result.execution.events

    @property
    def transitions(self) -> int:
        return self.result.execution.transitions

    @property
    def invocations(self) -> int:
        return sum(self.result.lambda_invocations.values())

    @property
    def metric_queries(self) -> int:
        return self.result.metric_queries


def dry_run(engine: EmbeddedEngine, components: int, waves: int, steps: int) -> Measured:
    data = synthetic_release(components, waves, steps, f"bench-{components}")
    manifest = manifest_from_data(data)
    planned = len(plan_release(manifest).waves)
    if planned != waves:
        raise SystemExit(f"the synthetic release has {planned} waves, not {waves}")
    started = time.perf_counter()
    cpu = time.process_time()
    run = DryRun(manifest, data, Scenario(), engine=engine)
    run.setup()
    setup = time.perf_counter() - started
    result = run.run(timeout=RUN_TIMEOUT)
    if result.status != "SUCCEEDED":
        raise SystemExit(
            f"the {components}-component dry run ended {result.status}: "
            f"{result.report.get('failure') or result.report.get('error')}"
        )
    elapsed = time.perf_counter() - started
    return Measured(components, setup, elapsed - setup, time.process_time() - cpu, result)


def fit(small: Measured, large: Measured, figure: str) -> tuple[float, float]:
    """(per component, fixed) of a line through two runs."""
    a, b = getattr(small, figure), getattr(large, figure)
    slope = (b - a) / (large.components - small.components)
    return slope, b - slope * large.components


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--components", type=int, default=30)
    parser.add_argument("--small", type=int, default=10, help="the second release of the fit")
    parser.add_argument("--waves", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    if args.small >= args.components:
        raise SystemExit("--small must be smaller than --components")

    started = time.perf_counter()
    engine = EmbeddedEngine()
    engine.start()
    engine_seconds = time.perf_counter() - started
    try:
        large = dry_run(engine, args.components, args.waves, args.steps)
        engine.reset()
        small = dry_run(engine, args.small, args.waves, args.steps)
    finally:
        engine.stop()

    n, steps = large.components, args.steps
    dry_seconds = large.setup_seconds + large.run_seconds
    with_engine = engine_seconds + dry_seconds
    events_per, fixed_events = fit(small, large, "events")
    transitions_per, fixed_transitions = fit(small, large, "transitions")
    invocations_per, fixed_invocations = fit(small, large, "invocations")
    queries_per, fixed_queries = fit(small, large, "metric_queries")
    per_step = events_per / steps
    largest = math.floor((HISTORY_LIMIT - fixed_events) / events_per)

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"release: {n} components, {args.waves} waves, {steps} traffic steps, healthy")
    print(
        f"wall time: {large.run_seconds:.2f} s execution, {dry_seconds:.2f} s dry run "
        f"(seed + deploy + execution) excluding engine start, {with_engine:.2f} s including "
        f"it (engine start {engine_seconds:.2f} s); CPU {large.cpu_seconds:.2f} s; "
        f"load average {load} on {os.cpu_count()} CPUs"
    )
    print(
        f"history: {large.events} events, {large.transitions} transitions "
        f"({small.events} and {small.transitions} for {small.components} components)"
    )
    print(
        f"per component: {events_per:.1f} events (fixed {fixed_events:.0f}), "
        f"{transitions_per:.1f} transitions (fixed {fixed_transitions:.0f}), "
        f"{invocations_per:.1f} Lambda invocations (fixed {fixed_invocations:.0f}), "
        f"{queries_per:.1f} GetMetricData calls (fixed {fixed_queries:.0f})"
    )
    print(
        f"per component, {n}-component release alone: {large.events / n:.1f} events, "
        f"{large.transitions / n:.1f} transitions, {large.invocations / n:.1f} Lambda "
        f"invocations, {large.metric_queries / n:.1f} GetMetricData calls"
    )
    print(f"Lambda invocations by step: {dict(large.result.lambda_invocations)}")
    print(f"events per component per traffic step: {per_step:.1f}")
    print(
        f"largest release that fits in {HISTORY_LIMIT:,} events: {largest} components "
        f"(({HISTORY_LIMIT} - {fixed_events:.0f}) // {events_per:.1f})"
    )
    time_ok = with_engine < TARGET_SECONDS
    events_ok = per_step <= TARGET_EVENTS_PER_STEP
    print(
        f"target wall time < {TARGET_SECONDS:g} s (including engine start): "
        f"{'holds' if time_ok else 'MISSED'} ({with_engine:.2f} s)"
    )
    print(
        f"target <= {TARGET_EVENTS_PER_STEP:g} events per component per step: "
        f"{'holds' if events_ok else 'MISSED'} ({per_step:.1f})"
    )


if __name__ == "__main__":
    main()
