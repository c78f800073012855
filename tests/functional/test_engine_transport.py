"""The embedded engine answers its own process in-process, and everyone else over its port.

Every boto3 call this process makes to the engine's port (ours, the step handlers', moto's ASL
interpreter's) is answered by calling moto's WSGI app directly; the socket is still there for
other processes. What is checked: nothing of ours reaches botocore's HTTP sender, the answers and
errors are the ones the socket gives, the interpreter's own SDK calls take the same path, and the
switch that turns it off.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.endpoint import Endpoint
from botocore.exceptions import ClientError

from orchestrator.errors import EnvironmentProblemError
from orchestrator.local import wsgi_transport
from orchestrator.local.engine import TRANSPORT_ENV, EmbeddedEngine, wait_for_execution

TIMEOUT = 30.0


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"echo": event}


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> Counter[int]:
    """HTTP requests botocore really sent, per port (counted, then sent as usual)."""
    counted: Counter[int] = Counter()
    original = Endpoint._send

    def counting(self: Endpoint, request: Any) -> Any:
        port = urllib.parse.urlsplit(str(request.url)).port
        counted[port or 0] += 1
        return original(self, request)

    monkeypatch.setattr(Endpoint, "_send", counting)
    return counted


def create_table(dynamodb: Any, name: str) -> None:
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def exercise(engine: EmbeddedEngine) -> dict[str, Any]:
    """One of each kind of call the dry run makes, with an error of each protocol."""
    dynamodb = engine.client("dynamodb")
    create_table(dynamodb, "t")
    dynamodb.put_item(TableName="t", Item={"pk": {"S": "a/b c"}, "n": {"N": "42"}})
    item = dynamodb.get_item(TableName="t", Key={"pk": {"S": "a/b c"}})["Item"]
    sqs = engine.client("sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody="v43",
        MessageAttributes={"schema": {"DataType": "String", "StringValue": "43"}},
    )
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    errors = {}
    for name, call in (
        ("dynamodb", lambda: dynamodb.describe_table(TableName="missing")),
        ("sqs", lambda: sqs.get_queue_url(QueueName="missing")),
        ("lambda", lambda: engine.client("lambda").get_function(FunctionName="missing")),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        errors[name] = refused.value.response["Error"]["Code"]
    return {
        "item": item,
        "visible": attributes["ApproximateNumberOfMessages"],
        "errors": errors,
        "invoke": json.loads(
            engine.client("lambda")
            .invoke(FunctionName="echo", Payload=b'{"x": 1}')["Payload"]
            .read()
        ),
    }


@pytest.fixture
def in_process() -> Iterator[EmbeddedEngine]:
    with EmbeddedEngine({"echo": echo}, in_process=True) as engine:
        yield engine


def test_this_process_reaches_the_engine_without_its_socket(
    in_process: EmbeddedEngine, sends: Counter[int]
) -> None:
    assert in_process.in_process
    answers = exercise(in_process)
    assert sends[in_process.port] == 0
    assert answers["item"] == {"pk": {"S": "a/b c"}, "n": {"N": "42"}}
    assert answers["visible"] == "1"
    assert answers["invoke"] == {"echo": {"x": 1}}


def test_the_answers_are_the_sockets_answers(sends: Counter[int]) -> None:
    with EmbeddedEngine({"echo": echo}, in_process=True) as engine:
        fast = exercise(engine)
        assert sends[engine.port] == 0
    with EmbeddedEngine({"echo": echo}, in_process=False) as engine:
        assert not engine.in_process
        slow = exercise(engine)
        assert sends[engine.port] > 10  # every call of `exercise` but the Lambda Invoke
    assert fast == slow
    assert fast["errors"] == {
        "dynamodb": "ResourceNotFoundException",
        "sqs": "AWS.SimpleQueueService.NonExistentQueue",
        "lambda": "ResourceNotFoundException",
    }


def test_the_interpreters_own_calls_are_in_process_too(
    in_process: EmbeddedEngine, sends: Counter[int]
) -> None:
    dynamodb = in_process.client("dynamodb")
    create_table(dynamodb, "records")
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {"Type": "Task", "Resource": "${echo}", "Next": "Store"},
            "Store": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {
                    "TableName": "records",
                    "Item": {"pk": {"S.$": "$.echo.key"}},
                },
                "End": True,
            },
        },
    }
    sfn = in_process.client("stepfunctions")
    machine = in_process.deploy_state_machine(
        "transport", definition, {"echo": in_process.function_arn("echo")}
    )
    run = sfn.start_execution(stateMachineArn=machine, name="r", input='{"key": "k1"}')
    described = wait_for_execution(sfn, run["executionArn"], timeout=TIMEOUT)
    assert described["status"] == "SUCCEEDED", described
    assert dynamodb.get_item(TableName="records", Key={"pk": {"S": "k1"}})["Item"] == {
        "pk": {"S": "k1"}
    }
    assert sends[in_process.port] == 0


def test_other_processes_still_use_the_port(in_process: EmbeddedEngine) -> None:
    """What `rollout local serve` hands out: the port answers over HTTP, the same account."""
    in_process.client("sqs").create_queue(QueueName="made-in-process")
    request = urllib.request.Request(
        in_process.endpoint_url + "/?Action=ListQueues",
        method="GET",
        headers={
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261201/us-east-1/sqs/"
            "aws4_request, SignedHeaders=host, Signature=0"
        },
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        assert response.status == 200
        assert "made-in-process" in response.read().decode()


def test_a_port_stops_being_answered_when_the_engine_stops() -> None:
    with EmbeddedEngine({"echo": echo}, in_process=True) as engine:
        port = engine.port
        assert wsgi_transport.app_for(port) is not None
    assert wsgi_transport.app_for(port) is None


def test_the_switch_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TRANSPORT_ENV, "http")
    assert not EmbeddedEngine().in_process
    monkeypatch.setenv(TRANSPORT_ENV, "sockets")
    with pytest.raises(EnvironmentProblemError) as refused:
        EmbeddedEngine()
    assert TRANSPORT_ENV in str(refused.value) and "in-process" in str(refused.value)


# -- the environ, as werkzeug's server builds it ------------------------------------------------


def test_the_environ_decodes_the_path_and_keeps_the_query() -> None:
    environ = wsgi_transport.environ_for(
        "post",
        "http://localhost:5000/2015-03-31/functions/arn%3Aaws%3Alambda%3Afn/invocations?Qualifier=live",
        [("Content-Type", "application/json"), ("X-Amz-Target", "A"), ("Accept", "x")],
        b'{"a": 1}',
    )
    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["PATH_INFO"] == "/2015-03-31/functions/arn:aws:lambda:fn/invocations"
    assert environ["QUERY_STRING"] == "Qualifier=live"
    assert environ["RAW_URI"].endswith("arn%3Aaws%3Alambda%3Afn/invocations?Qualifier=live")
    assert environ["CONTENT_TYPE"] == "application/json"
    assert environ["CONTENT_LENGTH"] == "8"
    assert environ["HTTP_X_AMZ_TARGET"] == "A"
    assert environ["HTTP_HOST"] == "localhost:5000"
    assert environ["wsgi.input"].read() == b'{"a": 1}'


def test_the_environ_joins_repeated_headers_and_keeps_underscored_names() -> None:
    environ = wsgi_transport.environ_for(
        "GET",
        "http://127.0.0.1:1/",
        [("X-Tag", "a"), ("X-Tag", "b"), ("x-amz-meta-my_key", "v"), (b"Accept", b"y")],
        b"",
    )
    assert environ["HTTP_X_TAG"] == "a,b"
    assert environ["HTTP_ACCEPT"] == "y"
    assert environ["HTTP_X_AMZ_META_MY_KEY"] == "v"
    preserved = [v for k, v in environ.items() if isinstance(v, dict)]
    assert preserved == [{"HTTP_X_AMZ_META_MY_KEY": "x-amz-meta-my_key"}]


def test_an_exception_the_app_lets_out_is_a_500_as_over_the_socket() -> None:
    def broken(environ: dict[str, Any], start_response: Any) -> Any:
        raise AttributeError("'NoneType' object has no attribute 'callback_pool_manager'")

    environ = wsgi_transport.environ_for("POST", "http://127.0.0.1:1/", [], b"{}")
    status, headers, body = wsgi_transport.call_app(broken, environ)
    assert status == 500
    assert b"Internal Server Error" in body
    assert ("Content-Type", "text/html; charset=utf-8") in headers


def test_a_500_reaches_the_caller_as_a_client_error(
    in_process: EmbeddedEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = in_process.port
    app = wsgi_transport.app_for(port)
    assert app is not None

    def broken(environ: dict[str, Any], start_response: Any) -> Any:
        raise AttributeError("moto failed in itself")

    monkeypatch.setattr(wsgi_transport, "_APPS", {port: broken})
    with pytest.raises(ClientError) as refused:
        in_process.client("sqs").list_queues()
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
