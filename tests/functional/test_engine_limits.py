"""The embedded engine fails where AWS fails (issue 11 item 8).

AWS (Step Functions quotas, standard workflows): an execution's history holds at most 25,000
events; when event number 25,000 would not be ``ExecutionSucceeded``, ``ExecutionFailed`` is that
event, with error ``States.Runtime`` and cause "The execution reached the maximum number of history
events (25000).". A state's input or output, a task's input (after ``Parameters``) or result may be
at most 262,144 bytes as a UTF-8 string; beyond it the execution fails with
``States.DataLimitExceeded``, which ``States.ALL`` does not catch. moto enforces neither the cap nor
the terminal nature of the payload error (and refuses exactly 256 KiB), so
:mod:`orchestrator.local.moto_compat` does (patches ``history-limit``, ``payload-limit``,
``iteration-errors``).

One engine for the module with a history cap of 40 events (AWS's payload limit), so the cap is
reached in a few states: the rule does not depend on the figure.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator.local import moto_compat
from orchestrator.local.engine import EmbeddedEngine, wait_for_execution

TIMEOUT = 30.0
CAP = 40
LIMIT = moto_compat.PAYLOAD_LIMIT
BLOB_OVERHEAD = len('{"blob":""}')
"""What ``{"blob": "y" * n}`` adds to n as compact JSON."""


class MyError(Exception):
    pass


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return event


def blob(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"blob": "y" * int(event["n"])}


def fail_my_error(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise MyError("refused")


HANDLERS = {"echo": echo, "blob": blob, "fail-my-error": fail_my_error}


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddedEngine]:
    with EmbeddedEngine(HANDLERS, history_event_limit=CAP) as running:
        assert moto_compat.current_limits() == moto_compat.Limits(CAP, LIMIT)
        yield running
    assert moto_compat.current_limits() == moto_compat.AWS_LIMITS, "stop() restores AWS's limits"


@pytest.fixture(scope="module")
def sfn(engine: EmbeddedEngine) -> Any:
    return engine.client("stepfunctions")


def run(
    engine: EmbeddedEngine, sfn: Any, definition: dict[str, Any], payload: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    substitutions = {name: engine.function_arn(name) for name in HANDLERS}
    machine = engine.deploy_state_machine(f"l-{uuid.uuid4().hex[:12]}", definition, substitutions)
    started = sfn.start_execution(stateMachineArn=machine, name="run", input=json.dumps(payload))
    described = wait_for_execution(sfn, started["executionArn"], timeout=TIMEOUT)
    return described, history(sfn, started["executionArn"])


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def passes(count: int) -> dict[str, Any]:
    """``count`` Pass states in a row: 2 + 2 x count events."""
    states: dict[str, Any] = {f"P{i}": {"Type": "Pass", "Next": f"P{i + 1}"} for i in range(count)}
    states[f"P{count - 1}"] = {"Type": "Pass", "End": True}
    return {"StartAt": "P0", "States": states}


CAUGHT = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Caught"}]


def assert_history_limit(described: dict[str, Any], events: list[dict[str, Any]]) -> None:
    cause = f"The execution reached the maximum number of history events ({CAP})."
    assert described["status"] == "FAILED"
    assert (described.get("error"), described.get("cause")) == ("States.Runtime", cause)
    assert [e["id"] for e in events] == list(range(1, CAP + 1))
    assert events[-1]["type"] == "ExecutionFailed"
    assert events[-1]["executionFailedEventDetails"] == {"error": "States.Runtime", "cause": cause}


def data_limit_cause(described: dict[str, Any]) -> str:
    assert described["status"] == "FAILED", described
    assert described.get("error") == "States.DataLimitExceeded", described
    return str(described.get("cause"))


# -- the history cap -------------------------------------------------------------------------------


def test_the_last_event_allowed_may_end_the_execution(engine: EmbeddedEngine, sfn: Any) -> None:
    described, events = run(engine, sfn, passes((CAP - 2) // 2), {})
    assert described["status"] == "SUCCEEDED"
    assert len(events) == CAP and events[-1]["type"] == "ExecutionSucceeded"


def test_an_execution_that_needs_one_more_event_fails_at_the_cap(
    engine: EmbeddedEngine, sfn: Any
) -> None:
    described, events = run(engine, sfn, passes((CAP - 2) // 2 + 1), {})
    assert_history_limit(described, events)
    assert events[-2]["type"] == "PassStateExited"  # event CAP would have been PassStateEntered


def test_the_cap_is_not_caught_by_states_all_in_a_loop_of_lambda_tasks(
    engine: EmbeddedEngine, sfn: Any
) -> None:
    definition = {
        "StartAt": "Task",
        "States": {
            "Task": {"Type": "Task", "Resource": "${echo}", "Catch": CAUGHT, "Next": "Bake"},
            "Bake": {"Type": "Wait", "Seconds": 0, "Next": "Task"},
            "Caught": {"Type": "Succeed"},
        },
    }
    described, events = run(engine, sfn, definition, {"round": 1})
    assert_history_limit(described, events)
    assert "Caught" not in json.dumps(events, default=str)


def test_the_cap_stops_a_parallel_map_without_an_engine_fault(
    engine: EmbeddedEngine, sfn: Any
) -> None:
    faults = len(engine.faults)
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 0,
                "Catch": CAUGHT,
                "Iterator": {
                    "StartAt": "A",
                    "States": {
                        "A": {"Type": "Task", "Resource": "${echo}", "Next": "Bake"},
                        "Bake": {"Type": "Wait", "Seconds": 0, "Next": "B"},
                        "B": {"Type": "Task", "Resource": "${echo}", "End": True},
                    },
                },
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
        },
    }
    described, events = run(engine, sfn, definition, {"items": list(range(12))})
    assert_history_limit(described, events)
    assert engine.faults[faults:] == []
    assert len(history(sfn, described["executionArn"])) == CAP  # iterations still running add none


# -- the payload limit -----------------------------------------------------------------------------


def test_a_pass_state_producing_more_than_256_kib_fails(engine: EmbeddedEngine, sfn: Any) -> None:
    definition = {
        "StartAt": "Big",
        "States": {"Big": {"Type": "Pass", "Result": {"blob": "z" * LIMIT}, "End": True}},
    }
    described, events = run(engine, sfn, definition, {})
    cause = data_limit_cause(described)
    assert "The state/task 'Big' returned a result" in cause
    assert f"{LIMIT + BLOB_OVERHEAD:,} bytes" in cause and "limit of 262,144 bytes" in cause
    assert [e["type"] for e in events] == [
        "ExecutionStarted",
        "PassStateEntered",
        "ExecutionFailed",
    ]


def test_a_task_result_of_exactly_the_limit_passes_and_one_byte_more_fails_uncaught(
    engine: EmbeddedEngine, sfn: Any
) -> None:
    definition = {
        "StartAt": "Task",
        "States": {
            "Task": {"Type": "Task", "Resource": "${blob}", "Catch": CAUGHT, "End": True},
            "Caught": {"Type": "Succeed"},
        },
    }
    exact, _ = run(engine, sfn, definition, {"n": LIMIT - BLOB_OVERHEAD})
    assert exact["status"] == "SUCCEEDED"  # moto alone refuses exactly 262,144 bytes
    assert moto_compat.payload_bytes(json.loads(exact["output"])) == LIMIT

    over, events = run(engine, sfn, definition, {"n": LIMIT - BLOB_OVERHEAD + 1})
    cause = data_limit_cause(over)  # States.ALL does not catch it
    assert f"{LIMIT + 1:,} bytes" in cause
    assert "LambdaFunctionFailed" in [e["type"] for e in events]


def test_utf8_bytes_count_not_characters(engine: EmbeddedEngine, sfn: Any) -> None:
    """'é' is 2 bytes: half the limit in characters is just over it in bytes."""
    definition = {
        "StartAt": "Accents",
        "States": {"Accents": {"Type": "Pass", "Result": "é" * (LIMIT // 2), "End": True}},
    }
    described, _ = run(engine, sfn, definition, {})
    assert f"{LIMIT + 2:,} bytes" in data_limit_cause(described)
    assert moto_compat.payload_bytes({"a": "é"}) == len('{"a":"é"}'.encode()) == 10


def test_a_task_input_over_the_limit_after_parameters_fails(
    engine: EmbeddedEngine, sfn: Any
) -> None:
    definition = {
        "StartAt": "Task",
        "States": {
            "Task": {
                "Type": "Task",
                "Resource": "${echo}",
                "Parameters": {"a.$": "$.blob", "b.$": "$.blob"},
                "Catch": CAUGHT,
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
        },
    }
    described, events = run(engine, sfn, definition, {"blob": "q" * (LIMIT // 2)})
    assert "The state/task 'Task' was given an input" in data_limit_cause(described)
    assert "LambdaFunctionScheduled" not in [e["type"] for e in events]


def test_an_integration_task_input_over_the_limit_fails(engine: EmbeddedEngine, sfn: Any) -> None:
    definition = {
        "StartAt": "Invoke",
        "States": {
            "Invoke": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "${echo}", "Payload": {"a.$": "$.a", "b.$": "$.a"}},
                "End": True,
            }
        },
    }
    described, _ = run(engine, sfn, definition, {"a": "q" * (LIMIT // 2)})
    assert "The state/task 'Invoke' was given an input" in data_limit_cause(described)


def test_a_state_entered_with_an_input_over_the_limit_fails(
    engine: EmbeddedEngine, sfn: Any
) -> None:
    described, events = run(engine, sfn, passes(1), {"blob": "q" * LIMIT})
    assert "The state 'P0' received an input" in data_limit_cause(described)
    assert [e["type"] for e in events] == ["ExecutionStarted", "ExecutionFailed"]


def test_an_iteration_over_the_limit_fails_the_map_uncaught_without_an_engine_fault(
    engine: EmbeddedEngine, sfn: Any
) -> None:
    faults = len(engine.faults)
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.sizes",
                "Parameters": {"n.$": "$$.Map.Item.Value"},
                "Catch": CAUGHT,
                "Iterator": {
                    "StartAt": "Task",
                    "States": {"Task": {"Type": "Task", "Resource": "${blob}", "End": True}},
                },
                "ResultSelector": {"count.$": "States.ArrayLength($)"},
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
        },
    }
    described, _ = run(engine, sfn, definition, {"sizes": [10, LIMIT]})
    assert f"{LIMIT + BLOB_OVERHEAD:,} bytes" in data_limit_cause(described)
    assert engine.faults[faults:] == []


def test_a_custom_error_in_an_iteration_is_still_caught_by_name(
    engine: EmbeddedEngine, sfn: Any
) -> None:
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "Catch": [{"ErrorEquals": ["MyError"], "ResultPath": "$.caught", "Next": "Caught"}],
                "Iterator": {
                    "StartAt": "Fail",
                    "States": {
                        "Fail": {"Type": "Task", "Resource": "${fail-my-error}", "End": True}
                    },
                },
                "End": True,
            },
            "Caught": {"Type": "Pass", "OutputPath": "$.caught", "End": True},
        },
    }
    described, _ = run(engine, sfn, definition, {"items": [1]})
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["Error"] == "MyError"


# -- what stays as it was --------------------------------------------------------------------------


def test_an_execution_within_the_limits_runs_as_on_stock_moto(
    engine: EmbeddedEngine, sfn: Any
) -> None:
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 1,
                "Iterator": {
                    "StartAt": "Task",
                    "States": {"Task": {"Type": "Task", "Resource": "${echo}", "End": True}},
                },
                "ResultPath": "$.results",
                "Next": "Fail?",
            },
            "Fail?": {
                "Type": "Task",
                "Resource": "${fail-my-error}",
                "Catch": CAUGHT,
                "End": True,
            },
            "Caught": {"Type": "Pass", "OutputPath": "$.caught", "End": True},
        },
    }
    limits = ["payload-limit", "history-limit", "iteration-errors"]

    def once() -> tuple[str, Any, list[str]]:
        described, events = run(engine, sfn, definition, {"items": ["é", 2, {"k": None}]})
        return described["status"], described.get("output"), [e["type"] for e in events]

    limited = once()
    moto_compat.revert_patches(limits)
    try:
        stock = once()
    finally:
        moto_compat.apply_patches(limits, strict=True)
    assert limited == stock
    assert limited[0] == "SUCCEEDED" and json.loads(limited[1])["Error"] == "MyError"
    assert len(limited[2]) < CAP


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="history_events must be at least 2"):
        moto_compat.Limits(history_events=1)
    with pytest.raises(ValueError, match="payload_bytes must be at least 1"):
        EmbeddedEngine(payload_limit=0)
    assert moto_compat.Limits(25_000, 262_144) == moto_compat.AWS_LIMITS
