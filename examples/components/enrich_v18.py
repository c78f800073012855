"""enrich@18: reads `orders` schemas 1 and 2 (schema 1 through an upgrade), writes `enriched` 1.

The v17 code path is kept as a migration: `v1_to_v2` turns a schema-1 order into a schema-2 one
(`customer` -> `customer_id`, the currency every v1 order was in), so one handler serves both and
messages ingest@42 left in the queue are still read after ingest@43 starts writing schema 2.
`rollout declare examples/components/enrich_v18.py` prints
`to: {reads: {orders: [1, 2]}, writes: {enriched: 1}}`.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from order_messages import EnrichedOrderV1, OrderV1, OrderV2

from orchestrator.contracts import Component

enrich = Component("enrich")
enriched = enrich.writes("enriched", 1, EnrichedOrderV1)

PRIORITY_CENTS = 10_000


@cache
def sqs() -> Any:
    import boto3

    return boto3.client("sqs")


@enrich.upgrade("orders", 1, OrderV1, to=2)
def v1_to_v2(order: OrderV1) -> OrderV2:
    return OrderV2(
        order_id=order.order_id,
        customer_id=order.customer,
        currency="GBP",
        lines=order.lines,
    )


@enrich.reads("orders", 2, OrderV2)
def handle(order: OrderV2) -> None:
    total = sum(line.quantity * line.unit_price_cents for line in order.lines)
    message = EnrichedOrderV1(
        order_id=order.order_id,
        customer_id=order.customer_id,
        currency=order.currency,
        total_cents=total,
        line_count=len(order.lines),
        priority=total >= PRIORITY_CENTS or order.channel == "store",
    )
    enriched.send(sqs(), os.environ["ENRICHED_QUEUE_URL"], message)


handler = enrich.lambda_handler
