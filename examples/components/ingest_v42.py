"""ingest@42: takes a batch of orders (an API's or a schedule's event) and writes `orders` schema 1.

Lambda handler `ingest_v42.handler`; settings from the environment at the edge:
`ORDERS_QUEUE_URL`. `rollout declare examples/components/ingest_v42.py` prints
`to: {writes: {orders: 1}}`.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from order_messages import OrderV1

from orchestrator.contracts import Component

ingest = Component("ingest")
orders = ingest.writes("orders", 1, OrderV1)


@cache
def sqs() -> Any:
    """The SQS client, created on the first call (never at import time)."""
    import boto3

    return boto3.client("sqs")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """`{"orders": [OrderV1, ...]}` -> one `SendMessageBatch` per ten, each stamped schema 1."""
    result = orders.send_batch(sqs(), os.environ["ORDERS_QUEUE_URL"], event.get("orders", []))
    return {"sent": len(result["Successful"]), "failed": result["Failed"]}
