"""ingest@43: the same entry point, now writing `orders` schema 2 (`customer_id`, `currency`).

`rollout declare examples/components/ingest_v43.py` prints `to: {writes: {orders: 2}}`.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from order_messages import OrderV2

from orchestrator.contracts import Component

ingest = Component("ingest")
orders = ingest.writes("orders", 2, OrderV2)


@cache
def sqs() -> Any:
    """The SQS client, created on the first call (never at import time)."""
    import boto3

    return boto3.client("sqs")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """`{"orders": [OrderV2, ...]}` -> one `SendMessageBatch` per ten, each stamped schema 2."""
    result = orders.send_batch(sqs(), os.environ["ORDERS_QUEUE_URL"], event.get("orders", []))
    return {"sent": len(result["Successful"]), "failed": result["Failed"]}
