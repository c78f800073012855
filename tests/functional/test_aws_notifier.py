"""SnsNotifier against moto's SNS, read back through an SQS subscription."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import boto3
import pytest

from orchestrator.aws.actions import ActionRecorder
from orchestrator.aws.notifier import (
    DEFAULT_SUBJECT,
    MESSAGE_MAX_BYTES,
    SUBJECT_MAX_CHARS,
    SnsNotifier,
    fit_message,
    fit_subject,
)
from orchestrator.errors import ResourceMissingError

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_sns import SNSClient

from tests.functional.conftest import REGION


@pytest.fixture
def sns(aws: None) -> SNSClient:
    return boto3.client("sns", region_name=REGION)


@pytest.fixture
def topic(sns: SNSClient) -> str:
    return sns.create_topic(Name="on-call")["TopicArn"]


@pytest.fixture
def inbox(sns: SNSClient, topic: str) -> Callable[[], list[dict[str, str]]]:
    """What the topic delivered, via an SQS queue subscribed to it."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)

    def read() -> list[dict[str, str]]:
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in received]

    return read


def test_publish(sns: SNSClient, topic: str, inbox: Callable[[], list[dict[str, str]]]) -> None:
    SnsNotifier(sns, topic).publish("Release 2026-11-28.1 halted", "enrich@18 failed its gate")
    [delivered] = inbox()
    assert delivered["Subject"] == "Release 2026-11-28.1 halted"
    assert delivered["Message"] == "enrich@18 failed its gate"


def test_oversized_and_odd_input_is_fitted_not_refused(
    sns: SNSClient, topic: str, inbox: Callable[[], list[dict[str, str]]]
) -> None:
    subject = "Release halted:\n" + "é" + "x" * 200
    message = "y" * (MESSAGE_MAX_BYTES + 50_000)
    SnsNotifier(sns, topic).publish(subject, message)
    [delivered] = inbox()
    assert len(delivered["Subject"]) == SUBJECT_MAX_CHARS
    assert delivered["Subject"].startswith("Release halted: x")
    assert delivered["Message"].endswith("SNS allows 262144]")


def test_missing_topic(sns: SNSClient) -> None:
    missing = "arn:aws:sns:us-east-1:123456789012:absent"
    with pytest.raises(ResourceMissingError, match="sns:Publish on arn:aws:sns"):
        SnsNotifier(sns, missing).publish("s", "m")


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Release halted", "Release halted"),
        ("  line one\nline two\t\x07end  ", "line one line two end"),
        ("Déploiement → arrêté", "D ploiement arr t"),
        ("", DEFAULT_SUBJECT),
        ("\n\n", DEFAULT_SUBJECT),
    ],
)
def test_fit_subject(subject: str, expected: str) -> None:
    assert fit_subject(subject) == expected


def test_fit_subject_truncates_with_an_ellipsis() -> None:
    fitted = fit_subject("word " * 40)
    assert len(fitted) <= SUBJECT_MAX_CHARS
    assert fitted.endswith("...")


def test_fit_message_keeps_what_fits() -> None:
    assert fit_message("short") == "short"
    exact = "z" * MESSAGE_MAX_BYTES
    assert fit_message(exact) == exact
    assert fit_message("") == "(no details)"


def test_fit_message_cuts_on_a_character_boundary() -> None:
    message = "€" * MESSAGE_MAX_BYTES  # 3 bytes each
    fitted = fit_message(message)
    data = fitted.encode("utf-8")
    assert len(data) <= MESSAGE_MAX_BYTES
    assert "[truncated by the rollout orchestrator" in fitted
    assert f"had {3 * MESSAGE_MAX_BYTES} bytes" in fitted
    assert fitted.startswith("€" * 1000)


def test_aws_actions_match_the_calls_made(sns: SNSClient, topic: str) -> None:
    with ActionRecorder(sns) as recorded:
        SnsNotifier(sns, topic).publish("s", "m")
    assert recorded.actions == set(SnsNotifier.AWS_ACTIONS)
