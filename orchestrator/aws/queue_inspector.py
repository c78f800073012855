"""``QueueInspector`` on SQS and CloudWatch: how much is queued and how old the oldest message is.

Strictly read-only, because draining a queue of old-schema messages (DESIGN §4) means waiting for
the consumers to process them, never touching them: this adapter calls ``GetQueueAttributes`` and
``GetMetricData`` only, never ``ReceiveMessage`` (which would hide a message from its consumer),
``DeleteMessage`` or ``PurgeQueue``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from orchestrator.aws.errors import aws_call, is_missing
from orchestrator.aws.metrics import fetch_series
from orchestrator.model.live import MetricQuery, QueueDepth

if TYPE_CHECKING:
    from datetime import datetime

    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeFilterType

DEPTH_ATTRIBUTES: tuple[QueueAttributeFilterType, ...] = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)

AGE_PERIOD_SECONDS = 60
"""SQS publishes its CloudWatch metrics once a minute."""


def queue_name(url: str) -> str:
    """The queue's name (CloudWatch's ``QueueName`` dimension): the URL's last path segment."""
    name = urlparse(url).path.rstrip("/").rsplit("/", 1)[-1]
    if not name:
        raise ValueError(f"not an SQS queue URL: {url!r}")
    return name


class SqsQueueInspector:
    """Read-only view of SQS queues by URL."""

    AWS_ACTIONS: ClassVar[tuple[str, ...]] = (
        "sqs:GetQueueAttributes",
        "cloudwatch:GetMetricData",
    )

    def __init__(self, sqs_client: SQSClient, cloudwatch_client: CloudWatchClient) -> None:
        self._sqs = sqs_client
        self._cloudwatch = cloudwatch_client

    def depth(self, url: str) -> QueueDepth:
        """Approximate visible, in-flight and delayed counts; ``ResourceMissingError`` if absent."""
        with aws_call("sqs:GetQueueAttributes", url):
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=list(DEPTH_ATTRIBUTES)
            ).get("Attributes", {})
        return QueueDepth(
            url=url,
            visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
            in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
            delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
        )

    def oldest_age_seconds(self, url: str, since: datetime, until: datetime) -> float | None:
        """Latest per-minute maximum of ``ApproximateAgeOfOldestMessage`` in ``[since, until)``.

        None when CloudWatch has no datapoint in the window (SQS stops publishing for an idle
        queue), which the caller must not read as "empty": ``depth`` answers that.
        """
        name = queue_name(url)
        query = MetricQuery(
            id="age",
            namespace="AWS/SQS",
            metric="ApproximateAgeOfOldestMessage",
            dimensions={"QueueName": name},
            stat="Maximum",
            period=AGE_PERIOD_SECONDS,
        )
        with aws_call("cloudwatch:GetMetricData", f"AWS/SQS ApproximateAgeOfOldestMessage {name}"):
            series = fetch_series(self._cloudwatch, [query], since, until)["age"]
        points = sorted(zip(series.timestamps, series.values, strict=False))
        return points[-1][1] if points else None

    def exists(self, url: str) -> bool:
        """Whether the queue exists (other failures, e.g. access denied, still raise)."""
        with aws_call("sqs:GetQueueAttributes", url):
            try:
                self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            except ClientError as exc:
                if is_missing(exc):
                    return False
                raise
        return True
