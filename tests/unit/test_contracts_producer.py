"""Producer stamping: every SendMessage, SendMessageBatch and SNS Publish carries the version.

The calls go to recording fakes of boto3's SQS and SNS clients; the round trips then turn what was
sent into the Lambda SQS event the consumer gets (as the event source mapping builds it, validated
by Powertools' ``SqsModel``) and check that the consumer dispatches it by the stamped version.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import SqsModel
from pydantic import BaseModel, Field

from orchestrator.contracts import Component, WrongMessageError
from tests.unit.test_contracts_events import sns_body, sqs_event, sqs_record


class OrderV1(BaseModel):
    order_id: str
    customer: str


class OrderV2(BaseModel):
    order_id: str
    customer_id: str = Field(alias="customerId")


class FakeSQS:
    def __init__(self, fail_ids: frozenset[str] = frozenset()) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_ids = fail_ids

    def send_message(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("send_message", kwargs))
        return {"MessageId": f"m{len(self.calls)}"}

    def send_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("send_message_batch", kwargs))
        entries = kwargs["Entries"]
        return {
            "Successful": [
                {"Id": e["Id"], "MessageId": f"id-{e['Id']}"}
                for e in entries
                if e["Id"] not in self.fail_ids
            ],
            "Failed": [
                {"Id": e["Id"], "Code": "InternalError", "SenderFault": False}
                for e in entries
                if e["Id"] in self.fail_ids
            ],
        }


class FakeSNS:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"MessageId": "sns-1"}


URL = "https://sqs.us-east-1.amazonaws.com/123456789012/orders"
TOPIC = "arn:aws:sns:us-east-1:123456789012:orders-topic"


def delivered(entry: dict[str, Any], message_id: str) -> dict[str, Any]:
    """The Lambda SQS record for a sent entry (MessageBody + MessageAttributes)."""
    attributes = {
        name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
        for name, value in entry["MessageAttributes"].items()
    }
    record = sqs_record(entry["MessageBody"], message_id=message_id)
    record["messageAttributes"] = attributes
    return record


def test_send_message_stamps_the_declared_version() -> None:
    ingest = Component("ingest")
    orders = ingest.writes("orders", 1, OrderV1)
    sqs = FakeSQS()
    orders.send(sqs, URL, OrderV1(order_id="a", customer="c"), DelaySeconds=5)
    ((call, kwargs),) = sqs.calls
    assert call == "send_message"
    assert kwargs == {
        "QueueUrl": URL,
        "MessageBody": '{"order_id":"a","customer":"c"}',
        "MessageAttributes": {"schema_version": {"DataType": "Number", "StringValue": "1"}},
        "DelaySeconds": 5,
    }


def test_a_token_version_is_a_string_attribute_and_the_name_is_configurable() -> None:
    ingest = Component("ingest", version_attribute="contract")
    orders = ingest.writes("orders", "v2", OrderV2)
    assert orders.attribute_value() == {"DataType": "String", "StringValue": "v2"}
    sqs = FakeSQS()
    orders.send(sqs, URL, {"order_id": "a", "customerId": "c"})
    assert sqs.calls[0][1]["MessageAttributes"] == {
        "contract": {"DataType": "String", "StringValue": "v2"}
    }


def test_only_the_declared_model_is_sent() -> None:
    orders = Component("ingest").writes("orders", 2, OrderV2)
    sqs = FakeSQS()
    with pytest.raises(WrongMessageError, match=r"writes orders schema 2 \(OrderV2\), not OrderV1"):
        orders.send(sqs, URL, OrderV1(order_id="a", customer="c"))
    with pytest.raises(WrongMessageError, match="not a valid OrderV2"):
        orders.send(sqs, URL, {"order_id": "a"})
    assert sqs.calls == []
    # a mapping that validates is sent as the model, by alias
    orders.send(sqs, URL, {"order_id": "a", "customerId": "c"})
    assert json.loads(sqs.calls[0][1]["MessageBody"]) == {"order_id": "a", "customerId": "c"}


def test_own_attributes_are_kept_but_may_not_contradict_the_version() -> None:
    orders = Component("ingest").writes("orders", 1, OrderV1)
    sqs = FakeSQS()
    trace = {"trace": {"DataType": "String", "StringValue": "t-1"}}
    orders.send(sqs, URL, OrderV1(order_id="a", customer="c"), MessageAttributes=trace)
    assert set(sqs.calls[0][1]["MessageAttributes"]) == {"trace", "schema_version"}
    wrong = {"schema_version": {"DataType": "Number", "StringValue": "2"}}
    with pytest.raises(WrongMessageError, match="schema_version='2'"):
        orders.send(sqs, URL, OrderV1(order_id="a", customer="c"), MessageAttributes=wrong)


def test_send_message_batch_chunks_by_ten_and_stamps_every_entry() -> None:
    orders = Component("ingest").writes("orders", 1, OrderV1)
    sqs = FakeSQS(fail_ids=frozenset({"12"}))
    messages = [OrderV1(order_id=f"o-{i}", customer="c") for i in range(23)]
    result = orders.send_batch(sqs, URL, messages, MessageGroupId="g")
    sizes = [len(kwargs["Entries"]) for _, kwargs in sqs.calls]
    assert sizes == [10, 10, 3]
    entries = [e for _, kwargs in sqs.calls for e in kwargs["Entries"]]
    assert [e["Id"] for e in entries] == [str(i) for i in range(23)]
    assert all(
        e["MessageAttributes"] == {"schema_version": {"DataType": "Number", "StringValue": "1"}}
        and e["MessageGroupId"] == "g"
        for e in entries
    )
    assert len(result["Successful"]) == 22
    assert [f["Id"] for f in result["Failed"]] == ["12"]


def test_sns_publish_stamps_a_message_attribute() -> None:
    orders = Component("ingest").writes("orders", 2, OrderV2)
    sns = FakeSNS()
    orders.publish(sns, TOPIC, {"order_id": "a", "customerId": "c"}, Subject="order")
    assert sns.calls == [
        {
            "TopicArn": TOPIC,
            "Message": '{"order_id":"a","customerId":"c"}',
            "MessageAttributes": {"schema_version": {"DataType": "Number", "StringValue": "2"}},
            "Subject": "order",
        }
    ]


def test_stamp_body_puts_the_version_in_the_payload_too() -> None:
    orders = Component("ingest").writes("orders", 1, OrderV1, stamp_body=True)
    body = orders.body(OrderV1(order_id="a", customer="c"))
    assert json.loads(body) == {"order_id": "a", "customer": "c", "schema_version": 1}


# -- round trips: what was sent is what the consumer dispatches on ---------------------------------


def consumer() -> tuple[Component, list[BaseModel]]:
    enrich = Component("enrich")
    seen: list[BaseModel] = []
    enrich.reads("orders", 1, OrderV1)(seen.append)
    enrich.reads("orders", 2, OrderV2)(seen.append)
    return enrich, seen


def test_batch_sent_by_two_producer_versions_is_dispatched_by_version() -> None:
    old = Component("ingest").writes("orders", 1, OrderV1)
    new = Component("ingest").writes("orders", 2, OrderV2)
    sqs = FakeSQS()
    old.send_batch(sqs, URL, [OrderV1(order_id="a", customer="c")])
    new.send(sqs, URL, {"order_id": "b", "customerId": "d"})
    entries = [
        sqs.calls[0][1]["Entries"][0],
        {k: v for k, v in sqs.calls[1][1].items() if k != "QueueUrl"},
    ]
    event = sqs_event([delivered(e, f"m{i}") for i, e in enumerate(entries)])
    SqsModel.model_validate(event)  # what Powertools' parser accepts
    enrich, seen = consumer()
    assert enrich.handle(event) == {"batchItemFailures": []}
    assert seen == [OrderV1(order_id="a", customer="c"), OrderV2(order_id="b", customerId="d")]


def test_sns_published_message_is_read_with_and_without_raw_delivery() -> None:
    orders = Component("ingest").writes("orders", 2, OrderV2)
    sns = FakeSNS()
    orders.publish(sns, TOPIC, {"order_id": "a", "customerId": "c"})
    (call,) = sns.calls
    value = call["MessageAttributes"]["schema_version"]
    wrapped = sns_body(
        call["Message"], {"schema_version": (value["DataType"], value["StringValue"])}
    )
    raw = delivered(
        {"MessageBody": call["Message"], "MessageAttributes": call["MessageAttributes"]}, "r"
    )
    enrich, seen = consumer()
    assert enrich.handle(sqs_event([sqs_record(wrapped), raw])) == {"batchItemFailures": []}
    assert seen == [OrderV2(order_id="a", customerId="c")] * 2
