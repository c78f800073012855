"""The embedded engine: moto's ASL interpreter with Lambda tasks run in-process.

Small throwaway state machines, one per behaviour the project's workflow relies on. One engine
serves the whole module (starting moto costs about a second); every test deploys its own state
machine and uses its own execution names, so the order of the tests does not matter.
"""

from __future__ import annotations

import contextlib
import json
import queue
import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from moto.cloudwatch.models import CloudWatchBackend

from orchestrator.errors import EnvironmentProblemError, InputError
from orchestrator.local import invoke_hook, moto_cloudwatch_index, moto_compat, moto_dynamodb_index
from orchestrator.local.engine import (
    ACCOUNT_ID,
    EmbeddedEngine,
    fill_placeholders,
    wait_for_execution,
)
from orchestrator.local.invoke_hook import LambdaContext, parse_function_name

TIMEOUT = 30.0


class MyError(Exception):
    """A project-style error: its class name is what ASL Retry/Catch match."""


# -- handlers (thread-safe: the interpreter calls them from its own threads) ----------------------

_lock = threading.Lock()
_attempts: Counter[str] = Counter()
_active = 0
_peak: dict[str, int] = {}
_tokens: queue.Queue[dict[str, Any]] = queue.Queue()
_powertools_logger = Logger(service="engine-test")


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "event": event,
        "function_name": context.function_name,
        "invoked_function_arn": context.invoked_function_arn,
        "has_time_left": context.get_remaining_time_in_millis() > 0,
    }


def fail_my_error(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise MyError(f"refused {event.get('what', 'it')}")


def flaky(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Raises MyError on the first attempt for a key, succeeds from the second on."""
    with _lock:
        _attempts[event["key"]] += 1
        attempt = _attempts[event["key"]]
    if attempt < 2:
        raise MyError(f"attempt {attempt} for {event['key']}")
    return {"key": event["key"], "attempt": attempt}


def work(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Records how many calls of one run overlap (for MaxConcurrency)."""
    global _active
    run = event["run"]
    with _lock:
        _active += 1
        _peak[run] = max(_peak.get(run, 0), _active)
    try:
        return {"item": event["item"], "doubled": event["item"] * 2, "bake": 0, "run": run}
    finally:
        with _lock:
            _active -= 1


def park(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda behind a ``.waitForTaskToken`` task: hands the token to the test."""
    _tokens.put(event)
    return {"parked": True}


@_powertools_logger.inject_lambda_context
def powertools(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _powertools_logger.info("handled")
    return {"request_id": context.aws_request_id, "memory": context.memory_limit_in_mb}


HANDLERS = {
    "echo": echo,
    "fail-my-error": fail_my_error,
    "flaky": flaky,
    "work": work,
    "park": park,
    "powertools": powertools,
}


# -- fixtures and helpers -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddedEngine]:
    with EmbeddedEngine(HANDLERS) as running:
        yield running


@pytest.fixture(scope="module")
def sfn(engine: EmbeddedEngine) -> Any:
    return engine.client("stepfunctions")


def subs(engine: EmbeddedEngine) -> dict[str, str]:
    return {name: engine.function_arn(name) for name in HANDLERS}


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def start(
    engine: EmbeddedEngine, sfn: Any, definition: dict[str, Any], payload: Any
) -> tuple[str, str]:
    """Deploy ``definition`` under a fresh name and start it; ``(machine arn, execution arn)``."""
    name = f"t-{uuid.uuid4().hex[:12]}"
    machine = engine.deploy_state_machine(name, definition, subs(engine))
    run = sfn.start_execution(stateMachineArn=machine, name="run", input=json.dumps(payload))
    return machine, str(run["executionArn"])


def run_to_end(
    engine: EmbeddedEngine, sfn: Any, definition: dict[str, Any], payload: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    _, execution = start(engine, sfn, definition, payload)
    described = wait_for_execution(sfn, execution, timeout=TIMEOUT)
    return described, history(sfn, execution)


def types(events: list[dict[str, Any]]) -> list[str]:
    return [str(e["type"]) for e in events]


def one_task(resource: str, **extra: Any) -> dict[str, Any]:
    return {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": resource, **extra, "End": True}},
    }


# -- tasks -----------------------------------------------------------------------------------------


def test_task_returns_the_python_handlers_result_as_execution_output(
    engine: EmbeddedEngine, sfn: Any
) -> None:
    before = engine.invocations["echo"]

    described, events = run_to_end(engine, sfn, one_task("${echo}"), {"release": "r-1"})

    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {
        "event": {"release": "r-1"},
        "function_name": "echo",
        "invoked_function_arn": engine.function_arn("echo"),
        "has_time_left": True,
    }
    assert engine.invocations["echo"] == before + 1
    assert types(events) == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]


def test_lambda_invoke_integration_wraps_the_result_in_the_invoke_response(
    engine: EmbeddedEngine, sfn: Any
) -> None:
    definition = one_task(
        "arn:aws:states:::lambda:invoke",
        Parameters={"FunctionName": "${echo}", "Payload.$": "$"},
    )

    described, _ = run_to_end(engine, sfn, definition, {"n": 1})

    output = json.loads(described["output"])
    assert output["StatusCode"] == 200
    assert output["Payload"]["event"] == {"n": 1}


def test_powertools_inject_lambda_context_accepts_the_engines_context(
    engine: EmbeddedEngine, sfn: Any
) -> None:
    described, _ = run_to_end(engine, sfn, one_task("${powertools}"), {})

    assert described["status"] == "SUCCEEDED", described.get("cause")
    output = json.loads(described["output"])
    assert output["memory"] == 128
    assert uuid.UUID(output["request_id"])


# -- errors: Catch and Retry ---------------------------------------------------------------------


def test_a_raised_exception_is_caught_by_its_class_name(engine: EmbeddedEngine, sfn: Any) -> None:
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "${fail-my-error}",
                "Catch": [{"ErrorEquals": ["MyError"], "ResultPath": "$.error", "Next": "Handled"}],
                "End": True,
            },
            "Handled": {"Type": "Pass", "End": True},
        },
    }

    described, events = run_to_end(engine, sfn, definition, {"what": "the shift"})

    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert output["error"]["Error"] == "MyError"
    assert json.loads(output["error"]["Cause"]) == {
        "errorType": "MyError",
        "errorMessage": "refused the shift",
        "stackTrace": [],
    }
    assert "LambdaFunctionFailed" in types(events)
    assert types(events)[-3:] == ["PassStateEntered", "PassStateExited", "ExecutionSucceeded"]


def test_an_uncaught_exception_fails_the_execution_with_its_class_name(
    engine: EmbeddedEngine, sfn: Any
) -> None:
    described, _ = run_to_end(engine, sfn, one_task("${fail-my-error}"), {})

    assert described["status"] == "FAILED"
    assert described["error"] == "MyError"
    assert json.loads(described["cause"])["errorMessage"] == "refused it"


def test_retry_of_a_custom_error_succeeds_on_the_second_attempt(
    engine: EmbeddedEngine, sfn: Any
) -> None:
    definition = one_task(
        "${flaky}",
        Retry=[
            {"ErrorEquals": ["MyError"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1}
        ],
    )
    key = uuid.uuid4().hex

    described, events = run_to_end(engine, sfn, definition, {"key": key})

    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"key": key, "attempt": 2}
    counted = Counter(types(events))
    assert counted["LambdaFunctionScheduled"] == 2
    assert counted["LambdaFunctionFailed"] == 1
    assert len(events) == 7 + 3  # one task, plus 3 events for the retried attempt


# -- Map and Wait ----------------------------------------------------------------------------------


def test_map_of_tasks_with_a_zero_wait_respects_max_concurrency(
    engine: EmbeddedEngine, sfn: Any
) -> None:
    run = uuid.uuid4().hex
    items = list(range(5))
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 2,
                "Parameters": {"item.$": "$$.Map.Item.Value", "run.$": "$.run"},
                "Iterator": {
                    "StartAt": "Work",
                    "States": {
                        "Work": {"Type": "Task", "Resource": "${work}", "Next": "Bake"},
                        "Bake": {"Type": "Wait", "SecondsPath": "$.bake", "End": True},
                    },
                },
                "ResultPath": "$.results",
                "End": True,
            }
        },
    }

    described, events = run_to_end(engine, sfn, definition, {"items": items, "run": run})

    assert described["status"] == "SUCCEEDED"
    results = json.loads(described["output"])["results"]
    assert [r["doubled"] for r in results] == [2 * i for i in items]
    assert 1 <= _peak[run] <= 2
    counted = Counter(types(events))
    assert counted["MapIterationStarted"] == counted["MapIterationSucceeded"] == len(items)
    assert counted["WaitStateEntered"] == len(items)
    # 2 for the execution, 4 for the Map state, per item 2 (iteration) + 5 (task) + 2 (wait).
    assert len(events) == 2 + 4 + len(items) * (2 + 5 + 2)


# -- callbacks -------------------------------------------------------------------------------------


def _parked_task(**extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {
            "FunctionName": "${park}",
            "Payload": {"token.$": "$$.Task.Token", "run.$": "$.run"},
        },
        "TimeoutSeconds": 120,
        **extra,
    }


def _token_for(run: str) -> str:
    """The task token the ``park`` handler received for ``run`` (waits at most TIMEOUT)."""
    while True:
        try:
            parked = _tokens.get(timeout=TIMEOUT)
        except queue.Empty:
            pytest.fail(f"the waitForTaskToken task of {run} never called its Lambda")
        if parked["run"] == run:
            return str(parked["token"])


def test_wait_for_task_token_completes_on_send_task_success(
    engine: EmbeddedEngine, sfn: Any
) -> None:
    run = uuid.uuid4().hex
    definition = {
        "StartAt": "WaitForHotfix",
        "States": {"WaitForHotfix": {**_parked_task(ResultPath="$.hotfix"), "End": True}},
    }
    _, execution = start(engine, sfn, definition, {"run": run})
    token = _token_for(run)
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"

    sfn.send_task_success(taskToken=token, output=json.dumps({"version": "7"}))

    described = wait_for_execution(sfn, execution, timeout=TIMEOUT)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"run": run, "hotfix": {"version": "7"}}
    assert "TaskSubmitted" in types(history(sfn, execution))
    with pytest.raises(ClientError, match="InvalidToken"):
        sfn.send_task_success(taskToken=token, output="{}")


def test_send_task_failure_fails_the_task_with_the_given_error_name(
    engine: EmbeddedEngine, sfn: Any
) -> None:
    run = uuid.uuid4().hex
    definition = {
        "StartAt": "WaitForHotfix",
        "States": {
            "WaitForHotfix": {
                **_parked_task(),
                "Catch": [{"ErrorEquals": ["MyError"], "ResultPath": "$.error", "Next": "Gave up"}],
                "End": True,
            },
            "Gave up": {"Type": "Pass", "End": True},
        },
    }
    _, execution = start(engine, sfn, definition, {"run": run})

    sfn.send_task_failure(taskToken=_token_for(run), error="MyError", cause="no hotfix")

    described = wait_for_execution(sfn, execution, timeout=TIMEOUT)
    assert described["status"] == "SUCCEEDED"
    # moto 5.2.5 drops the cause (DESIGN §6); only the error name is relied on.
    assert json.loads(described["output"])["error"]["Error"] == "MyError"


# -- polling ---------------------------------------------------------------------------------------


def test_wait_for_execution_raises_timeout_error_with_the_last_status(
    engine: EmbeddedEngine, sfn: Any
) -> None:
    definition = {
        "StartAt": "Long",
        "States": {"Long": {"Type": "Wait", "Seconds": 600, "End": True}},
    }
    _, execution = start(engine, sfn, definition, {})
    try:
        with pytest.raises(TimeoutError, match=r"still RUNNING after 0\.2 s"):
            wait_for_execution(sfn, execution, timeout=0.2)
    finally:
        sfn.stop_execution(executionArn=execution)  # a Wait is interrupted at once
    assert wait_for_execution(sfn, execution, timeout=TIMEOUT)["status"] == "ABORTED"


# -- the moto_compat patches -----------------------------------------------------------------------


def test_moto_internals_the_patches_rely_on_are_where_we_expect_them() -> None:
    problems = moto_compat.check_internals()
    if problems:
        pytest.fail(
            "moto's internals moved, so orchestrator/local/moto_compat.py no longer applies "
            "(the embedded engine still runs, but several times slower). Update the patch "
            "targets or drop the patch, and re-run tests/bench/bench_engine.py:\n  - "
            + "\n  - ".join(problems)
        )


def test_patches_are_skipped_or_refused_when_moto_is_not_the_tested_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(moto_compat, "TESTED_MOTO", (4, 0))
    assert "written for moto 4.0.x" in moto_compat.check_internals()[0]
    moto_compat.revert_patches()
    try:
        assert moto_compat.apply_patches() is False
        assert moto_compat.active_patches() == []
        with pytest.raises(moto_compat.MotoCompatError, match="re-check its patches"):
            moto_compat.apply_patches(strict=True)
    finally:
        monkeypatch.undo()
        moto_compat.apply_patches(strict=True)
    assert moto_compat.patches_active()


def test_patches_are_active_and_give_the_same_results_as_stock_moto(
    engine: EmbeddedEngine, sfn: Any
) -> None:
    assert moto_compat.patches_active(), "EmbeddedEngine.start() should apply the patches"
    assert moto_compat.apply_patches() is True  # idempotent
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.input.items",
                "MaxConcurrency": 1,
                "Parameters": {"item.$": "$$.Map.Item.Value", "run.$": "$.input.run"},
                "Iterator": {
                    "StartAt": "Work",
                    "States": {
                        "Work": {
                            "Type": "Task",
                            "Resource": "${work}",
                            "ResultSelector": {"d.$": "$.doubled", "bake.$": "$.bake"},
                            "ResultPath": "$.out",
                            "Next": "Big?",
                        },
                        "Big?": {
                            "Type": "Choice",
                            "Choices": [
                                {"Variable": "$.out.d", "NumericGreaterThan": 2, "Next": "Big"}
                            ],
                            "Default": "Small",
                        },
                        "Big": {
                            "Type": "Pass",
                            "Result": "big",
                            "ResultPath": "$.size",
                            "End": True,
                        },
                        "Small": {"Type": "Wait", "SecondsPath": "$.out.bake", "End": True},
                    },
                },
                "ResultPath": "$.results",
                "OutputPath": "$.results",
                "End": True,
            }
        },
    }

    def run_once() -> tuple[Any, list[str]]:
        payload = {"input": {"items": [0, 1, 2, 3], "run": uuid.uuid4().hex}}
        described, events = run_to_end(engine, sfn, definition, payload)
        assert described["status"] == "SUCCEEDED", described.get("cause")
        results = json.loads(described["output"])
        for result in results:
            result.pop("run")
        return results, types(events)

    patched = run_once()
    assert moto_compat.parse_cache_info(), "the JSONPath parsers should be cached"
    moto_compat.revert_patches()
    try:
        assert not moto_compat.active_patches()
        stock = run_once()
    finally:
        moto_compat.apply_patches(strict=True)
    assert patched == stock
    assert [r.get("size") for r in patched[0]] == [None, None, "big", "big"]


# -- the invoke hook -------------------------------------------------------------------------------


def test_direct_invoke_runs_registered_handlers_and_falls_through_for_others(
    engine: EmbeddedEngine,
) -> None:
    lam = engine.client("lambda")

    ok = lam.invoke(FunctionName=engine.function_arn("echo") + ":$LATEST", Payload=b'{"a": 1}')
    assert ok["StatusCode"] == 200
    assert "FunctionError" not in ok
    assert json.loads(ok["Payload"].read())["event"] == {"a": 1}

    failed = lam.invoke(FunctionName="fail-my-error", Payload=b"{}")
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "MyError"

    # Not registered: the hook steps aside and moto answers (its Docker-less Lambda echoes).
    other = lam.invoke(FunctionName="not-registered", Payload=b'{"echoed": true}')
    assert json.loads(other["Payload"].read()) == {"echoed": True}
    assert "not-registered" not in engine.invocations


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("shift", ("shift", None)),
        ("shift:live", ("shift", "live")),
        ("123456789012:function:shift", ("shift", None)),
        ("123456789012:function:shift:7", ("shift", "7")),
        ("arn:aws:lambda:us-east-1:123456789012:function:shift", ("shift", None)),
        ("arn:aws:lambda:us-east-1:123456789012:function:shift:$LATEST", ("shift", "$LATEST")),
    ],
)
def test_parse_function_name_accepts_names_and_arns(
    name: str, expected: tuple[str, str | None]
) -> None:
    assert parse_function_name(name) == expected


def test_hook_is_installed_once() -> None:
    invoke_hook.install()
    invoke_hook.install()
    assert invoke_hook.is_installed()
    import botocore.handlers

    hooks = [s for s in botocore.handlers.BUILTIN_HANDLERS if s[0] == invoke_hook.EVENT_NAME]
    assert len(hooks) == 1


def test_lambda_context_counts_down() -> None:
    context = LambdaContext("f", "$LATEST", "arn:aws:lambda:us-east-1:123456789012:function:f")
    assert 0 < context.get_remaining_time_in_millis() <= 900_000
    assert context.log_group_name == "/aws/lambda/f"


# -- deployment and lifecycle ----------------------------------------------------------------------


def test_unfilled_placeholders_are_an_input_error_naming_them(engine: EmbeddedEngine) -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Task", "Resource": "${echo}", "Next": "B"},
            "B": {"Type": "Task", "Resource": "${Missing}", "Next": "C"},
            "C": {"Type": "Task", "Resource": "${AlsoMissing}", "End": True},
        },
    }
    with pytest.raises(InputError, match=r"\$\{AlsoMissing\}, \$\{Missing\}"):
        engine.deploy_state_machine("broken", definition, subs(engine))


def test_fill_placeholders_replaces_like_definition_substitutions() -> None:
    text = '{"Resource": "${A}", "Other": "${A}-${B}", "Path": "$.x"}'
    assert fill_placeholders(text, {"A": "x", "B": "y"}) == (
        '{"Resource": "x", "Other": "x-y", "Path": "$.x"}'
    )


def test_redeploying_updates_the_state_machine(engine: EmbeddedEngine, sfn: Any) -> None:
    first = engine.deploy_state_machine("redeploy", one_task("${echo}"), subs(engine))
    second = engine.deploy_state_machine(
        "redeploy", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, {}
    )
    assert first == second == engine.state_machine_arn("redeploy")
    assert '"Pass"' in sfn.describe_state_machine(stateMachineArn=first)["definition"]


def test_a_second_engine_in_the_same_process_is_refused(engine: EmbeddedEngine) -> None:
    with pytest.raises(EnvironmentProblemError, match="already running"):
        EmbeddedEngine().start()
    assert engine.running


def test_reset_empties_moto_and_recreates_the_handlers_functions(
    engine: EmbeddedEngine, sfn: Any
) -> None:
    engine.deploy_state_machine("to-be-reset", one_task("${echo}"), subs(engine))

    engine.reset()

    assert sfn.list_state_machines()["stateMachines"] == []
    assert not engine.invocations
    lam = engine.client("lambda")
    assert lam.get_function(FunctionName="echo")["Configuration"]["Runtime"] == "python3.12"
    described, _ = run_to_end(engine, sfn, one_task("${echo}"), {"after": "reset"})
    assert described["status"] == "SUCCEEDED"


def test_reset_stops_the_executions_still_running(engine: EmbeddedEngine, sfn: Any) -> None:
    """An interpreter thread outlives moto's reset: one left waiting would go on calling the
    step handlers against the next test's records."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    waits = {
        "StartAt": "W",
        "States": {
            "W": {"Type": "Wait", "Seconds": 3600, "Next": "T"},
            **one_task("${echo}")["States"],
        },
    }
    _, arn = start(engine, sfn, waits, {"before": "reset"})
    backend = stepfunctions_parser_backends[engine.account_id][engine.region]
    [kept] = [e for m in backend.state_machines for e in m.executions if e.execution_arn == arn]
    assert kept.exec_status.value == "RUNNING"

    engine.reset()

    assert kept.exec_status.value == "ABORTED"
    assert sfn.list_state_machines()["stateMachines"] == []


# -- the cloudwatch-index patch -------------------------------------------------------------------

_T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
_SHARED = [_T0 + timedelta(minutes=minute) for minute in range(0, 120, 7)]
"""Instants many datapoints share, and where some query windows start and end."""
_DIMENSION_SETS: list[list[dict[str, str]]] = [
    [],
    [{"Name": "FunctionName", "Value": "a"}],
    [{"Name": "FunctionName", "Value": "b"}],
    [{"Name": "FunctionName", "Value": "a"}, {"Name": "Resource", "Value": "a:live"}],
    [{"Name": "Resource", "Value": "a:live"}, {"Name": "FunctionName", "Value": "a"}],
    [{"Name": "FunctionName", "Value": "a"}, {"Name": "ExecutedVersion", "Value": "7"}],
    [{"Name": "QueueName", "Value": "q"}],
]


_WILDCARD_SETS: list[list[dict[str, Any]]] = [
    [{"Name": "FunctionName", "Value": None}],
    [{"Name": "FunctionName", "Value": None}, {"Name": "Resource", "Value": "a:live"}],
]
"""Dimensions without a value (a direct backend call; moto's ``Dimension`` then matches any)."""


def _random_metric_data(rng: random.Random, count: int) -> list[tuple[str, dict[str, Any]]]:
    """What put_metric_data receives (namespace, one MetricData member): values, lists with
    counts, statistic sets; units or none; timestamps out of order, with microseconds, shared."""
    out: list[tuple[str, dict[str, Any]]] = []
    for _ in range(count):
        member: dict[str, Any] = {
            "MetricName": rng.choice(["Invocations", "Errors", "Duration"]),
            "Dimensions": rng.choice(_DIMENSION_SETS),
            "Timestamp": rng.choice(_SHARED)
            if rng.random() < 0.2
            else _T0 + timedelta(seconds=rng.uniform(-600, 7800)),
        }
        if rng.random() < 0.5:
            member["Unit"] = rng.choice(["Count", "Milliseconds"])
        kind = rng.random()
        if kind < 0.6:
            member["Value"] = rng.uniform(0, 1000) / 7
        elif kind < 0.8:
            member["Values"] = [rng.uniform(0, 10) / 3 for _ in range(3)]
            member["Counts"] = [str(rng.randint(1, 3)) for _ in range(3)]
        else:
            low = rng.uniform(0, 5)
            member["StatisticValues"] = {
                "SampleCount": float(rng.randint(1, 9)),
                "Sum": low * 9.1,
                "Minimum": low,
                "Maximum": low + rng.uniform(0, 5),
            }
        out.append((rng.choice(["AWS/Lambda", "AWS/Lambda", "Custom", "AWS/SQS"]), member))
    return out


def _random_queries(rng: random.Random, seconds: float) -> list[dict[str, Any]]:
    """1 to 6 MetricStat queries (and maybe an expression) for a window of ``seconds``."""
    periods = [1, 60, 60, 300] if seconds <= 120 else [60, 300, 300, 3600]
    queries: list[dict[str, Any]] = []
    for number in range(rng.randint(1, 6)):
        stat: dict[str, Any] = {
            "Metric": {
                "Namespace": rng.choice(["AWS/Lambda", "Custom", "AWS/SQS", "Nothing"]),
                "MetricName": rng.choice(["Invocations", "Errors", "Duration", "Missing"]),
                "Dimensions": rng.choice(_DIMENSION_SETS + _WILDCARD_SETS),
            },
            "Period": rng.choice(periods),
            "Stat": rng.choice(["Sum", "Average", "Minimum", "Maximum", "SampleCount"]),
        }
        if rng.random() < 0.2:
            stat["Unit"] = rng.choice(["Count", "Milliseconds"])
        query: dict[str, Any] = {"Id": f"m{number}", "MetricStat": stat}
        if rng.random() < 0.2:
            query["Label"] = f"label {number}"
        if rng.random() < 0.2:
            query["ReturnData"] = False
        queries.append(query)
    if rng.random() < 0.3:
        queries.append({"Id": "e0", "Expression": "m0"})
    return queries


class _WithProviderMetrics(CloudWatchBackend):  # type: ignore[misc]
    """moto's backend, with out-of-the-box metrics as a provider (S3's) would add them."""

    provided: list[Any] = []

    @property
    def aws_metric_data(self) -> list[Any]:
        return list(self.provided)


def _statistics_figures(statistics: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (s.timestamp, s.unit, s.sum, s.average, s.minimum, s.maximum, s.sample_count)
        for s in statistics
    ]


def test_the_cloudwatch_index_answers_exactly_as_moto_on_a_varied_data_set() -> None:
    """Every answer of the indexed get_metric_data / get_metric_statistics equals moto's own
    (same floats, same order), over random data and queries, as the store grows, with provider
    metrics, and after the store is replaced."""
    from moto.cloudwatch.models import MetricDatum

    original_data = moto_compat.PATCHES_BY_NAME["cloudwatch-index"].targets[0].original_function()
    original_statistics = (
        moto_compat.PATCHES_BY_NAME["cloudwatch-index"].targets[1].original_function()
    )
    rng = random.Random(11)
    backend = _WithProviderMetrics("us-east-1", ACCOUNT_ID)
    backend.provided = [
        MetricDatum(
            "AWS/Lambda", "Invocations", 3.0, _DIMENSION_SETS[1], _T0 + timedelta(minutes=5)
        ),
        MetricDatum("Custom", "Errors", 1.5, [], _T0 + timedelta(minutes=61)),
    ]
    compared = 0
    for batch in range(4):
        for namespace, member in _random_metric_data(rng, 400):
            backend.put_metric_data(namespace, [member])
        for _ in range(20):  # a dimension without a value: moto's Dimension matches any value
            dimensions = rng.choice(_DIMENSION_SETS[1:] + _WILDCARD_SETS)
            backend.metric_data.append(
                MetricDatum(
                    "AWS/Lambda",
                    rng.choice(["Invocations", "Errors"]),
                    rng.uniform(0, 9),
                    [{"Name": d["Name"], "Value": None} for d in dimensions[:1]] + dimensions[1:],
                    _T0 + timedelta(seconds=rng.uniform(0, 7200)),
                )
            )
        if batch == 3:  # a store that was replaced (and shrank) is indexed again
            backend.metric_data = backend.metric_data[:300]
        for _ in range(60):
            if rng.random() < 0.3:  # datapoints right on both edges of the window
                start, end = sorted(rng.sample(_SHARED, 2))
            else:
                start = _T0 + timedelta(seconds=rng.uniform(-900, 6000))
                end = start + timedelta(seconds=rng.choice([1.5, 60, 600, 3600, 9000]))
            seconds = (end - start).total_seconds()
            queries = _random_queries(rng, seconds)
            scan_by = rng.choice(["TimestampAscending", "TimestampDescending"])
            expected = original_data(backend, queries, start, end, scan_by)
            got = moto_cloudwatch_index.indexed_get_metric_data(
                original_data, backend, queries, start, end, scan_by
            )
            assert got == expected
            compared += sum(len(r["values"]) for r in expected)
            metric = queries[0]["MetricStat"]["Metric"]
            arguments = (
                metric["Namespace"],
                metric["MetricName"],
                start,
                end,
                rng.choice([1, 60, 300]),
                ["Sum", "Average", "Minimum", "Maximum", "SampleCount"],
                rng.choice([[], *_DIMENSION_SETS[1:]]),
                rng.choice([None, "Count"]),
            )
            assert _statistics_figures(
                moto_cloudwatch_index.indexed_get_metric_statistics(
                    original_statistics, backend, *arguments
                )
            ) == _statistics_figures(original_statistics(backend, *arguments))
        assert moto_cloudwatch_index.index_of(backend).indexed == len(backend.metric_data)
    assert compared > 1000, "the data set should give many non-empty periods"

    with pytest.raises(Exception, match="StartTime"):  # moto's own validation error
        moto_cloudwatch_index.indexed_get_metric_data(
            original_data, backend, _random_queries(rng, 60), _T0, _T0, "TimestampAscending"
        )


def test_the_engine_answers_get_metric_data_through_the_index(engine: EmbeddedEngine) -> None:
    from moto.cloudwatch.models import cloudwatch_backends

    assert "cloudwatch-index" in moto_compat.active_patches()
    cloudwatch = engine.client("cloudwatch")
    cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {"MetricName": "Errors", "Dimensions": _DIMENSION_SETS[1], "Timestamp": _T0, "Value": v}
            for v in (1.0, 2.5)
        ],
    )
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "errors",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": "Errors",
                        "Dimensions": _DIMENSION_SETS[1],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=_T0 - timedelta(minutes=1),
        EndTime=_T0 + timedelta(minutes=1),
    )
    assert answer["MetricDataResults"][0]["Values"] == [3.5]
    backend = cloudwatch_backends[ACCOUNT_ID][engine.region]
    assert moto_cloudwatch_index.index_of(backend).indexed == len(backend.metric_data) >= 2


def test_the_server_dispatch_cache_gives_moto_s_own_answers(engine: EmbeddedEngine) -> None:
    import moto.backends
    import moto.core.responses
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.dynamodb.responses import DynamoHandler

    assert "server-dispatch-cache" in moto_compat.active_patches()
    patch = moto_compat.PATCHES_BY_NAME["server-dispatch-cache"]
    listed, names, backend_for, application = (
        target.original_function() for target in patch.targets
    )
    assert moto.backends.list_of_moto_modules() == tuple(listed())
    assert "dynamodb" in moto.backends.list_of_moto_modules()
    for response in (DynamoHandler, CloudWatchResponse):
        assert moto.core.responses.method_names_from_class(response) == names(response)
    # and the server still answers through them
    assert "TableNames" in engine.client("dynamodb").list_tables()
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    server = DomainDispatcherApplication(create_backend_app)  # the patched class, as the engine's
    hosts = [None, "moto_api", "dynamodb.us-east-1.amazonaws.com", "sqs.us-east-1.amazonaws.com"]
    hosts += ["monitoring.eu-west-1.amazonaws.com", "states.us-east-1.amazonaws.com"]
    for host in hosts * 2:  # the second time from the memo
        assert server.get_backend_for_host(host) == backend_for(server, host)
    signed = "AWS4-HMAC-SHA256 Credential=ak/20261203/us-east-1/{}/aws4_request, Signature=x"
    for service, target in [("dynamodb", "DynamoDB_20120810.ListTables"), ("states", None)]:
        environ = {"PATH_INFO": "/", "HTTP_AUTHORIZATION": signed.format(service)}
        if target:
            environ["HTTP_X_AMZ_TARGET"] = target
        assert server.get_application(dict(environ)) is application(server, dict(environ))
    for path in ("/moto-api/reset", "/latest/meta-data/instance-id"):
        environ = {"PATH_INFO": path}
        assert server.get_application(dict(environ)) is application(server, dict(environ))


# -- the dynamodb-serial patch --------------------------------------------------------------------


def test_dynamodb_requests_are_served_one_at_a_time(
    engine: EmbeddedEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto's DynamoDB backend has no lock (a 1,000-component dry run died with "dictionary
    changed size during iteration" in a Query while a PutItem added to the table): the patch
    serialises the server's DynamoDB requests. A PutItem is held inside the backend; a Query
    sent meanwhile must not enter the backend until the PutItem has returned."""
    from moto.dynamodb.models import DynamoDBBackend

    assert "dynamodb-serial" in moto_compat.active_patches()
    dynamodb = engine.client("dynamodb")
    table = f"serial-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    inside_put, let_go = threading.Event(), threading.Event()
    order: list[str] = []
    put_item, query = DynamoDBBackend.put_item, DynamoDBBackend.query

    def held_put(self: Any, *args: Any, **kwargs: Any) -> Any:
        order.append("put enters")
        inside_put.set()
        assert let_go.wait(timeout=60)
        order.append("put leaves")
        return put_item(self, *args, **kwargs)

    def probed_query(self: Any, *args: Any, **kwargs: Any) -> Any:
        order.append("query enters")
        return query(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "put_item", held_put)
    monkeypatch.setattr(DynamoDBBackend, "query", probed_query)
    errors: list[BaseException] = []

    def call(function: Any, **kwargs: Any) -> None:
        try:
            function(**kwargs)
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    writer = threading.Thread(
        target=call,
        kwargs={"function": dynamodb.put_item, "TableName": table, "Item": {"pk": {"S": "a"}}},
    )
    reader = threading.Thread(
        target=call,
        kwargs={
            "function": dynamodb.query,
            "TableName": table,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "a"}},
        },
    )
    writer.start()
    assert inside_put.wait(timeout=60)
    try:
        reader.start()
        # The query has a second to overtake the held PutItem; serialised, it cannot.
        reader.join(timeout=1.0)
        assert order == ["put enters"]
    finally:
        let_go.set()
    writer.join(timeout=60)
    reader.join(timeout=60)
    assert not errors, errors
    assert order == ["put enters", "put leaves", "query enters"]


# -- the dynamodb-partition-query patch -----------------------------------------------------------


def _random_table(dynamodb: Any, rng: random.Random) -> str:
    table = f"partitions-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    kinds = ["slot#", "slot#1", "waiting#", "component#", "action#", "a", ""]
    for _ in range(300):
        item = {
            "pk": {"S": rng.choice(["r1", "r2", "r3"])},
            "sk": {"S": rng.choice(kinds) + str(rng.randrange(60))},
            "n": {"N": str(rng.randrange(1000))},
            "blob": {"S": "x" * rng.randrange(0, 300)},
        }
        dynamodb.put_item(TableName=table, Item=item)
    return table


def _queries(rng: random.Random, table: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for _ in range(40):
        pk = {":p": {"S": rng.choice(["r1", "r2", "r3", "none"])}}
        shape = rng.choice(["begins", "eq", "between", "pk", "gt"])
        if shape == "begins":
            key = "pk = :p AND begins_with(sk, :s)"
            values = {
                **pk,
                ":s": {"S": rng.choice(["slot#", "slot#1", "w", "component#", "zz", "1"])},
            }
        elif shape == "eq":
            key, values = "pk = :p AND sk = :s", {**pk, ":s": {"S": f"slot#{rng.randrange(60)}"}}
        elif shape == "between":
            key = "pk = :p AND sk BETWEEN :a AND :b"
            values = {**pk, ":a": {"S": "a"}, ":b": {"S": "slot#3"}}
        elif shape == "gt":
            key, values = "pk = :p AND sk > :s", {**pk, ":s": {"S": "component#3"}}
        else:
            key, values = "pk = :p", pk
        query: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": key,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": rng.random() < 0.5,
        }
        if rng.random() < 0.4:
            query["Limit"] = rng.randrange(1, 20)
        if rng.random() < 0.2:
            query["ProjectionExpression"] = "sk, n"
        if rng.random() < 0.2:
            query["FilterExpression"] = "n > :n"
            query["ExpressionAttributeValues"] = {**values, ":n": {"N": "500"}}
        out.append(query)
    return out


def _all_pages(dynamodb: Any, query: dict[str, Any]) -> list[Any]:
    pages, kwargs = [], dict(query)
    while True:
        page = dynamodb.query(**kwargs)
        pages.append((page["Items"], page.get("Count"), page.get("ScannedCount")))
        if "LastEvaluatedKey" not in page or len(pages) > 200:
            return pages
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _compare_stock(dynamodb: Any, queries: list[dict[str, Any]]) -> list[list[Any]]:
    moto_compat.revert_patches(["dynamodb-partition-query"])
    try:
        return [_all_pages(dynamodb, q) for q in queries]
    finally:
        moto_compat.apply_patches(["dynamodb-partition-query"], strict=True)


def _random_writes(dynamodb: Any, rng: random.Random, table: str) -> None:
    """Puts (new keys and overwrites), deletes (present and absent), updates that create an
    item, a failed conditional put and a transaction: every path into moto's put/delete."""

    def key() -> dict[str, Any]:
        return {
            "pk": {"S": rng.choice(["r1", "r2", "r3"])},
            "sk": {"S": rng.choice(["slot#", "waiting#", "b", "zz"]) + str(rng.randrange(80))},
        }

    for _ in range(12):
        shape = rng.choice(["put", "delete", "update", "conditional", "transaction"])
        if shape == "put":
            dynamodb.put_item(TableName=table, Item={**key(), "n": {"N": "7"}})
        elif shape == "delete":
            dynamodb.delete_item(TableName=table, Key=key())
        elif shape == "update":
            dynamodb.update_item(
                TableName=table,
                Key=key(),
                UpdateExpression="SET n = :n",
                ExpressionAttributeValues={":n": {"N": "3"}},
            )
        elif shape == "conditional":
            with contextlib.suppress(dynamodb.exceptions.ConditionalCheckFailedException):
                dynamodb.put_item(
                    TableName=table,
                    Item={**key(), "n": {"N": "1"}},
                    ConditionExpression="attribute_exists(pk)",
                )
        else:
            dynamodb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": {**key(), "n": {"N": "2"}}}},
                    {"Delete": {"TableName": table, "Key": {"pk": {"S": "r9"}, "sk": {"S": "x"}}}},
                ]
            )


def test_the_partition_query_gives_moto_s_own_answers(engine: EmbeddedEngine) -> None:
    """Random tables and queries (begins_with, =, BETWEEN, >, the whole partition; limits and
    pages, both orders, projections, filters), with random writes and deletes between rounds of
    reads: the patched Query (its sorted keys kept beside moto's writes) answers exactly as moto's
    own, page by page, item by item."""
    assert "dynamodb-partition-query" in moto_compat.active_patches()
    dynamodb = engine.client("dynamodb")
    rng = random.Random(11)
    tables = [_random_table(dynamodb, rng) for _ in range(2)]
    matched = 0
    for _ in range(4):
        queries = [q for t in tables for q in _queries(rng, t)]
        for query in queries:  # index the partitions, then change them under the index
            _all_pages(dynamodb, query)
        built = {t: _assert_index_is_the_table(engine, t) for t in tables}
        for table in tables:
            _random_writes(dynamodb, rng, table)
        patched = [_all_pages(dynamodb, q) for q in queries]
        for table in tables:  # kept up to date in place by the writes, never read again
            assert _assert_index_is_the_table(engine, table) == built[table]
        stock = _compare_stock(dynamodb, queries)
        matched += sum(len(items) for pages in stock for items, _, _ in pages)
        for query, mine, theirs in zip(queries, patched, stock, strict=True):
            assert mine == theirs, query
    assert matched > 400


def test_a_limited_prefix_read_takes_its_page_not_every_match() -> None:
    """A scheduler's read of the best ``waiting#`` entry (Limit 1) of a 1,000-component backlog
    hands moto a handful of items, not the backlog: the read no longer grows with the release."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    keys = sorted(
        [f"waiting#{i:04d}" for i in range(1000)] + [f"slot#{i:04d}" for i in range(100)] + ["z"]
    )
    partition = {DynamoType({"S": k}): _Sized(k) for k in keys}

    def block(**kwargs: Any) -> list[str]:
        got = moto_dynamodb_index.prefix_block(keys, partition, "waiting#", 1 << 20, **kwargs)
        assert got is not None
        return [item.key for item in got]

    assert len(block()) == 1002  # unlimited: every match and a neighbour on each side
    # the match before, the limit's matches, one more match, the item moto stops at
    assert block(limit=1) == [
        "slot#0099",
        "waiting#0000",
        "waiting#0001",
        "waiting#0002",
        "waiting#0003",
    ]
    assert block(limit=2, forward=False) == [
        "waiting#0995",
        "waiting#0996",
        "waiting#0997",
        "waiting#0998",
        "waiting#0999",
        "z",
    ]
    page = block(limit=2, start_after="waiting#0500")
    assert page == [f"waiting#{i:04d}" for i in range(499, 505)]


class _Sized:
    def __init__(self, key: str) -> None:
        self.key = key

    def size(self) -> int:
        return 100


def _assert_index_is_the_table(engine: EmbeddedEngine, name: str) -> dict[Any, int]:
    """The table's index holds each indexed partition's keys, sorted; the ids of those lists."""
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[ACCOUNT_ID][engine.region].get_table(name)
    index = moto_dynamodb_index.index_of(table)
    assert index.keys, name
    for hash_key, keys in index.keys.items():
        assert keys == sorted(str(k.value) for k in table.items[hash_key]), name
    return {hash_key: id(keys) for hash_key, keys in index.keys.items()}
