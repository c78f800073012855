"""Releases of many components on the embedded engine: wall time, histories, payloads, cost.

Run: ``.venv/bin/python -m tests.bench.bench_scale [--sizes 100,1000,5000] [--layers 6]``
(``make bench-scale``).

A synthetic healthy release of N components in ``--layers`` layers, each component with about two
queue edges to components of the next layer (consumer-first edges, as ``tests.dag_factory``
builds them), three traffic steps, 60 s bakes (compressed), ``noise: false``, threshold judge.
For each size it prints: the status (and the error when it did not complete), wall time, the
number of executions, the largest history of any single execution and the parent's, the largest
state payload seen in the parent's history, transitions and Lambda invocations per component,
GetMetricData calls per verification round, and transitions x $0.025 / 1,000 as the AWS
Standard-workflow cost per component. Targets (issue 11): every size completes; no execution
above 25,000 events or 256 KiB; t(1,000) / t(100) <= 12.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from typing import Any

from orchestrator.local.dry_run import DryRun
from orchestrator.local.engine import EmbeddedEngine
from orchestrator.local.scenario import Scenario
from orchestrator.model.load import manifest_from_data
from tests.dag_factory import dag_manifest

PRICE_PER_TRANSITION = 0.025 / 1000
STEPS = [10.0, 50.0, 100.0]


def layered(size: int, layers: int, seed: int, concurrency: int = 100) -> dict[str, Any]:
    rng = random.Random(seed)
    names = [f"c{i:05d}" for i in range(size)]
    per = max(1, size // layers)
    layer_of = {n: min(i // per, layers - 1) for i, n in enumerate(names)}
    by_layer: dict[int, list[str]] = {}
    for n, k in layer_of.items():
        by_layer.setdefault(k, []).append(n)
    edges: list[tuple[str, str]] = []
    for n in names:
        nxt = by_layer.get(layer_of[n] + 1)
        if nxt:
            for m in rng.sample(nxt, min(2, len(nxt))):
                edges.append((n, m))
    return dag_manifest(
        names,
        edges,
        bake=dict.fromkeys(names, 60),
        steps=dict.fromkeys(names, STEPS),
        release=f"scale-{size}",
        max_concurrency=concurrency,
        defaults={"gates": {"judge": "threshold"}},
    )


def largest_payload(history: list[dict[str, Any]]) -> int:
    biggest = 0
    for event in history:
        for details in event.values():
            if isinstance(details, dict):
                for key in ("input", "output"):
                    value = details.get(key)
                    if isinstance(value, str):
                        biggest = max(biggest, len(value.encode()))
    return biggest


def run_size(
    size: int, layers: int, seed: int, timeout: float, concurrency: int = 100
) -> dict[str, Any]:
    data = layered(size, layers, seed, concurrency)
    manifest = manifest_from_data(data)
    began, cpu_began = time.monotonic(), time.process_time()
    load_began = os.getloadavg()[0]
    row: dict[str, Any] = {"size": size, "input_bytes": len(json.dumps(data).encode())}
    with EmbeddedEngine() as engine:
        run = DryRun(manifest, data, Scenario.model_validate({"noise": False}), engine=engine)
        with run:
            result = run.run(timeout=timeout, report_interruptions=True)
    row["wall"] = time.monotonic() - began
    row["cpu"] = time.process_time() - cpu_began
    row["load"] = (load_began, os.getloadavg()[0])
    row["status"] = result.status
    row["error"] = (result.report.get("error") or {}).get("Error")
    execution = result.execution
    row["executions"] = execution.executions
    row["payload"] = largest_payload(execution.history)
    row["transitions"] = execution.transitions
    row["invocations"] = sum(result.lambda_invocations.values())
    rounds = sum(result.lambda_invocations.get(k, 0) for k in ("rollout-Advance",))
    row["metric_calls_per_round"] = result.metric_queries / rounds if rounds else 0.0
    verdicts = [v for c in result.report.get("final", {}).values() for v in c.get("verdicts", [])]
    row["rebakes"] = sum(1 for v in verdicts if v.get("phase") in ("INCONCLUSIVE", "ERROR"))
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument(
        "--max-concurrency",
        type=int,
        default=100,
        help="children at once (over the socket transport, ROLLOUT_ENGINE_TRANSPORT=http, the "
        "embedded engine's HTTP server stopped accepting connections with about 1,000 running "
        "children on 2 cores)",
    )
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.2f}")
    walls: dict[int, float] = {}
    cpus: dict[int, float] = {}
    for size in (int(s) for s in args.sizes.split(",")):
        row = run_size(size, args.layers, args.seed, args.timeout, args.max_concurrency)
        walls[size], cpus[size] = row["wall"], row["cpu"]
        ex = row["executions"] or {}
        per = row["transitions"] / size
        print(
            f"N={size}: {row['status']}"
            + (f" ({row['error']})" if row["error"] else "")
            + f"; wall {row['wall']:.1f} s (load {row['load'][0]:.1f} -> {row['load'][1]:.1f}), "
            f"CPU {row['cpu']:.1f} s; input {row['input_bytes']:,} B; executions "
            f"{ex.get('count')}, max events {ex.get('max_events')}, parent events "
            f"{ex.get('parent_events')}; largest parent payload {row['payload']:,} B; "
            f"transitions/component {per:.1f}; Lambda invocations/component "
            f"{row['invocations'] / size:.1f}; GetMetricData per verification "
            f"{row['metric_calls_per_round']:.2f}; AWS cost/component "
            f"${per * PRICE_PER_TRANSITION:.5f}; INCONCLUSIVE/ERROR verdicts {row['rebakes']}",
            flush=True,
        )
    if 100 in walls and 1000 in walls:
        print(
            f"t(1000)/t(100) = {walls[1000] / walls[100]:.1f} wall, "
            f"{cpus[1000] / cpus[100]:.1f} CPU (target <= 12; the process's CPU time, every thread "
            "of the engine included, is the figure other processes' load does not move)"
        )


if __name__ == "__main__":
    main()
