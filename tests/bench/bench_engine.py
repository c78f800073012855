"""Transitions per second of the embedded engine: stock moto vs. the moto_compat patches.

Run: ``.venv/bin/python -m tests.bench.bench_engine [--iterations 30] [--steps 3] [--rounds 3]``.

``--cloudwatch 30,100,300`` instead times moto CloudWatch's ``get_metric_data`` alone, stock and
through the ``cloudwatch-index`` patch (:mod:`orchestrator.local.moto_cloudwatch_index`), on a
store shaped like a dry run's: per component two versions x three Lambda metrics, one datapoint a
minute for ``--minutes``; then, per component, one call per traffic step (``--steps``) with three
queries over a 5-minute window, as Advance asks. Both answers are compared (they must be equal).

The state machine is a Map over ``iterations`` items (MaxConcurrency 0); each iteration runs
``steps`` rounds of Lambda task -> Choice -> Wait (SecondsPath 0), the shape of one component's
shift in DESIGN §5. A "transition" is one state entered (history ``*StateEntered`` events).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator.local import moto_cloudwatch_index, moto_compat
from orchestrator.local.engine import EmbeddedEngine, wait_for_execution


def advance(event: dict[str, Any], context: Any) -> dict[str, Any]:
    step = int(event.get("step", 0)) + 1
    return {"step": step, "done": step >= int(event["steps"]), "bake": 0, "steps": event["steps"]}


DEFINITION: dict[str, Any] = {
    "StartAt": "Components",
    "States": {
        "Components": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 0,
            "ResultPath": "$.results",
            "Iterator": {
                "StartAt": "Advance",
                "States": {
                    "Advance": {
                        "Type": "Task",
                        "Resource": "${Advance}",
                        "InputPath": "$",
                        "ResultPath": "$",
                        "Retry": [
                            {
                                "ErrorEquals": ["TransientError"],
                                "IntervalSeconds": 1,
                                "MaxAttempts": 2,
                            }
                        ],
                        "Next": "Done?",
                    },
                    "Done?": {
                        "Type": "Choice",
                        "Choices": [
                            {"Variable": "$.done", "BooleanEquals": True, "Next": "Finished"}
                        ],
                        "Default": "Bake",
                    },
                    "Bake": {"Type": "Wait", "SecondsPath": "$.bake", "Next": "Advance"},
                    "Finished": {"Type": "Succeed"},
                },
            },
            "End": True,
        }
    },
}


def run_once(
    engine: EmbeddedEngine, name: str, iterations: int, steps: int
) -> tuple[float, int, int]:
    sfn = engine.client("stepfunctions")
    arn = engine.deploy_state_machine(
        "bench", DEFINITION, {"Advance": engine.function_arn("Advance")}
    )
    payload = {"items": [{"component": f"c{i}", "steps": steps} for i in range(iterations)]}
    started = time.perf_counter()
    run = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))
    result = wait_for_execution(sfn, run["executionArn"], timeout=600, poll_interval=0.01)
    elapsed = time.perf_counter() - started
    if result["status"] != "SUCCEEDED":
        raise SystemExit(f"benchmark execution ended {result['status']}: {result.get('cause')}")
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": run["executionArn"], "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    types = Counter(e["type"] for e in events)
    transitions = sum(n for t, n in types.items() if t.endswith("StateEntered"))
    return elapsed, transitions, len(events)


METRICS = ("Invocations", "Errors", "Throttles")


def cloudwatch_store(components: int, minutes: int) -> Any:
    """A moto CloudWatch backend holding a dry run's worth of Lambda datapoints."""
    from moto.cloudwatch.models import CloudWatchBackend

    backend = CloudWatchBackend("us-east-1", "123456789012")
    start = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    for minute in range(minutes):  # as the simulator writes them: minute after minute
        when = start + timedelta(minutes=minute)
        for c in range(components):
            for version in ("1", "2"):
                dimensions = [
                    {"Name": "FunctionName", "Value": f"c{c}"},
                    {"Name": "Resource", "Value": f"c{c}:live"},
                    {"Name": "ExecutedVersion", "Value": version},
                ]
                backend.put_metric_data(
                    "AWS/Lambda",
                    [
                        {"MetricName": m, "Dimensions": dimensions, "Timestamp": when, "Value": v}
                        for m, v in zip(METRICS, (50.0 + c % 7, float(c % 3), 0.0), strict=True)
                    ],
                )
    return backend


def cloudwatch_calls(components: int, minutes: int, steps: int) -> list[tuple[Any, ...]]:
    start = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    calls: list[tuple[Any, ...]] = []
    for c in range(components):
        for step in range(steps):
            at = start + timedelta(minutes=(c * steps + step) * 5 % max(minutes - 5, 1))
            dimensions = [
                {"Name": "ExecutedVersion", "Value": "2"},
                {"Name": "FunctionName", "Value": f"c{c}"},
                {"Name": "Resource", "Value": f"c{c}:live"},
            ]
            queries = [
                {
                    "Id": f"q{i}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/Lambda",
                            "MetricName": metric,
                            "Dimensions": dimensions,
                        },
                        "Period": 60,
                        "Stat": "Sum",
                    },
                }
                for i, metric in enumerate(METRICS)
            ]
            calls.append((queries, at, at + timedelta(minutes=5), "TimestampDescending"))
    return calls


def bench_cloudwatch(sizes: list[int], minutes: int, steps: int, rounds: int) -> None:
    from moto.cloudwatch.models import CloudWatchBackend

    stock = moto_compat.PATCHES_BY_NAME["cloudwatch-index"].targets[0].original_function()
    assert getattr(CloudWatchBackend.get_metric_data, "__name__", "") == "get_metric_data"

    def indexed(backend: Any, *call: Any) -> Any:
        return moto_cloudwatch_index.indexed_get_metric_data(stock, backend, *call)

    for components in sizes:
        backend = cloudwatch_store(components, minutes)
        calls = cloudwatch_calls(components, minutes, steps)
        best: dict[str, float] = {}
        answers: dict[str, list[Any]] = {}
        for _ in range(rounds):
            for label, function in (("stock", stock), ("indexed", indexed)):
                began = time.perf_counter()
                answers[label] = [function(backend, *call) for call in calls]
                best[label] = min(best.get(label, float("inf")), time.perf_counter() - began)
        if answers["stock"] != answers["indexed"]:
            raise SystemExit(f"{components} components: the indexed answers differ from moto's")
        points = len(backend.metric_data)
        print(
            f"{components:5d} components, {points:7,d} datapoints, {len(calls):5d} calls: "
            f"stock {best['stock'] * 1000 / len(calls):8.2f} ms/call, indexed "
            f"{best['indexed'] * 1000 / len(calls):6.3f} ms/call "
            f"({best['stock'] / best['indexed']:.0f}x; best of {rounds}; answers equal)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cloudwatch", help="component counts, e.g. 30,100,300")
    parser.add_argument("--minutes", type=int, default=60, help="with --cloudwatch")
    args = parser.parse_args()
    if args.cloudwatch:
        sizes = [int(n) for n in args.cloudwatch.split(",")]
        bench_cloudwatch(sizes, args.minutes, args.steps, args.rounds)
        return
    modes: list[tuple[str, list[str]]] = [
        ("stock", []),
        ("jsonpath-cache", ["jsonpath-cache"]),
        ("client-cache", ["client-cache"]),
        ("patched", list(moto_compat.PATCH_NAMES)),
    ]
    with EmbeddedEngine({"Advance": advance}, patch_moto=False) as engine:
        run_once(engine, "warm-up", args.iterations, args.steps)
        for label, patches in modes:
            moto_compat.revert_patches()
            if patches:
                moto_compat.apply_patches(patches, strict=True)
            best: tuple[float, int, int] | None = None
            for round_no in range(args.rounds):
                measured = run_once(engine, f"{label}-{round_no}", args.iterations, args.steps)
                if best is None or measured[0] < best[0]:
                    best = measured
            assert best is not None
            elapsed, transitions, events = best
            print(
                f"{label:15s} {elapsed:6.2f} s  {transitions} transitions  "
                f"{transitions / elapsed:7.1f} transitions/s  {events} history events"
            )
        moto_compat.revert_patches()
        print(f"Lambda invocations: {dict(engine.invocations)}")


if __name__ == "__main__":
    main()
