"""SQS events as Lambda delivers them, for the contracts tests (and checks that they are).

The shapes follow the AWS Lambda developer guide's SQS event ("Example Amazon SQS message event")
and Powertools' own test events (``tests/events/sqsEvent.json``, ``snsSqsEvent.json``): every event
built here validates against Powertools' parser ``SqsModel``, and an SNS-wrapped body against its
``SnsNotificationModel``, so the library is tested on what Powertools accepts.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from aws_lambda_powertools.utilities.parser.models import (
    EventBridgeModel,
    SnsNotificationModel,
    SqsModel,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def sqs_record(
    body: str | Mapping[str, Any],
    *,
    schema: int | str | None = None,
    queue: str = "orders",
    attribute: str = "schema_version",
    message_id: str | None = None,
    receive_count: int = 1,
    attributes: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """One record of a Lambda SQS event; ``schema`` becomes the version message attribute."""
    text = body if isinstance(body, str) else json.dumps(body)
    message_attributes: dict[str, Any] = {k: dict(v) for k, v in (attributes or {}).items()}
    if schema is not None:
        data_type = "Number" if isinstance(schema, int) else "String"
        message_attributes[attribute] = {
            "stringValue": str(schema),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": data_type,
        }
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
        "body": text,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1545082649183",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1545082649185",
        },
        "messageAttributes": message_attributes,
        "md5OfBody": hashlib.md5(text.encode()).hexdigest(),  # SQS's own checksum
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn(queue),
        "awsRegion": REGION,
    }


def sqs_event(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"Records": [dict(r) for r in records]}


def from_received(message: Mapping[str, Any], queue: str) -> dict[str, Any]:
    """A Lambda SQS record from an SQS ``ReceiveMessage`` message (what the event source mapping
    builds): attribute names in camelCase, as Lambda delivers them."""
    attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value["DataType"],
        }
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn(queue),
        "awsRegion": REGION,
    }


def sns_body(
    message: str | Mapping[str, Any], attributes: Mapping[str, tuple[str, str]] | None = None
) -> str:
    """The body of an SQS message SNS delivered without raw message delivery."""
    text = message if isinstance(message, str) else json.dumps(message)
    notification: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": "d88d4479-6ec0-54fe-b63f-1cf9df4bb16e",
        "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:orders-topic",
        "Message": text,
        "Timestamp": "2021-01-19T10:07:07.287Z",
        "SignatureVersion": "1",
        "Signature": "tEo2i6Lw6/Dr7Jdlulh0sXgnkF0idd3hqs8QZCorQpzkIWVOuu583NT0Gv0epuZD1Bo==",
        "SigningCertURL": f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-0.pem",
        "UnsubscribeURL": f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
    }
    if attributes:
        notification["MessageAttributes"] = {
            name: {"Type": data_type, "Value": value}
            for name, (data_type, value) in attributes.items()
        }
    return json.dumps(notification, indent=2)


def eventbridge_body(detail: Mapping[str, Any], detail_type: str = "OrderPlaced") -> str:
    """The body of an SQS message an EventBridge rule delivered (the whole event)."""
    return json.dumps(
        {
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": detail_type,
            "source": "shop.ingest",
            "account": ACCOUNT,
            "time": "2017-12-22T18:43:48Z",
            "region": REGION,
            "resources": [],
            "detail": dict(detail),
        }
    )


class Context:
    """The parts of Lambda's context the library reads."""

    def __init__(self, version: str = "18", name: str = "enrich") -> None:
        self.function_version = version
        self.function_name = name
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}:live"
        self.aws_request_id = str(uuid.uuid4())


# -- the shapes are what Powertools parses ---------------------------------------------------------


def test_records_validate_as_powertools_sqs_events() -> None:
    event = sqs_event(
        [
            sqs_record({"order_id": "o-1"}, schema=2),
            sqs_record("Test message.", schema="v2"),
            sqs_record(sns_body({"a": 1}, {"schema_version": ("Number", "2")})),
            sqs_record(eventbridge_body({"schema_version": 1})),
        ]
    )
    parsed = SqsModel.model_validate(event)
    assert parsed.Records[0].messageAttributes["schema_version"].stringValue == "2"
    assert parsed.Records[0].messageAttributes["schema_version"].dataType == "Number"
    assert parsed.Records[1].messageAttributes["schema_version"].dataType == "String"


def test_wrapped_bodies_validate_as_powertools_envelope_models() -> None:
    notification = SnsNotificationModel.model_validate_json(
        sns_body({"a": 1}, {"schema_version": ("Number", "2")})
    )
    assert notification.MessageAttributes is not None
    assert notification.MessageAttributes["schema_version"].Value == "2"
    event = EventBridgeModel.model_validate_json(eventbridge_body({"schema_version": 1}))
    assert event.detail == {"schema_version": 1}


def test_received_messages_become_powertools_records() -> None:
    received = {
        "MessageId": "m-1",
        "ReceiptHandle": "rh",
        "MD5OfBody": "x",
        "Body": "{}",
        "Attributes": {  # ReceiveMessage with AttributeNames=["All"]
            "ApproximateReceiveCount": "2",
            "SentTimestamp": "1545082649183",
            "SenderId": "AIDAIT2UOQQY3AUEKVGXU",
            "ApproximateFirstReceiveTimestamp": "1545082649185",
        },
        "MessageAttributes": {"schema_version": {"DataType": "Number", "StringValue": "1"}},
    }
    record = from_received(received, "orders")
    parsed = SqsModel.model_validate({"Records": [record]})
    assert parsed.Records[0].messageAttributes["schema_version"].stringValue == "1"
    assert parsed.Records[0].attributes.ApproximateReceiveCount == "2"
