"""SQS message move tasks for the emulated account: moto implements none of them.

:class:`EmulatedMessageMover` is the ``MessageMover`` of a local engine (``rollout redrive
--engine URL``). It asks the engine for ``StartMessageMoveTask``, as the AWS adapter
(``orchestrator.aws.message_mover.SqsMessageMover``) asks SQS, so the task is listed afterwards;
an engine that does not answer it (a plain moto server) gets the move done from here instead.

:class:`MoveTasks` and :func:`move_task_app` make the embedded engine answer SQS's
``StartMessageMoveTask``, ``ListMessageMoveTasks`` and ``CancelMessageMoveTask`` (JSON protocol,
what boto3 and the AWS CLI send), so ``aws sqs list-message-move-tasks --source-arn DLQ_ARN``
works against ``rollout local serve`` as runbooks/hotfix.md shows it on AWS. A task does what
SQS's does server-side: receive from the dead-letter queue, send each message (body and
attributes) to the destination, and only then delete it from the dead-letter queue, so a message
is never lost (at worst duplicated, as with SQS). Unlike SQS it moves everything before it
answers, so every task it lists is ``COMPLETED`` (or ``FAILED``) and none can be cancelled.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.errors import EnvironmentProblemError

MOVE_TASK_ACTIONS = ("StartMessageMoveTask", "ListMessageMoveTasks", "CancelMessageMoveTask")
_TARGET_PREFIX = "AmazonSQS."
_ERROR_PREFIX = "com.amazonaws.sqs#"


def move_messages(sqs: Any, dlq_url: str, destination_url: str) -> int:
    """Move every message of ``dlq_url`` to ``destination_url`` (send, then delete); the count.

    A send the queue refuses raises :class:`~orchestrator.errors.EnvironmentProblemError` (exit
    3), and nothing of that batch is deleted from the dead-letter queue."""
    moved = 0
    while True:
        received = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            VisibilityTimeout=60,
            WaitTimeSeconds=0,
        )
        messages = received.get("Messages", [])
        if not messages:
            return moved
        entries = []
        for index, message in enumerate(messages):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        sent = sqs.send_message_batch(QueueUrl=destination_url, Entries=entries)
        if sent.get("Failed"):
            raise EnvironmentProblemError(
                f"could not move messages from {dlq_url} to {destination_url}: {sent['Failed']}"
            )
        sqs.delete_message_batch(
            QueueUrl=dlq_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        moved += len(messages)


class EmulatedMessageMover:
    """``MessageMover`` on a local engine: its ``StartMessageMoveTask``, else a move from here."""

    def __init__(self, sqs_client: Any) -> None:
        self._sqs = sqs_client

    def _arn(self, url: str) -> str:
        attributes = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    def move(self, dlq_url: str, destination_url: str) -> dict[str, object]:
        source, destination = self._arn(dlq_url), self._arn(destination_url)
        try:
            started = self._sqs.start_message_move_task(
                SourceArn=source, DestinationArn=destination
            )
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status < 500:  # the engine answered and refused: its reason stands
                raise
        else:
            return {
                "task_handle": started["TaskHandle"],
                "source": source,
                "destination": destination,
            }
        moved = move_messages(self._sqs, dlq_url, destination_url)
        return {
            "task_handle": "emulated",
            "moved": moved,
            "source": source,
            "destination": destination,
        }


class MoveTaskError(Exception):
    """An SQS error answer: ``code`` (``ResourceNotFoundException`` ...) and its message."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class MoveTasks:
    """The move tasks of the emulated account, done with ``sqs()`` (a client on the engine)."""

    def __init__(self, sqs: Callable[[], Any]) -> None:
        self._sqs_factory = sqs
        self._client: Any = None
        self._lock = threading.Lock()
        self._tasks: list[dict[str, Any]] = []

    def _sqs(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._sqs_factory()
            return self._client

    def _url(self, arn: object, field: str) -> str:
        if not isinstance(arn, str) or arn.count(":") < 5 or not arn.startswith("arn:"):
            raise MoveTaskError("InvalidParameterValue", f"{field} must be a queue ARN: {arn!r}")
        name = arn.rsplit(":", 1)[1]
        try:
            return str(self._sqs().get_queue_url(QueueName=name)["QueueUrl"])
        except ClientError:
            raise MoveTaskError(
                "ResourceNotFoundException", f"the queue {arn} does not exist"
            ) from None

    def _sources_of(self, dlq_arn: str) -> list[str]:
        """ARNs of the queues whose redrive policy dead-letters into ``dlq_arn``."""
        sqs = self._sqs()
        out = []
        for url in sqs.list_queues().get("QueueUrls", []):
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["QueueArn", "RedrivePolicy"]
            )["Attributes"]
            policy = json.loads(attributes.get("RedrivePolicy") or "{}")
            if policy.get("deadLetterTargetArn") == dlq_arn:
                out.append(str(attributes["QueueArn"]))
        return out

    def start(self, request: dict[str, Any]) -> dict[str, Any]:
        source = request.get("SourceArn")
        source_url = self._url(source, "SourceArn")
        assert isinstance(source, str)
        destination = request.get("DestinationArn")
        if destination is None:
            sources = self._sources_of(source)
            if len(sources) != 1:
                raise MoveTaskError(
                    "InvalidParameterValue",
                    f"{source} is the dead-letter queue of {len(sources)} queues: give "
                    "DestinationArn",
                )
            destination = sources[0]
        destination_url = self._url(destination, "DestinationArn")
        sqs = self._sqs()
        waiting = sqs.get_queue_attributes(
            QueueUrl=source_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"].get("ApproximateNumberOfMessages", "0")
        task: dict[str, Any] = {
            "TaskHandle": uuid.uuid4().hex,
            "Status": "RUNNING",
            "SourceArn": source,
            "DestinationArn": destination,
            "ApproximateNumberOfMessagesMoved": 0,
            "ApproximateNumberOfMessagesToMove": int(waiting),
            "StartedTimestamp": int(time.time() * 1000),
        }
        if request.get("MaxNumberOfMessagesPerSecond") is not None:
            task["MaxNumberOfMessagesPerSecond"] = int(request["MaxNumberOfMessagesPerSecond"])
        with self._lock:
            if any(t["SourceArn"] == source and t["Status"] == "RUNNING" for t in self._tasks):
                raise MoveTaskError(
                    "UnsupportedOperation", f"a message move task is already running on {source}"
                )
            self._tasks.append(task)
        try:
            moved = move_messages(sqs, source_url, destination_url)
        except (ClientError, BotoCoreError, EnvironmentProblemError) as exc:
            with self._lock:
                task.update(Status="FAILED", FailureReason=str(exc))
        else:
            with self._lock:
                task.update(Status="COMPLETED", ApproximateNumberOfMessagesMoved=moved)
        return {"TaskHandle": task["TaskHandle"]}

    def list(self, request: dict[str, Any]) -> dict[str, Any]:
        source = request.get("SourceArn")
        self._url(source, "SourceArn")
        limit = int(request.get("MaxResults") or 1)
        if not 1 <= limit <= 10:
            raise MoveTaskError("InvalidParameterValue", "MaxResults must be from 1 to 10")
        with self._lock:
            found = [dict(t) for t in reversed(self._tasks) if t["SourceArn"] == source]
        for task in found:  # as SQS: the handle of a task that has ended is not shown
            if task["Status"] != "RUNNING":
                task.pop("TaskHandle", None)
        return {"Results": found[:limit]}

    def cancel(self, request: dict[str, Any]) -> dict[str, Any]:
        handle = request.get("TaskHandle")
        with self._lock:
            task = next((t for t in self._tasks if t["TaskHandle"] == handle), None)
        if task is None or task["Status"] != "RUNNING":
            raise MoveTaskError(
                "ResourceNotFoundException",
                f"no running message move task has the handle {handle!r} (on the local engine a "
                "task moves every message before StartMessageMoveTask answers)",
            )
        raise MoveTaskError("UnsupportedOperation", "a running task cannot be cancelled here")

    def answer(self, action: str, request: dict[str, Any]) -> dict[str, Any]:
        if action == "StartMessageMoveTask":
            return self.start(request)
        if action == "ListMessageMoveTasks":
            return self.list(request)
        return self.cancel(request)


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def move_task_app(app: WsgiApp, tasks: MoveTasks) -> WsgiApp:
    """``app`` (moto's server) answering the SQS move-task actions itself (JSON protocol)."""

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        action = target.removeprefix(_TARGET_PREFIX)
        if not target.startswith(_TARGET_PREFIX) or action not in MOVE_TASK_ACTIONS:
            return app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            request = json.loads(raw or b"{}")
            if not isinstance(request, dict):
                raise MoveTaskError("InvalidParameterValue", "the request is not a JSON object")
            status, body = "200 OK", tasks.answer(action, request)
        except MoveTaskError as exc:
            status = f"{exc.status} Bad Request"
            body = {"__type": _ERROR_PREFIX + exc.code, "message": str(exc)}
        except ValueError as exc:
            status = "400 Bad Request"
            body = {"__type": _ERROR_PREFIX + "InvalidParameterValue", "message": str(exc)}
        data = json.dumps(body).encode("utf-8")
        start_response(
            status,
            [
                ("Content-Type", "application/x-amz-json-1.0"),
                ("Content-Length", str(len(data))),
                ("x-amzn-RequestId", str(uuid.uuid4())),
            ],
        )
        return [data]

    return wsgi
