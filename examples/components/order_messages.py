"""The messages of the example: `orders` in schema versions 1 and 2, `enriched` in version 1.

Shared by the example's Lambdas (in a real system: a small package vendored into each function,
beside `orchestrator/contracts/`). Schema 2 renames `customer` to `customer_id` and adds a required
`currency`: neither backward nor forward compatible (`rollout schema-check
order_messages:OrderV1 order_messages:OrderV2` from this directory says so, field by field), so
enrich@18 reads both versions (an upgrade 1 -> 2) before ingest@43 starts writing 2.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class OrderLine(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int = Field(ge=1)
    unit_price_cents: int = Field(ge=0)


class OrderV1(BaseModel):
    """`orders` schema 1 (ingest@42)."""

    order_id: str
    customer: str
    lines: list[OrderLine] = Field(min_length=1)


class OrderV2(BaseModel):
    """`orders` schema 2 (ingest@43): `customer` is now `customer_id`, and `currency` is new."""

    order_id: str
    customer_id: str
    currency: Literal["GBP", "EUR", "USD"]
    lines: list[OrderLine] = Field(min_length=1)
    channel: Literal["web", "store"] = "web"


class EnrichedOrderV1(BaseModel):
    """`enriched` schema 1 (enrich@17 and enrich@18)."""

    order_id: str
    customer_id: str
    currency: str
    total_cents: int
    line_count: int
    priority: bool
