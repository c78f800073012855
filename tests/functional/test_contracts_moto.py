"""Producer and consumer over moto's SQS and SNS (``mock_aws``): what the writers send, SQS and SNS
deliver, and the consumer dispatches by the stamped version, SNS-wrapped or raw."""

from __future__ import annotations

import json
from typing import Any

import boto3
from pydantic import BaseModel

from orchestrator.contracts import Component
from tests.unit.test_contracts_events import from_received, sqs_event


class OrderV1(BaseModel):
    order_id: str
    customer: str


class OrderV2(BaseModel):
    order_id: str
    customer_id: str


def consumer() -> tuple[Component, list[BaseModel]]:
    enrich = Component("enrich")
    seen: list[BaseModel] = []
    enrich.reads("orders", 2, OrderV2)(seen.append)

    @enrich.upgrade("orders", 1, OrderV1, to=2)
    def upgrade(order: OrderV1) -> OrderV2:
        return OrderV2(order_id=order.order_id, customer_id=order.customer)

    return enrich, seen


def receive_all(sqs: Any, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for _ in range(10):
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            break
        out.extend(batch)
    return out


def test_sqs_send_and_batch_are_read_by_version(aws: None) -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    old = Component("ingest").writes("orders", 1, OrderV1)
    new = Component("ingest").writes("orders", 2, OrderV2)
    old.send(sqs, url, OrderV1(order_id="a", customer="c-1"))
    result = new.send_batch(
        sqs, url, [OrderV2(order_id=f"b{i}", customer_id="c-2") for i in range(12)]
    )
    assert len(result["Successful"]) == 12
    assert result["Failed"] == []
    messages = receive_all(sqs, url)
    assert len(messages) == 13
    stamped = sorted(m["MessageAttributes"]["schema_version"]["StringValue"] for m in messages)
    assert stamped == ["1"] + ["2"] * 12
    enrich, seen = consumer()
    event = sqs_event([from_received(m, "orders") for m in messages])
    assert enrich.handle(event) == {"batchItemFailures": []}
    assert OrderV2(order_id="a", customer_id="c-1") in seen
    assert len(seen) == 13


def test_sns_publish_reaches_the_consumer_with_and_without_raw_delivery(aws: None) -> None:
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    topic = sns.create_topic(Name="orders-topic")["TopicArn"]
    urls = {}
    for name, raw in (("orders", "false"), ("orders-raw", "true")):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": raw},
        )
        urls[name] = url
    writer = Component("ingest").writes("orders", 2, OrderV2)
    writer.publish(sns, topic, OrderV2(order_id="a", customer_id="c"))

    (wrapped,) = receive_all(sqs, urls["orders"])
    assert json.loads(wrapped["Body"])["Type"] == "Notification"
    assert "MessageAttributes" not in wrapped  # the version rides inside the notification
    (raw,) = receive_all(sqs, urls["orders-raw"])
    assert raw["MessageAttributes"]["schema_version"]["StringValue"] == "2"

    enrich, seen = consumer()
    event = sqs_event([from_received(wrapped, "orders"), from_received(raw, "orders")])
    assert enrich.handle(event) == {"batchItemFailures": []}
    assert seen == [OrderV2(order_id="a", customer_id="c")] * 2
