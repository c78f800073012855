"""``MessageMover`` for the emulated account: moto does not implement ``StartMessageMoveTask``.

It does what SQS's move task does server-side: receive from the dead-letter queue, send each
message (body and attributes) to the destination, and only then delete it from the dead-letter
queue, so a message is never lost (at worst duplicated, as with SQS). Only the embedded engine uses
it; against AWS the orchestrator uses ``orchestrator.aws.message_mover.SqsMessageMover``.
"""

from __future__ import annotations

from typing import Any


class EmulatedMessageMover:
    def __init__(self, sqs_client: Any) -> None:
        self._sqs = sqs_client

    def move(self, dlq_url: str, destination_url: str) -> dict[str, object]:
        moved = 0
        while True:
            received = self._sqs.receive_message(
                QueueUrl=dlq_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                VisibilityTimeout=60,
                WaitTimeSeconds=0,
            )
            messages = received.get("Messages", [])
            if not messages:
                return {"task_handle": "emulated", "moved": moved}
            entries = []
            for index, message in enumerate(messages):
                entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
                if message.get("MessageAttributes"):
                    entry["MessageAttributes"] = message["MessageAttributes"]
                entries.append(entry)
            sent = self._sqs.send_message_batch(QueueUrl=destination_url, Entries=entries)
            if sent.get("Failed"):
                raise RuntimeError(f"could not move messages: {sent['Failed']}")
            self._sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
            moved += len(messages)
