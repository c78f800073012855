"""Dispatch by schema version: handlers, upgrade chains, failures as batch item failures.

Every event is a Lambda SQS event Powertools parses (tests/unit/test_contracts_events.py); the
outcome is read off the handler's public answer (``batchItemFailures``), the exceptions Powertools
logs through the component's logger, and the EMF documents the batch prints.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from pydantic import BaseModel, ConfigDict

from orchestrator.contracts import (
    Component,
    Delivery,
    MessageValidationError,
    MissingSchemaVersionError,
    RegistrationError,
    UnknownQueueError,
    UnknownSchemaVersionError,
    UpgradeError,
)
from orchestrator.contracts.metrics import parse_emf
from tests.unit.test_contracts_events import (
    Context,
    eventbridge_body,
    sns_body,
    sqs_event,
    sqs_record,
)


class OrderV1(BaseModel):
    order_id: str
    customer: str


class OrderV2(BaseModel):
    order_id: str
    customer_id: str


class OrderV3(BaseModel):
    order_id: str
    customer_id: str
    currency: Literal["GBP", "EUR"]


class StrictOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: str


class VersionedOrder(BaseModel):
    order_id: str
    schema_version: int


def failures(response: Any) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def counts(output: str) -> dict[tuple[str, str], dict[str, float]]:
    """(queue, schema) -> metric -> count, from the EMF documents printed."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    for doc in parse_emf(output):
        key = (doc["Queue"], doc["SchemaVersion"])
        out[key] = {
            name: sum(doc[name])
            for name in ("MessagesProcessed", "MessagesFailed", "MessagesUnreadable")
        }
    return out


class Logged(logging.Handler):
    """Collects the exceptions Powertools logs for failed records."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.errors.append(record.exc_info[1])


@pytest.fixture
def logged() -> Logged:
    return Logged()


def component(logged: Logged | None = None, **options: Any) -> Component:
    logger = logging.getLogger(f"contracts-test-{id(options)}")
    logger.propagate = False
    if logged is not None:
        logger.handlers = [logged]
    return Component("enrich", logger=logger, **options)


# -- the right handler per version -----------------------------------------------------------------


def test_each_version_reaches_its_own_handler(capsys: pytest.CaptureFixture[str]) -> None:
    comp = component()
    seen: list[tuple[str, BaseModel]] = []

    @comp.reads("orders", 1, OrderV1)
    def v1(order: OrderV1) -> None:
        seen.append(("v1", order))

    @comp.reads("orders", 2, OrderV2)
    def v2(order: OrderV2) -> None:
        seen.append(("v2", order))

    response = comp.handle(
        sqs_event(
            [
                sqs_record({"order_id": "a", "customer": "c-1"}, schema=1),
                sqs_record({"order_id": "b", "customer_id": "c-2"}, schema=2),
            ]
        ),
        Context(),
    )
    assert failures(response) == []
    assert seen == [
        ("v1", OrderV1(order_id="a", customer="c-1")),
        ("v2", OrderV2(order_id="b", customer_id="c-2")),
    ]
    assert counts(capsys.readouterr().out) == {
        ("orders", "1"): {"MessagesProcessed": 1, "MessagesFailed": 0, "MessagesUnreadable": 0},
        ("orders", "2"): {"MessagesProcessed": 1, "MessagesFailed": 0, "MessagesUnreadable": 0},
    }
    assert comp.read_schemas("orders") == [1, 2]


def test_a_string_version_attribute_is_normalised_like_the_manifest() -> None:
    comp = component()
    seen: list[BaseModel] = []
    comp.reads("orders", "2", OrderV2)(seen.append)
    comp.reads("orders", "v3", OrderV3)(seen.append)
    response = comp.handle(
        sqs_event(
            [
                sqs_record({"order_id": "a", "customer_id": "c"}, schema="2"),
                sqs_record({"order_id": "b", "customer_id": "c", "currency": "EUR"}, schema="v3"),
            ]
        )
    )
    assert failures(response) == []
    assert [type(m) for m in seen] == [OrderV2, OrderV3]
    assert comp.read_schemas("orders") == [2, "v3"]


# -- upgrade chains --------------------------------------------------------------------------------


def test_upgrade_chain_serves_every_old_version_with_the_newest_handler() -> None:
    comp = component()
    seen: list[tuple[OrderV3, Delivery]] = []

    @comp.upgrade("orders", 1, OrderV1, to=2)
    def one_to_two(order: OrderV1) -> OrderV2:
        return OrderV2(order_id=order.order_id, customer_id=order.customer)

    @comp.upgrade("orders", 2, OrderV2, to=3)
    def two_to_three(order: OrderV2) -> dict[str, Any]:  # data the target model validates
        return {**order.model_dump(), "currency": "GBP"}

    @comp.reads("orders", 3, OrderV3)
    def handle(order: OrderV3, delivery: Delivery) -> None:
        seen.append((order, delivery))

    response = comp.handle(
        sqs_event(
            [
                sqs_record({"order_id": "a", "customer": "c-1"}, schema=1, message_id="m1"),
                sqs_record({"order_id": "b", "customer_id": "c-2"}, schema=2, receive_count=3),
                sqs_record({"order_id": "c", "customer_id": "c-3", "currency": "EUR"}, schema=3),
            ]
        )
    )
    assert failures(response) == []
    assert [o for o, _ in seen] == [
        OrderV3(order_id="a", customer_id="c-1", currency="GBP"),
        OrderV3(order_id="b", customer_id="c-2", currency="GBP"),
        OrderV3(order_id="c", customer_id="c-3", currency="EUR"),
    ]
    assert [d.path for _, d in seen] == [(1, 2, 3), (2, 3), (3,)]
    first, second, _ = (d for _, d in seen)
    assert (first.schema, first.handled_as, first.message_id, first.queue) == (1, 3, "m1", "orders")
    assert second.attempt == 3
    assert comp.route("orders", 1) == (1, 2, 3)
    assert comp.read_schemas("orders") == [1, 2, 3]
    assert comp.problems() == []


def test_an_upgrade_that_raises_fails_the_message_with_upgrade_error(
    logged: Logged, capsys: pytest.CaptureFixture[str]
) -> None:
    comp = component(logged)

    @comp.upgrade("orders", 1, OrderV1, to=2)
    def broken(order: OrderV1) -> OrderV2:
        raise KeyError("customer")

    comp.reads("orders", 2, OrderV2)(lambda order: None)
    event = sqs_event(
        [
            sqs_record({"order_id": "a", "customer": "c"}, schema=1, message_id="bad"),
            sqs_record({"order_id": "b", "customer_id": "c"}, schema=2, message_id="good"),
        ]
    )
    assert failures(comp.handle(event)) == ["bad"]
    assert [type(e) for e in logged.errors] == [UpgradeError]
    assert "broken" in str(logged.errors[0])
    assert counts(capsys.readouterr().out)[("orders", "1")]["MessagesFailed"] == 1


def test_an_upgrade_returning_the_wrong_shape_is_an_upgrade_error(logged: Logged) -> None:
    comp = component(logged, raise_on_entire_batch_failure=False)
    comp.upgrade("orders", 1, OrderV1, to=2)(lambda order: {"order_id": order.order_id})
    comp.reads("orders", 2, OrderV2)(lambda order: None)
    event = sqs_event([sqs_record({"order_id": "a", "customer": "c"}, schema=1, message_id="x")])
    assert failures(comp.handle(event)) == ["x"]
    assert isinstance(logged.errors[0], UpgradeError)
    assert "customer_id" in str(logged.errors[0])


def test_upgrade_cycles_and_dangling_upgrades_serve_nothing() -> None:
    comp = component()
    comp.upgrade("orders", 1, OrderV1, to=2)(lambda o: o)
    comp.upgrade("orders", 2, OrderV2, to=1)(lambda o: o)
    comp.upgrade("orders", 5, OrderV1, to=6)(lambda o: o)
    assert comp.route("orders", 1) is None
    assert comp.read_schemas("orders") == []
    problems = comp.problems()
    assert len(problems) == 3
    assert "orders schema 5 to 6" in problems[2]
    assert "reaches no handler" in problems[2]


# -- failures are batch item failures, never drops -------------------------------------------------


def test_a_validation_failure_fails_only_that_message(
    logged: Logged, capsys: pytest.CaptureFixture[str]
) -> None:
    comp = component(logged)
    handled: list[str] = []
    comp.reads("orders", 2, OrderV2)(lambda order: handled.append(order.order_id))
    response = comp.handle(
        sqs_event(
            [
                sqs_record({"order_id": "a"}, schema=2, message_id="invalid"),
                sqs_record("not json at all", schema=2, message_id="garbage"),
                sqs_record({"order_id": "b", "customer_id": "c"}, schema=2, message_id="ok"),
            ]
        ),
        Context(),
    )
    assert failures(response) == ["invalid", "garbage"]
    assert handled == ["b"]
    assert [type(e) for e in logged.errors] == [MessageValidationError] * 2
    assert "customer_id" in str(logged.errors[0])
    assert "not a valid OrderV2" in str(logged.errors[0])
    assert counts(capsys.readouterr().out) == {
        ("orders", "2"): {"MessagesProcessed": 1, "MessagesFailed": 2, "MessagesUnreadable": 0}
    }


def test_an_unknown_version_is_a_batch_item_failure_and_counted_unreadable(
    logged: Logged, capsys: pytest.CaptureFixture[str]
) -> None:
    comp = component(logged)
    handled: list[str] = []
    comp.reads("orders", 1, OrderV1)(lambda order: handled.append(order.order_id))
    comp.upgrade("orders", 0, OrderV1, to=1)(lambda order: order)
    response = comp.handle(
        sqs_event(
            [
                sqs_record({"order_id": "a", "customer": "c"}, schema=1, message_id="one"),
                sqs_record({"order_id": "b", "customer_id": "c"}, schema=3, message_id="three"),
            ]
        ),
        Context(version="17"),
    )
    assert failures(response) == ["three"]  # retried, then dead-lettered: never acknowledged
    assert handled == ["a"]
    (error,) = logged.errors
    assert isinstance(error, UnknownSchemaVersionError)
    assert (error.component, error.queue, error.schema, error.readable) == (
        "enrich",
        "orders",
        3,
        (0, 1),
    )
    assert "does not read orders schema 3 (it reads 0, 1)" in str(error)
    docs = parse_emf(capsys.readouterr().out)
    (three,) = [d for d in docs if d["SchemaVersion"] == "3"]
    assert three["MessagesUnreadable"] == [1.0]
    assert three["MessagesProcessed"] == [0.0]
    assert three["ExecutedVersion"] == "17"


def test_a_batch_of_only_unreadable_messages_raises_so_lambda_counts_an_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    comp = component()
    comp.reads("orders", 1, OrderV1)(lambda order: None)
    event = sqs_event([sqs_record({"order_id": "a"}, schema=2) for _ in range(2)])
    with pytest.raises(BatchProcessingError):
        comp.handle(event)
    # the metrics of the failed batch are still printed
    assert counts(capsys.readouterr().out)[("orders", "2")]["MessagesUnreadable"] == 2

    lenient = component(raise_on_entire_batch_failure=False)
    lenient.reads("orders", 1, OrderV1)(lambda order: None)
    assert len(failures(lenient.handle(event))) == 2


def test_a_message_without_a_version_is_unreadable(
    logged: Logged, capsys: pytest.CaptureFixture[str]
) -> None:
    comp = component(logged)
    comp.reads("orders", 1, OrderV1)(lambda order: None)
    comp.reads("orders", 2, OrderV2)(lambda order: None)
    response = comp.handle(
        sqs_event(
            [
                sqs_record({"order_id": "a", "customer": "c"}, message_id="bare"),
                sqs_record({"order_id": "a", "customer": "c"}, schema=1),
            ]
        )
    )
    assert failures(response) == ["bare"]
    assert isinstance(logged.errors[0], MissingSchemaVersionError)
    assert "'schema_version' message attribute" in str(logged.errors[0])
    assert counts(capsys.readouterr().out)[("orders", "missing")]["MessagesUnreadable"] == 1


def test_a_handler_error_fails_the_message_as_is(logged: Logged) -> None:
    comp = component(logged)

    @comp.reads("orders", 1, OrderV1)
    def handle(order: OrderV1) -> None:
        if order.order_id == "boom":
            raise RuntimeError("downstream unavailable")

    event = sqs_event(
        [
            sqs_record({"order_id": "boom", "customer": "c"}, schema=1, message_id="boom"),
            sqs_record({"order_id": "fine", "customer": "c"}, schema=1),
        ]
    )
    assert failures(comp.handle(event)) == ["boom"]
    assert [type(e) for e in logged.errors] == [RuntimeError]


# -- where the version comes from ------------------------------------------------------------------


def test_the_envelope_field_is_the_fallback_and_is_dropped_for_models_that_forbid_extras() -> None:
    comp = component()
    seen: list[BaseModel] = []
    comp.reads("orders", 1, StrictOrder)(seen.append)
    comp.reads("orders", 2, VersionedOrder)(seen.append)
    response = comp.handle(
        sqs_event(
            [
                sqs_record({"order_id": "a", "schema_version": 1}),
                sqs_record({"order_id": "b", "schema_version": "2"}),
            ]
        )
    )
    assert failures(response) == []
    assert seen == [StrictOrder(order_id="a"), VersionedOrder(order_id="b", schema_version=2)]


def test_the_attribute_wins_over_the_field_and_names_are_configurable() -> None:
    comp = component(version_attribute="contract", version_field="v")
    seen: list[BaseModel] = []
    comp.reads("orders", 1, OrderV1)(seen.append)
    comp.reads("orders", 2, OrderV2)(seen.append)
    response = comp.handle(
        sqs_event(
            [
                sqs_record(
                    {"order_id": "a", "customer_id": "c", "v": 1}, schema=2, attribute="contract"
                ),
                sqs_record({"order_id": "b", "customer": "c", "v": 1}),
            ]
        )
    )
    assert failures(response) == []
    assert [type(m) for m in seen] == [OrderV2, OrderV1]


def test_without_a_version_field_only_the_attribute_counts(logged: Logged) -> None:
    comp = component(logged, version_field=None)
    comp.reads("orders", 1, OrderV1)(lambda order: None)
    event = sqs_event([sqs_record({"order_id": "a", "customer": "c", "schema_version": 1})])
    with pytest.raises(BatchProcessingError):
        comp.handle(event)
    assert isinstance(logged.errors[0], MissingSchemaVersionError)


# -- envelopes -------------------------------------------------------------------------------------


def test_sns_wrapped_bodies_are_unwrapped_with_the_publishers_attribute() -> None:
    comp = component()
    seen: list[BaseModel] = []
    comp.reads("orders", 2, OrderV2)(seen.append)
    comp.reads("orders", 1, OrderV1)(seen.append)
    order = {"order_id": "a", "customer_id": "c"}
    response = comp.handle(
        sqs_event(
            [
                # SNS -> SQS without raw delivery: the attribute rides in the notification
                sqs_record(sns_body(order, {"schema_version": ("Number", "2")})),
                # with raw delivery: SNS copies the attribute onto the SQS message
                sqs_record(order, schema=2),
                # the body field inside the notification's message, as a last resort
                sqs_record(sns_body({"order_id": "b", "customer": "c", "schema_version": 1})),
            ]
        )
    )
    assert failures(response) == []
    assert seen == [OrderV2(**order), OrderV2(**order), OrderV1(order_id="b", customer="c")]


def test_eventbridge_wrapped_bodies_are_unwrapped_to_their_detail() -> None:
    comp = component()
    seen: list[BaseModel] = []
    comp.reads("orders", 2, OrderV2)(seen.append)
    response = comp.handle(
        sqs_event(
            [
                sqs_record(
                    eventbridge_body({"order_id": "a", "customer_id": "c", "schema_version": 2})
                )
            ]
        )
    )
    assert failures(response) == []
    assert seen == [OrderV2(order_id="a", customer_id="c")]


def test_a_configured_envelope_that_does_not_match_fails_the_message(logged: Logged) -> None:
    comp = component(logged, envelope={"orders": "sns"})
    comp.reads("orders", 2, OrderV2)(lambda order: None)
    comp.reads("orders", 1, OrderV1)(lambda order: None)
    event = sqs_event(
        [
            sqs_record({"order_id": "a", "customer_id": "c"}, schema=2, message_id="plain"),
            sqs_record(sns_body({"order_id": "a", "customer_id": "c"}), schema=2),
        ]
    )
    assert failures(comp.handle(event)) == ["plain"]
    assert isinstance(logged.errors[0], MessageValidationError)
    assert "not an SNS notification" in str(logged.errors[0])


def test_a_plain_json_body_is_not_mistaken_for_an_envelope() -> None:
    comp = component(envelope="none")
    seen: list[Any] = []

    class Note(BaseModel):
        Type: str
        TopicArn: str
        Message: str

    comp.reads("orders", 1, Note)(seen.append)
    body = json.dumps({"Type": "Notification", "TopicArn": "t", "Message": "m"})
    assert failures(comp.handle(sqs_event([sqs_record(body, schema=1)]))) == []
    assert seen == [Note(Type="Notification", TopicArn="t", Message="m")]


# -- which queue a record is from ------------------------------------------------------------------


def test_records_are_routed_by_queue(logged: Logged, capsys: pytest.CaptureFixture[str]) -> None:
    comp = component(logged, queue_names={"orders": "prod-orders-Xy12"})
    seen: list[str] = []
    comp.reads("orders", 1, OrderV1)(lambda order: seen.append("orders"))
    comp.reads("returns", 1, OrderV1)(lambda order: seen.append("returns"))
    order = {"order_id": "a", "customer": "c"}
    response = comp.handle(
        sqs_event(
            [
                sqs_record(order, schema=1, queue="prod-orders-Xy12"),
                sqs_record(order, schema=1, queue="returns"),
                sqs_record(order, schema=1, queue="elsewhere", message_id="stray"),
            ]
        )
    )
    assert failures(response) == ["stray"]
    assert seen == ["orders", "returns"]
    assert isinstance(logged.errors[0], UnknownQueueError)
    assert counts(capsys.readouterr().out)[("elsewhere", "1")]["MessagesUnreadable"] == 1


def test_a_component_reading_one_queue_takes_every_record_as_that_queues() -> None:
    comp = component()
    seen: list[BaseModel] = []
    comp.reads("orders", 1, OrderV1)(seen.append)
    event = sqs_event([sqs_record({"order_id": "a", "customer": "c"}, schema=1, queue="stack-q")])
    assert failures(comp.handle(event)) == []
    assert len(seen) == 1


# -- registration ----------------------------------------------------------------------------------


def test_contradicting_registrations_are_refused_at_import_time() -> None:
    comp = component()
    comp.reads("orders", 1, OrderV1)(lambda order: None)
    with pytest.raises(RegistrationError, match="already has a handler"):
        comp.reads("orders", 1, OrderV1)(lambda order: None)
    with pytest.raises(RegistrationError, match=r"has a handler .* and an upgrade"):
        comp.upgrade("orders", 1, OrderV1, to=2)(lambda order: None)
    comp.upgrade("orders", 0, OrderV1, to=1)(lambda order: order)
    with pytest.raises(RegistrationError, match="already has an upgrade"):
        comp.upgrade("orders", 0, OrderV1, to=1)(lambda order: order)
    with pytest.raises(RegistrationError, match=r"has an upgrade .* and a handler"):
        comp.reads("orders", 0, OrderV1)(lambda order: None)
    with pytest.raises(RegistrationError, match="must change the version"):
        comp.upgrade("orders", 3, OrderV1, to=3)
    with pytest.raises(RegistrationError, match="not a pydantic model"):
        comp.reads("orders", 4, dict)  # type: ignore[arg-type]
    with pytest.raises(RegistrationError, match="not a schema version"):
        comp.reads("orders", True, OrderV1)
    writer = comp.writes("enriched", 1, OrderV2)
    assert comp.writes("enriched", 1, OrderV2) is writer
    with pytest.raises(RegistrationError, match="one schema per queue"):
        comp.writes("enriched", 2, OrderV3)
    with pytest.raises(RegistrationError, match="needs a name"):
        Component("")
