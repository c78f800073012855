"""The local Lambda endpoint through a real boto3 Lambda client (DESIGN §6, `rollout local-lambda`).

Each test talks HTTP to a :class:`LambdaEndpoint` on a free loopback port. No engine is needed.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config

from orchestrator.errors import EnvironmentProblemError, GateFailedError
from orchestrator.local.lambda_endpoint import LambdaEndpoint
from orchestrator.local.serve import http_proxy, remote_error_class

TIMEOUT = 10.0


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "got": event,
        "function": context.function_name,
        "version": context.function_version,
        "arn": context.invoked_function_arn,
        "request_id": context.aws_request_id,
    }


def gate_fails(event: dict[str, Any], context: Any) -> Any:
    raise GateFailedError("error rate 3.2% > 1%")


def not_json(event: dict[str, Any], context: Any) -> Any:
    return {"when": object()}


class Recorder:
    """A handler that records its events and signals each call."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.called = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        with self._lock:
            self.events.append(event)
        self.called.set()
        return None


@pytest.fixture(scope="module")
def endpoint() -> Iterator[LambdaEndpoint]:
    handlers: dict[str, Callable[[dict[str, Any], Any], Any]] = {
        "echo": echo,
        "gate": gate_fails,
        "not-json": not_json,
        "record": Recorder(),
    }
    with LambdaEndpoint(handlers, port=0) as running:
        yield running


@pytest.fixture
def recorder(endpoint: LambdaEndpoint) -> Recorder:
    """A fresh ``record`` handler for each test (replaced while the endpoint serves)."""
    fresh = Recorder()
    endpoint.register({"record": fresh})
    return fresh


@pytest.fixture(scope="module")
def lam(endpoint: LambdaEndpoint) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(
        "lambda",
        endpoint_url=endpoint.url,
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=TIMEOUT),
    )


def payload(response: dict[str, Any]) -> Any:
    return json.loads(response["Payload"].read())


def test_a_result_comes_back_as_json_with_the_lambda_headers(lam: Any) -> None:
    response = lam.invoke(FunctionName="echo", Payload=json.dumps({"release": "r1", "n": [1, 2]}))

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    body = payload(response)
    assert headers["x-amzn-requestid"] == body["request_id"]
    assert body["got"] == {"release": "r1", "n": [1, 2]}
    assert body["function"] == "echo"
    assert body["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:echo"


def test_a_function_arn_and_a_qualifier_reach_the_same_handler(lam: Any) -> None:
    arn = "arn:aws:lambda:eu-west-2:111122223333:function:echo"
    by_arn = payload(lam.invoke(FunctionName=arn, Payload=b"{}"))
    qualified = lam.invoke(FunctionName="echo", Qualifier="7", Payload=b"{}")

    assert by_arn["function"] == "echo"
    assert qualified["ExecutedVersion"] == "7"
    assert payload(qualified)["arn"].endswith(":function:echo:7")


def test_an_empty_payload_is_an_empty_event(lam: Any) -> None:
    assert payload(lam.invoke(FunctionName="echo"))["got"] == {}


def test_a_raised_exception_is_an_unhandled_function_error_named_after_its_class(
    lam: Any,
) -> None:
    response = lam.invoke(FunctionName="gate", Payload=b"{}")

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert payload(response) == {
        "errorType": "GateFailedError",
        "errorMessage": "error rate 3.2% > 1%",
        "stackTrace": [],
    }


def test_a_result_that_is_not_json_is_a_marshal_error(lam: Any) -> None:
    response = lam.invoke(FunctionName="not-json", Payload=b"{}")

    assert response["FunctionError"] == "Unhandled"
    assert payload(response)["errorType"] == "Runtime.MarshalError"


def test_an_unknown_function_raises_resource_not_found(lam: Any) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as caught:
        lam.invoke(FunctionName="missing", Payload=b"{}")

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "Function not found: arn:aws:lambda:us-east-1:123456789012:function:missing" in str(
        caught.value
    )


def test_a_body_that_is_not_json_is_invalid_request_content(lam: Any, recorder: Recorder) -> None:
    with pytest.raises(lam.exceptions.InvalidRequestContentException) as caught:
        lam.invoke(FunctionName="record", Payload=b"{not json")

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert recorder.events == []


def test_an_event_invocation_is_accepted_at_once_and_runs_in_the_background(
    lam: Any, recorder: Recorder, endpoint: LambdaEndpoint
) -> None:
    before = endpoint.invocations["record"]
    response = lam.invoke(FunctionName="record", InvocationType="Event", Payload=b'{"n": 1}')

    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    assert recorder.called.wait(TIMEOUT), "the Event invocation never ran"
    assert recorder.events == [{"n": 1}]
    assert endpoint.invocations["record"] == before + 1


def test_a_dry_run_invocation_checks_without_calling(lam: Any, recorder: Recorder) -> None:
    response = lam.invoke(FunctionName="record", InvocationType="DryRun", Payload=b"{}")

    assert response["StatusCode"] == 204
    assert recorder.events == []
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="missing", InvocationType="DryRun")


def test_list_functions_names_every_handler(lam: Any) -> None:
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]

    assert names == ["echo", "gate", "not-json", "record"]


def test_concurrent_invocations_are_all_answered_and_counted(
    lam: Any, endpoint: LambdaEndpoint
) -> None:
    before = endpoint.invocations["echo"]

    def call(n: int) -> Any:
        return payload(lam.invoke(FunctionName="echo", Payload=json.dumps({"n": n})))["got"]["n"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(call, range(40), timeout=TIMEOUT))

    assert got == list(range(40))
    assert endpoint.invocations["echo"] == before + 40


def test_the_http_proxy_returns_results_and_reraises_remote_errors_by_name(
    endpoint: LambdaEndpoint,
) -> None:
    assert http_proxy(endpoint.url, "echo", timeout=TIMEOUT)({"a": 1}, None)["got"] == {"a": 1}

    with pytest.raises(Exception, match=r"error rate 3\.2% > 1%") as caught:
        http_proxy(endpoint.url, "gate", timeout=TIMEOUT)({}, None)
    assert type(caught.value).__name__ == "GateFailedError"
    assert type(caught.value) is remote_error_class("GateFailedError")

    with pytest.raises(Exception, match="Function not found") as missing:
        http_proxy(endpoint.url, "missing", timeout=TIMEOUT)({}, None)
    assert type(missing.value).__name__ == "Lambda.ResourceNotFoundException"


def test_the_http_proxy_names_an_unreachable_endpoint_as_a_client_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
        with pytest.raises(Exception, match="cannot reach the Lambda endpoint") as caught:
            http_proxy(url, "echo", timeout=TIMEOUT)({}, None)

    assert type(caught.value).__name__ == "Lambda.SdkClientException"


def test_unknown_paths_and_methods_are_refused(endpoint: LambdaEndpoint) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for method, path, status in (
        ("GET", "/nothing", 404),
        ("GET", "/2015-03-31/functions/echo/invocations", 405),
    ):
        request = urllib.request.Request(endpoint.url + path, method=method)
        with pytest.raises(urllib.error.HTTPError) as caught:
            opener.open(request, timeout=TIMEOUT)
        assert caught.value.code == status
        assert caught.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"


def test_a_taken_port_is_an_environment_problem(endpoint: LambdaEndpoint) -> None:
    with pytest.raises(EnvironmentProblemError, match=f"port {endpoint.port}"):
        LambdaEndpoint({}, port=endpoint.port).start()


def test_stop_closes_the_port_and_start_is_idempotent() -> None:
    running = LambdaEndpoint({"echo": echo}).start()
    assert running.start() is running
    port = running.port
    running.stop()
    running.stop()  # twice is fine

    assert not running.running
    deadline = time.monotonic() + TIMEOUT
    with socket.socket() as probe:
        while True:  # the port is free again (the OS may need a moment)
            try:
                probe.bind(("127.0.0.1", port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
