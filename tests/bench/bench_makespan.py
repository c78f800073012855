"""Makespan against the critical path: does a release move at the speed of its longest chain?

Run: ``.venv/bin/python -m tests.bench.bench_makespan [--random 4] [--size 12] [--seed 0]``
(``make bench-makespan``).

Cases (every Wait compressed to 0 s, time simulated by the dry run's discrete-event clock, healthy
scenario with ``noise: false`` and the ``threshold`` judge so bakes are exactly nominal):

* ``chain-short``: a chain of 2 components with 600 s bakes beside a chain of 8 with 60 s bakes
  (10x shorter): wave barriers make every short link wait for a long one;
* ``uneven-diamond``: a -> (long b, short c) -> d, and c -> e: e may start as soon as c is done;
* ``random-k``: seeded random DAGs of ``--size`` components, edges only forward in a random
  order, bakes drawn from 60..600 s.

For each case it prints the simulated makespan (first weight set to last component finished), the
critical path (the longest path of the constraint DAG weighted by each component's steps x bake),
their ratio (target <= 1.05), and what wave barriers would give (the sum over waves of the
slowest component of each wave: the schedule of the single-execution design, computed from the
same plan), and the wall time of the dry run.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from datetime import datetime
from typing import Any

from orchestrator.local.dry_run import DryRun
from orchestrator.local.engine import EmbeddedEngine
from orchestrator.local.scenario import Scenario
from orchestrator.model.load import manifest_from_data
from orchestrator.planning import plan_release
from orchestrator.planning.schedule import critical_path, dag_of
from tests.dag_factory import dag_manifest

STEPS = [10.0, 50.0, 100.0]
TARGET = 1.05


def chain_and_short() -> tuple[list[str], list[tuple[str, str]], dict[str, int]]:
    chain = [f"long{i}" for i in range(2)]
    short = [f"short{i}" for i in range(8)]
    edges = [(chain[0], chain[1])] + [(short[i], short[i + 1]) for i in range(7)]
    bake = {n: 600 for n in chain} | {n: 60 for n in short}
    return chain + short, edges, bake


def uneven_diamond() -> tuple[list[str], list[tuple[str, str]], dict[str, int]]:
    edges = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("c", "e")]
    return ["a", "b", "c", "d", "e"], edges, {"a": 60, "b": 600, "c": 60, "d": 60, "e": 60}


def random_dag(
    rng: random.Random, size: int
) -> tuple[list[str], list[tuple[str, str]], dict[str, int]]:
    names = [f"c{i:02d}" for i in range(size)]
    edges = [
        (names[i], names[j])
        for i in range(size)
        for j in range(i + 1, size)
        if rng.random() < 2.0 / size
    ]
    bake = {n: rng.choice([60, 120, 300, 600]) for n in names}
    return names, edges, bake


def wave_barrier_makespan(waves: list[list[str]], duration: dict[str, float]) -> float:
    return sum(max(duration[n] for n in wave) for wave in waves)


def run_case(
    name: str, nodes: list[str], edges: list[tuple[str, str]], bake: dict[str, int]
) -> dict[str, Any]:
    data = dag_manifest(
        nodes,
        edges,
        bake=bake,
        steps={n: STEPS for n in nodes},
        release=f"makespan-{name}",
        max_concurrency=len(nodes),
        defaults={"gates": {"judge": "threshold"}},
    )
    manifest = manifest_from_data(data)
    plan = plan_release(manifest)
    duration = {
        n: float(len(c.strategy.steps) * c.strategy.bake_seconds)
        for n, c in manifest.resolved.items()
    }
    critical, path = critical_path(dag_of(plan), duration.__getitem__)
    began = time.monotonic()
    with EmbeddedEngine() as engine:
        run = DryRun(manifest, data, Scenario.model_validate({"noise": False}), engine=engine)
        with run:
            result = run.run(timeout=600)
    wall = time.monotonic() - began
    final = result.report.get("final", {})
    starts = [_t(c.get("started_at")) for c in final.values() if c.get("started_at")]
    ends = [_t(c.get("finished_at")) for c in final.values() if c.get("finished_at")]
    makespan = (max(ends) - min(starts)).total_seconds() if starts and ends else float("nan")
    return {
        "case": name,
        "components": len(nodes),
        "status": result.status,
        "makespan": makespan,
        "critical": critical,
        "path": path,
        "waves": wave_barrier_makespan(plan.waves, duration),
        "wall": wall,
        "executions": result.execution.executions,
    }


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--random", type=int, default=4, help="random DAG cases")
    parser.add_argument("--size", type=int, default=12, help="components per random DAG")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    cases = [("chain-short", *chain_and_short()), ("uneven-diamond", *uneven_diamond())]
    cases += [(f"random-{k}", *random_dag(rng, args.size)) for k in range(args.random)]
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(
        f"{'case':<16} {'n':>3} {'status':<10} {'makespan s':>10} {'critical s':>10} "
        f"{'ratio':>6} {'waves s':>8} {'waves/cp':>8} {'wall s':>7}"
    )
    worst = 0.0
    for name, nodes, edges, bake in cases:
        row = run_case(name, nodes, edges, bake)
        ratio = row["makespan"] / row["critical"] if row["critical"] else float("nan")
        worst = max(worst, ratio)
        print(
            f"{row['case']:<16} {row['components']:>3} {row['status']:<10} "
            f"{row['makespan']:>10.0f} {row['critical']:>10.0f} {ratio:>6.3f} "
            f"{row['waves']:>8.0f} {row['waves'] / row['critical']:>8.3f} {row['wall']:>7.1f}"
        )
    verdict = "met" if worst <= TARGET else "NOT met"
    print(f"worst makespan / critical path {worst:.3f} (target <= {TARGET}: {verdict})")


if __name__ == "__main__":
    main()
