"""Transitions per second of the embedded engine: stock moto vs. the moto_compat patches.

Run: ``.venv/bin/python -m tests.bench.bench_engine [--iterations 30] [--steps 3] [--rounds 3]``.

The state machine is a Map over ``iterations`` items (MaxConcurrency 0); each iteration runs
``steps`` rounds of Lambda task -> Choice -> Wait (SecondsPath 0), the shape of one component's
shift in DESIGN §5. A "transition" is one state entered (history ``*StateEntered`` events).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from typing import Any

from orchestrator.local import moto_compat
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
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
