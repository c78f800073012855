"""SQS message move tasks on the local engine (issue 9: runbooks/hotfix.md's
`aws sqs list-message-move-tasks` was a 500 NotImplementedError against `rollout local serve`).

The engine runs as `rollout local serve` in its own process (one embedded engine per process);
the calls are what `aws sqs ...-message-move-task(s)` sends (boto3, JSON protocol).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.local.message_mover import EmulatedMessageMover
from tests.processes import CLI, cli_env, free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0


def client(service: str, url: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(
        service,  # type: ignore[call-overload]
        endpoint_url=url,
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=60),
    )


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    logs = tmp_path_factory.mktemp("move-tasks") / "serve.err"
    port = free_port()
    with logs.open("w") as err:
        process = subprocess.Popen(
            [*CLI, "local", "serve", "--port", str(port), "--format", "json"],
            cwd=ROOT,
            env=cli_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line, f"exited {process.poll()} before ready: {logs.read_text()}"
            endpoint = str(json.loads(line)["endpoint_url"])
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                try:
                    client("sqs", endpoint).list_queues()
                    break
                except (BotoCoreError, ClientError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            yield endpoint
            assert "NotImplementedError" not in logs.read_text()
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


def queue_with_dlq(sqs: Any, name: str, dead: int) -> tuple[str, str, str, str]:
    """(url, arn, dlq url, dlq arn), with ``dead`` messages in the dead-letter queue."""
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
    url = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": policy})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    for i in range(dead):
        sqs.send_message(
            QueueUrl=dlq_url,
            MessageBody=json.dumps({"n": i}),
            MessageAttributes={"schema": {"DataType": "Number", "StringValue": "2"}},
        )
    return url, arn, dlq_url, dlq_arn


def depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_list_start_list_as_the_runbook_does(url: str) -> None:
    sqs = client("sqs", url)
    queue_url, queue_arn, dlq_url, dlq_arn = queue_with_dlq(sqs, "orders", dead=13)
    assert sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"] == []
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert handle
    [task] = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
    assert task["Status"] == "COMPLETED"
    assert task["SourceArn"] == dlq_arn and task["DestinationArn"] == queue_arn
    assert task["ApproximateNumberOfMessagesMoved"] == 13
    assert task["ApproximateNumberOfMessagesToMove"] == 13
    assert "TaskHandle" not in task, "as SQS: an ended task shows no handle"
    assert depth(sqs, dlq_url) == 0 and depth(sqs, queue_url) == 13
    moved = sqs.receive_message(QueueUrl=queue_url, MessageAttributeNames=["All"])["Messages"][0]
    assert moved["MessageAttributes"]["schema"]["StringValue"] == "2", "attributes kept"


def test_an_explicit_destination_and_the_latest_task_first(url: str) -> None:
    sqs = client("sqs", url)
    _, _, dlq_url, dlq_arn = queue_with_dlq(sqs, "enriched", dead=2)
    other_url = sqs.create_queue(QueueName="elsewhere")["QueueUrl"]
    other_arn = sqs.get_queue_attributes(QueueUrl=other_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=other_arn)
    sqs.send_message(QueueUrl=dlq_url, MessageBody="{}")
    sqs.start_message_move_task(SourceArn=dlq_arn)
    latest, first = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
    assert latest["ApproximateNumberOfMessagesMoved"] == 1
    assert first["DestinationArn"] == other_arn and first["ApproximateNumberOfMessagesMoved"] == 2
    assert len(sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]) == 1, "MaxResults 1"
    assert depth(sqs, other_url) == 2


def test_errors_are_sqs_errors_not_500s(url: str) -> None:
    sqs = client("sqs", url)
    missing = "arn:aws:sqs:us-east-1:123456789012:no-such-queue"
    for call in (
        lambda: sqs.list_message_move_tasks(SourceArn=missing),
        lambda: sqs.start_message_move_task(SourceArn=missing),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as cancelled:
        sqs.cancel_message_move_task(TaskHandle="nope")
    assert cancelled.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_the_emulated_mover_starts_a_task_the_engine_lists(url: str) -> None:
    """`rollout redrive --engine URL` goes through the engine's StartMessageMoveTask, so the
    runbook's `aws sqs list-message-move-tasks` shows the move afterwards."""
    sqs = client("sqs", url)
    queue_url, _, dlq_url, dlq_arn = queue_with_dlq(sqs, "store-in", dead=4)
    document = EmulatedMessageMover(sqs).move(dlq_url, queue_url)
    assert document["task_handle"] not in ("", "emulated")
    [task] = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    assert task["Status"] == "COMPLETED" and task["ApproximateNumberOfMessagesMoved"] == 4
    assert depth(sqs, queue_url) == 4


class RefusingSqs:
    """An SQS client whose destination refuses the batch: what ``move_messages`` must not hide
    or half-do."""

    def __init__(self) -> None:
        self.deleted: list[Any] = []
        self.given = False

    def receive_message(self, **_: Any) -> dict[str, Any]:
        if self.given:
            return {"Messages": []}
        self.given = True
        return {"Messages": [{"Body": "{}", "ReceiptHandle": "r-1", "MessageAttributes": {}}]}

    def send_message_batch(self, **_: Any) -> dict[str, Any]:
        return {"Failed": [{"Id": "0", "Code": "KMS.AccessDenied", "SenderFault": True}]}

    def delete_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        self.deleted.append(kwargs)
        return {}


def test_a_refused_move_is_a_project_error_and_deletes_nothing() -> None:
    from orchestrator.errors import EnvironmentProblemError
    from orchestrator.local.message_mover import move_messages

    sqs = RefusingSqs()
    with pytest.raises(EnvironmentProblemError, match="could not move messages from dlq to q"):
        move_messages(sqs, "dlq", "q")
    assert sqs.deleted == []
    assert EnvironmentProblemError.exit_code == 3
