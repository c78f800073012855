"""The simulated queues' real state in the emulated account (moto's SQS), and its ledger.

Backlog messages and dead letters are real SQS messages carrying a ``schema`` message attribute;
the live traffic stays virtual (``traffic_model``). :class:`SimulatedQueues` creates the queues,
sends, receives and deletes in batches of 10, and keeps per queue a :class:`LedgerEntry` of the
real messages it created and what became of them, which :meth:`SimulatedQueues.mismatches`
checks against the queue's own counts.

Queue URLs: moto's server finds a queue by the last segment of ``QueueUrl`` and takes account and
region from the request, so the manifest's AWS URLs reach the emulated queue as they are; the
URLs kept here are moto's own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import EnvironmentProblemError

__all__ = ["SCHEMA_ATTRIBUTE", "LedgerEntry", "Received", "SimulatedQueues"]

Schema = int | str
SCHEMA_ATTRIBUTE = "schema"
SQS_BATCH = 10
MAX_RECEIVE_COUNT = 5


@dataclass
class LedgerEntry:
    """Real SQS messages the simulator created in one queue, and what became of them.

    ``unreadable`` is the exception: it counts *deliveries* (of the virtual live traffic and of
    real backlog messages alike) of a schema the receiving version does not declare reading.
    """

    sent: int = 0
    consumed: int = 0
    dead_lettered: int = 0
    unreadable: int = 0

    @property
    def queued(self) -> int:
        return self.sent - self.consumed - self.dead_lettered

    def as_dict(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "consumed": self.consumed,
            "queued": self.queued,
            "dead_lettered": self.dead_lettered,
            "unreadable": self.unreadable,
        }


@dataclass
class Received:
    receipt: str
    body: str
    schema: Schema


def schema_of(value: str) -> Schema:
    text = value.strip()
    return int(text) if text.isdigit() else text


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for offset in range(0, len(items), size):
        yield items[offset : offset + size]


class SimulatedQueues:
    """Queues by SQS name in the emulated account; ``sqs`` returns the (shared) SQS client."""

    def __init__(self, sqs: Callable[[], Any], seed: int = 0) -> None:
        self._sqs = sqs
        self.seed = seed
        """Written into every message body (reproducibility records)."""
        self.urls: dict[str, str] = {}  # SQS queue name -> moto's URL
        self.ledger: dict[str, LedgerEntry] = {}
        self._sequence = 0

    def create(self, name: str) -> str:
        """Create queue ``name`` (once); returns moto's URL."""
        if name not in self.urls:
            url = self._sqs().create_queue(QueueName=name)["QueueUrl"]
            self.urls[name] = str(url)
            self.ledger.setdefault(name, LedgerEntry())
        return self.urls[name]

    def create_with_dlq(self, name: str, dlq_name: str | None) -> str:
        """Create ``name`` and, when given, its dead-letter queue (``RedrivePolicy`` set)."""
        sqs = self._sqs()
        attributes: dict[str, str] = {}
        if dlq_name is not None:
            dlq_url = self.create(dlq_name)
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
            )
        url = self.create(name)
        if attributes:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        return url

    def send(self, queue: str, schema: Schema, count: int, *, origin: str) -> None:
        """``count`` new messages of ``schema`` (their body names where they come from)."""
        bodies = []
        for _ in range(count):
            self._sequence += 1
            body = json.dumps(
                {"origin": origin, "schema": schema, "seq": self._sequence, "seed": self.seed}
            )
            bodies.append((body, schema))
        self.send_bodies(queue, bodies)

    def send_bodies(self, queue: str, bodies: list[tuple[str, Schema]]) -> None:
        sqs = self._sqs()
        url = self.urls[queue]
        for chunk in chunks(bodies, SQS_BATCH):
            answer = sqs.send_message_batch(
                QueueUrl=url,
                Entries=[
                    {
                        "Id": str(i),
                        "MessageBody": body,
                        "MessageAttributes": {
                            SCHEMA_ATTRIBUTE: {"DataType": "String", "StringValue": str(schema)}
                        },
                    }
                    for i, (body, schema) in enumerate(chunk)
                ],
            )
            if answer.get("Failed"):
                raise EnvironmentProblemError(
                    f"SendMessageBatch to {queue} failed: {answer['Failed']}"
                )
            self.ledger[queue].sent += len(chunk)

    def receive(self, queue: str, count: int) -> list[Received]:
        """Up to ``count`` messages (fewer when the queue has no more), kept invisible 600 s."""
        sqs = self._sqs()
        url = self.urls[queue]
        out: list[Received] = []
        while len(out) < count:
            answer = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(SQS_BATCH, count - len(out)),
                MessageAttributeNames=[SCHEMA_ATTRIBUTE],
                VisibilityTimeout=600,
                WaitTimeSeconds=0,
            )
            messages = answer.get("Messages", [])
            if not messages:
                break
            for message in messages:
                attribute = message.get("MessageAttributes", {}).get(SCHEMA_ATTRIBUTE, {})
                out.append(
                    Received(
                        receipt=message["ReceiptHandle"],
                        body=message["Body"],
                        schema=schema_of(str(attribute.get("StringValue", ""))),
                    )
                )
        return out

    def delete(self, queue: str, receipts: list[str]) -> None:
        sqs = self._sqs()
        url = self.urls[queue]
        for chunk in chunks(receipts, SQS_BATCH):
            answer = sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(chunk)],
            )
            if answer.get("Failed"):
                raise EnvironmentProblemError(
                    f"DeleteMessageBatch on {queue} failed: {answer['Failed']}"
                )

    def mismatches(self) -> dict[str, tuple[int, int]]:
        """Queues whose real message count differs from the ledger: name -> (ledger, real)."""
        out: dict[str, tuple[int, int]] = {}
        sqs = self._sqs()
        for name, entry in sorted(self.ledger.items()):
            attributes = sqs.get_queue_attributes(
                QueueUrl=self.urls[name],
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            real = sum(int(v) for v in attributes.values())
            if real != entry.queued:
                out[name] = (entry.queued, real)
        return out
