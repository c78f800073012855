"""The schema check on pairs of models with each kind of change (and on JSON Schema documents).

``backward``: a reader of NEW parses data written as OLD; ``forward``: a reader of OLD parses data
written as NEW. Each pair below differs in one way; the change, its two flags and the mode are what
a Schema Registry would say under pydantic's reading rule (extra fields ignored unless forbidden).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.contracts.compat import compare_models, compare_schemas


def only(old: Any, new: Any) -> tuple[str, str, bool, bool, str]:
    """(mode, change, backward, forward, field) of a pair that differs in exactly one way."""
    result = compare_models(old, new)
    assert len(result.changes) == 1, result.changes
    (change,) = result.changes
    return result.mode, change.change, change.backward, change.forward, change.field


class Base(BaseModel):
    order_id: str
    total: int


def test_identical_models_are_full() -> None:
    result = compare_models(Base, Base)
    assert (result.mode, result.backward, result.forward, result.changes) == (
        "FULL",
        True,
        True,
        [],
    )


def test_added_required_field_breaks_backward_only() -> None:
    class New(Base):
        currency: str

    assert only(Base, New) == ("FORWARD", "added required field", False, True, "currency")


def test_added_field_with_a_default_is_full_unless_old_readers_forbid_extras() -> None:
    class New(Base):
        channel: str = "web"

    assert only(Base, New) == ("FULL", "added optional field", True, True, "channel")

    class Closed(Base):
        model_config = ConfigDict(extra="forbid")

    class ClosedNew(Closed):
        channel: str = "web"

    assert only(Closed, ClosedNew) == ("BACKWARD", "added optional field", True, False, "channel")


def test_removed_required_field_breaks_forward() -> None:
    class Old(Base):
        customer: str

    assert only(Old, Base) == ("BACKWARD", "removed field", True, False, "customer")


def test_removed_optional_field_is_full_unless_the_new_reader_forbids_extras() -> None:
    class Old(Base):
        note: str | None = None

    assert only(Old, Base) == ("FULL", "removed field", True, True, "note")

    class OldClosed(Old):
        model_config = ConfigDict(extra="forbid")

    class NewClosed(Base):
        model_config = ConfigDict(extra="forbid")

    assert only(OldClosed, NewClosed) == ("FORWARD", "removed field", False, True, "note")


def test_type_narrowed_and_widened() -> None:
    class Wide(BaseModel):
        order_id: str
        total: float

    class Narrow(BaseModel):
        order_id: str
        total: int

    assert only(Wide, Narrow) == ("FORWARD", "type narrowed", False, True, "total")
    assert only(Narrow, Wide) == ("BACKWARD", "type widened", True, False, "total")


def test_nullable_removed_is_narrowed_and_constraints_count() -> None:
    class Old(BaseModel):
        sku: str | None
        name: str = Field(max_length=100)

    class New(BaseModel):
        sku: str
        name: str = Field(max_length=50)

    changes = {c.field: c for c in compare_models(Old, New).changes}
    assert changes["sku"].change == "type narrowed"
    assert changes["sku"].detail == "string | null -> string"
    assert (changes["name"].change, changes["name"].detail) == (
        "type narrowed",
        "string(maxLength=100) -> string(maxLength=50)",
    )


def test_type_changed_breaks_both() -> None:
    class Old(BaseModel):
        order_id: str

    class New(BaseModel):
        order_id: int

    assert only(Old, New) == ("NONE", "type changed", False, False, "order_id")


class Status(StrEnum):
    NEW = "new"
    PAID = "paid"
    SHIPPED = "shipped"


class StatusNoShipped(StrEnum):
    NEW = "new"
    PAID = "paid"


def test_enum_value_removed_breaks_backward_and_added_breaks_forward() -> None:
    class Old(BaseModel):
        status: Status

    class New(BaseModel):
        status: StatusNoShipped

    mode, change, backward, forward, field = only(Old, New)
    assert (mode, change, backward, forward, field) == (
        "FORWARD",
        "enum value removed",
        False,
        True,
        "status",
    )
    assert compare_models(Old, New).changes[0].detail == "'shipped'"
    assert only(New, Old) == ("BACKWARD", "enum value added", True, False, "status")


def test_literal_values_compare_like_enums_even_when_optional() -> None:
    class Old(BaseModel):
        currency: Literal["GBP", "EUR"] | None = None

    class New(BaseModel):
        currency: Literal["GBP"] | None = None

    assert only(Old, New) == ("FORWARD", "enum value removed", False, True, "currency")


def test_default_added_and_removed() -> None:
    class Required(BaseModel):
        currency: str

    class Defaulted(BaseModel):
        currency: str = "GBP"

    assert only(Required, Defaulted) == ("BACKWARD", "default added", True, False, "currency")
    assert only(Defaulted, Required) == ("FORWARD", "default removed", False, True, "currency")


def test_default_changed_is_reported_but_breaks_nothing() -> None:
    class Old(BaseModel):
        channel: str = "web"

    class New(BaseModel):
        channel: str = "store"

    assert only(Old, New) == ("FULL", "default changed", True, True, "channel")


def test_nested_models_arrays_and_maps_are_compared_field_by_field() -> None:
    class LineV1(BaseModel):
        sku: str
        quantity: float

    class LineV2(BaseModel):
        sku: str
        quantity: int
        warehouse: str

    class Old(BaseModel):
        lines: list[LineV1]
        address: LineV1
        tags: dict[str, int]

    class New(BaseModel):
        lines: list[LineV2]
        address: LineV2
        tags: dict[str, str]

    changes = sorted((c.field, c.change) for c in compare_models(Old, New).changes)
    assert changes == [
        ("address.quantity", "type narrowed"),
        ("address.warehouse", "added required field"),
        ("lines[].quantity", "type narrowed"),
        ("lines[].warehouse", "added required field"),
        ("tags.*", "type changed"),
    ]


def test_recursive_models_terminate() -> None:
    class Node(BaseModel):
        name: str
        children: list[Node] = []

    class Node2(BaseModel):
        name: str
        children: list[Node2] = []
        weight: int = 1

    result = compare_models(Node, Node2)
    assert [(c.field, c.change) for c in result.changes] == [("weight", "added optional field")]


def test_extra_fields_forbidden_is_reported_without_breaking_by_itself() -> None:
    class Closed(Base):
        model_config = ConfigDict(extra="forbid")

    assert only(Base, Closed) == ("FULL", "extra fields forbidden", True, True, "")


def test_neither_direction_suggests_expand_contract() -> None:
    class OrderV1(BaseModel):
        order_id: str
        customer: str

    class OrderV2(BaseModel):
        order_id: str
        customer_id: str

    result = compare_models(OrderV1, OrderV2)
    assert result.mode == "NONE"
    assert {(c.field, c.change) for c in result.changes} == {
        ("customer_id", "added required field"),
        ("customer", "removed field"),
    }
    advice = " ".join(result.advice())
    assert "Expand/contract" in advice
    assert "handler for OrderV1 and one for OrderV2" in advice
    assert "drained of OrderV1" in advice
    contract = result.contract()
    assert set(contract) >= {"mode", "backward", "forward", "changes"}
    assert all({"field", "change"} <= set(c) for c in contract["changes"])


@pytest.mark.parametrize(
    ("old", "new", "mode"),
    [
        ({"type": "integer"}, {"type": "number"}, "BACKWARD"),
        ({"type": ["string", "null"]}, {"type": "string"}, "FORWARD"),
        ({"enum": ["a", "b"]}, {"type": "string"}, "BACKWARD"),
        ({"type": "string"}, {"type": "string", "format": "date-time"}, "FORWARD"),
        (
            {"type": "array", "items": {"type": "string"}},
            {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "FORWARD",
        ),
        (
            {"type": "array", "items": {"type": "string"}},
            {"type": "array", "minItems": 1},
            "NONE",  # items widened to anything, and at least one item now required
        ),
        ({"type": "string"}, {"not": {"type": "null"}}, "NONE"),
    ],
)
def test_json_schema_documents(old: dict[str, Any], new: dict[str, Any], mode: str) -> None:
    assert compare_schemas(old, new).mode == mode


def test_json_schema_files_with_refs_and_closed_objects() -> None:
    old = {
        "type": "object",
        "properties": {"customer": {"$ref": "#/$defs/Customer"}},
        "required": ["customer"],
        "$defs": {
            "Customer": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "email": {"type": "string"}},
                "required": ["id"],
                "additionalProperties": False,
            }
        },
    }
    new = {
        "type": "object",
        "properties": {"customer": {"$ref": "#/definitions/C"}},
        "required": ["customer"],
        "definitions": {
            "C": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "tier": {"type": "integer"}},
                "required": ["id"],
                "additionalProperties": False,
            }
        },
    }
    result = compare_schemas(old, new)
    assert sorted((c.field, c.change, c.backward, c.forward) for c in result.changes) == [
        ("customer.email", "removed field", False, True),
        ("customer.tier", "added optional field", True, False),
    ]
    assert result.mode == "NONE"


def test_unions_of_several_models_are_not_claimed_compatible() -> None:
    class A(BaseModel):
        kind: Literal["a"]
        x: int

    class B(BaseModel):
        kind: Literal["b"]
        y: int

    class C(BaseModel):
        kind: Literal["c"]
        z: int

    class Old(BaseModel):
        item: A | B

    class New(BaseModel):
        item: A | C

    assert only(Old, New)[:2] == ("NONE", "changed (not analysed)")
