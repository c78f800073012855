"""SqsQueueInspector against moto's SQS and CloudWatch: read-only by construction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.stub import Stubber

from orchestrator.aws.actions import ActionRecorder
from orchestrator.aws.queue_inspector import SqsQueueInspector, queue_name
from orchestrator.errors import EnvironmentProblemError, ResourceMissingError, TransientError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_sqs import SQSClient

from tests.functional.conftest import REGION

MISSING_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/absent"
FORBIDDEN = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:DeleteMessageBatch",
    "sqs:PurgeQueue",
    "sqs:ChangeMessageVisibility",
    "sqs:ChangeMessageVisibilityBatch",
}


@pytest.fixture
def sqs(aws: None) -> SQSClient:
    return boto3.client("sqs", region_name=REGION)


@pytest.fixture
def cloudwatch(aws: None) -> CloudWatchClient:
    return boto3.client("cloudwatch", region_name=REGION)


@pytest.fixture
def inspector(sqs: SQSClient, cloudwatch: CloudWatchClient) -> SqsQueueInspector:
    return SqsQueueInspector(sqs, cloudwatch)


@pytest.fixture
def orders(sqs: SQSClient) -> str:
    """Queue ``orders`` with 2 visible messages, 1 in flight and 1 delayed.

    The test's own client (not the inspector's) receives, to put one message in flight.
    """
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=600)
    boto3.client("sqs", region_name=REGION).receive_message(QueueUrl=url, MaxNumberOfMessages=1)
    return url


def _age(cloudwatch: CloudWatchClient, queue: str, at: datetime, seconds: float) -> None:
    cloudwatch.put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Dimensions": [{"Name": "QueueName", "Value": queue}],
                "Timestamp": at,
                "Value": seconds,
                "Unit": "Seconds",
            }
        ],
    )


def test_depth_counts_visible_in_flight_and_delayed(
    inspector: SqsQueueInspector, orders: str
) -> None:
    depth = inspector.depth(orders)
    assert (depth.url, depth.visible, depth.in_flight, depth.delayed) == (orders, 2, 1, 1)
    assert depth.total == 4


def test_depth_of_an_empty_queue(inspector: SqsQueueInspector, sqs: SQSClient) -> None:
    url = sqs.create_queue(QueueName="empty")["QueueUrl"]
    assert inspector.depth(url).total == 0


def test_depth_of_a_missing_queue(inspector: SqsQueueInspector) -> None:
    with pytest.raises(ResourceMissingError, match="absent") as caught:
        inspector.depth(MISSING_URL)
    assert caught.value.resource == MISSING_URL


def test_exists(inspector: SqsQueueInspector, orders: str) -> None:
    assert inspector.exists(orders)
    assert not inspector.exists(MISSING_URL)


def test_exists_does_not_hide_access_problems() -> None:
    sqs = boto3.client("sqs", region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b")
    cloudwatch = boto3.client(
        "cloudwatch", region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b"
    )
    with Stubber(sqs) as stub:
        stub.add_client_error("get_queue_attributes", "AccessDenied", "no", 403)
        with pytest.raises(EnvironmentProblemError, match="sqs:GetQueueAttributes"):
            SqsQueueInspector(sqs, cloudwatch).exists(MISSING_URL)


def test_oldest_age_is_the_latest_datapoint(
    inspector: SqsQueueInspector, cloudwatch: CloudWatchClient, orders: str
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    _age(cloudwatch, "orders", now - timedelta(minutes=6), 900.0)
    _age(cloudwatch, "orders", now - timedelta(minutes=4), 500.0)
    _age(cloudwatch, "orders", now - timedelta(minutes=2), 30.0)
    _age(cloudwatch, "other", now - timedelta(minutes=1), 7000.0)
    age = inspector.oldest_age_seconds(orders, now - timedelta(minutes=10), now)
    assert age == 30.0


def test_oldest_age_respects_the_window(
    inspector: SqsQueueInspector, cloudwatch: CloudWatchClient, orders: str
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    _age(cloudwatch, "orders", now - timedelta(minutes=30), 900.0)
    assert inspector.oldest_age_seconds(orders, now - timedelta(minutes=10), now) is None


def test_oldest_age_without_datapoints_is_none(inspector: SqsQueueInspector, orders: str) -> None:
    now = datetime.now(UTC)
    assert inspector.oldest_age_seconds(orders, now - timedelta(minutes=10), now) is None


def test_oldest_age_throttled_is_transient() -> None:
    sqs = boto3.client("sqs", region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b")
    cloudwatch = boto3.client(
        "cloudwatch", region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b"
    )
    now = datetime.now(UTC)
    with Stubber(cloudwatch) as stub:
        stub.add_client_error("get_metric_data", "Throttling", "Rate exceeded", 400)
        with pytest.raises(TransientError, match="ApproximateAgeOfOldestMessage orders"):
            SqsQueueInspector(sqs, cloudwatch).oldest_age_seconds(
                "https://sqs.us-east-1.amazonaws.com/1/orders", now - timedelta(minutes=5), now
            )


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://sqs.eu-west-2.amazonaws.com/111122223333/orders", "orders"),
        ("https://sqs.eu-west-2.amazonaws.com/111122223333/orders.fifo", "orders.fifo"),
        ("http://localhost:4566/000000000000/enriched/", "enriched"),
    ],
)
def test_queue_name_from_url(url: str, name: str) -> None:
    assert queue_name(url) == name


def test_queue_name_rejects_a_non_url() -> None:
    with pytest.raises(ValueError, match="not an SQS queue URL"):
        queue_name("")


def test_never_receives_deletes_or_purges(
    inspector: SqsQueueInspector,
    sqs: SQSClient,
    cloudwatch: CloudWatchClient,
    orders: str,
) -> None:
    """Every method, on present and missing queues: only the declared read-only actions."""
    before = inspector.depth(orders)
    now = datetime.now(UTC)
    with ActionRecorder(sqs, cloudwatch) as recorded:
        inspector.depth(orders)
        inspector.exists(orders)
        inspector.exists(MISSING_URL)
        inspector.oldest_age_seconds(orders, now - timedelta(minutes=5), now)
        with pytest.raises(ResourceMissingError):
            inspector.depth(MISSING_URL)
    assert not recorded.actions & FORBIDDEN
    assert recorded.actions == set(SqsQueueInspector.AWS_ACTIONS)
    assert inspector.depth(orders) == before
