"""``MessageMover`` on SQS: ``StartMessageMoveTask`` from a dead-letter queue back to its source.

SQS moves the messages itself (nothing passes through the orchestrator); the task can be followed
with ``ListMessageMoveTasks``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from orchestrator.aws.errors import aws_call

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SqsMessageMover:
    AWS_ACTIONS: ClassVar[tuple[str, ...]] = (
        "sqs:GetQueueAttributes",
        "sqs:StartMessageMoveTask",
    )

    def __init__(self, sqs_client: SQSClient) -> None:
        self._sqs = sqs_client

    def _arn(self, url: str) -> str:
        with aws_call("sqs:GetQueueAttributes", url):
            attributes = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return attributes["Attributes"]["QueueArn"]

    def move(self, dlq_url: str, destination_url: str) -> dict[str, object]:
        source, destination = self._arn(dlq_url), self._arn(destination_url)
        with aws_call("sqs:StartMessageMoveTask", dlq_url):
            started = self._sqs.start_message_move_task(
                SourceArn=source, DestinationArn=destination
            )
        return {"task_handle": started["TaskHandle"], "source": source, "destination": destination}
