"""enrich@17: reads `orders` schema 1 only, writes `enriched` schema 1.

Lambda handler `enrich_v17.handler` behind an SQS event source mapping with
`ReportBatchItemFailures`; settings: `ENRICHED_QUEUE_URL`. A schema-2 message is not read: it is
reported as a batch item failure (and counted `MessagesUnreadable`), retried, then dead-lettered.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from order_messages import EnrichedOrderV1, OrderV1

from orchestrator.contracts import Component

enrich = Component("enrich")
enriched = enrich.writes("enriched", 1, EnrichedOrderV1)

PRIORITY_CENTS = 10_000


@cache
def sqs() -> Any:
    import boto3

    return boto3.client("sqs")


@enrich.reads("orders", 1, OrderV1)
def handle(order: OrderV1) -> None:
    total = sum(line.quantity * line.unit_price_cents for line in order.lines)
    message = EnrichedOrderV1(
        order_id=order.order_id,
        customer_id=order.customer,
        currency="GBP",
        total_cents=total,
        line_count=len(order.lines),
        priority=total >= PRIORITY_CENTS,
    )
    enriched.send(sqs(), os.environ["ENRICHED_QUEUE_URL"], message)


handler = enrich.lambda_handler
