"""The per-schema metrics: EMF documents captured from stdout, parsed, dimensions asserted.

What CloudWatch would make of them is checked through ``emf_to_metric_data`` (the PutMetricData
arguments equivalent to Lambda's EMF log ingestion), which the workflow test also feeds to moto.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from pydantic import BaseModel

from orchestrator.contracts import FAILED, NAMESPACE, PROCESSED, UNREADABLE, Component
from orchestrator.contracts.metrics import dimensions, emf_to_metric_data, parse_emf
from tests.unit.test_contracts_events import Context, sqs_event, sqs_record


class Order(BaseModel):
    order_id: str


def enrich() -> Component:
    comp = Component("enrich")

    @comp.reads("orders", 1, Order)
    def handle(order: Order) -> None:
        if order.order_id == "boom":
            raise RuntimeError("boom")

    comp.reads("orders", 2, Order)(lambda order: None)
    comp.reads("returns", 1, Order)(lambda order: None)
    return comp


def batch() -> dict[str, Any]:
    return sqs_event(
        [
            sqs_record({"order_id": "a"}, schema=1),
            sqs_record({"order_id": "boom"}, schema=1),
            sqs_record({"order_id": "b"}, schema=2),
            sqs_record({"order_id": "c"}, schema=2),
            sqs_record({"order_id": "d"}, schema=3),
            sqs_record({"order_id": "e"}, schema=1, queue="returns"),
        ]
    )


def test_one_emf_document_per_queue_and_schema_with_both_dimension_sets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    enrich().handle(batch(), Context(version="18"))
    docs = parse_emf(capsys.readouterr().out)
    assert [(d["Queue"], d["SchemaVersion"]) for d in docs] == [
        ("orders", "1"),
        ("orders", "2"),
        ("orders", "3"),
        ("returns", "1"),
    ]
    for doc in docs:
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == NAMESPACE == "Rollout/Contracts"
        assert sorted(map(sorted, directive["Dimensions"])) == [
            ["ExecutedVersion", "Queue", "SchemaVersion", "service"],
            ["Queue", "SchemaVersion", "service"],
        ]
        assert [m["Name"] for m in directive["Metrics"]] == [PROCESSED, FAILED, UNREADABLE]
        assert {m["Unit"] for m in directive["Metrics"]} == {"Count"}
        assert doc["service"] == "enrich"
        assert doc["ExecutedVersion"] == "18"
        assert isinstance(doc["_aws"]["Timestamp"], int)
    values = {
        (d["Queue"], d["SchemaVersion"]): (d[PROCESSED], d[FAILED], d[UNREADABLE]) for d in docs
    }
    assert values == {
        ("orders", "1"): ([1.0], [1.0], [0.0]),
        ("orders", "2"): ([2.0], [0.0], [0.0]),
        ("orders", "3"): ([0.0], [0.0], [1.0]),
        ("returns", "1"): ([1.0], [0.0], [0.0]),
    }


def test_without_a_context_only_the_component_wide_set_is_emitted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    enrich().handle(sqs_event([sqs_record({"order_id": "a"}, schema=2)]))
    (doc,) = parse_emf(capsys.readouterr().out)
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        ["Queue", "SchemaVersion", "service"]
    ]
    assert "ExecutedVersion" not in doc


def test_the_namespace_is_configurable_and_a_batch_that_raises_still_reports(
    capsys: pytest.CaptureFixture[str],
) -> None:
    comp = Component("enrich", namespace="Shop/Contracts")
    comp.reads("orders", 1, Order)(lambda order: None)
    with pytest.raises(BatchProcessingError):
        comp.handle(sqs_event([sqs_record({"order_id": "a"}, schema=9)]), Context())
    (doc,) = parse_emf(capsys.readouterr().out)
    assert doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Shop/Contracts"
    assert doc[UNREADABLE] == [1.0]


def test_metrics_can_be_switched_off_the_powertools_way(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    enrich().handle(sqs_event([sqs_record({"order_id": "a"}, schema=2)]), Context())
    assert parse_emf(capsys.readouterr().out) == []


def test_emf_becomes_one_datum_per_metric_and_dimension_set(
    capsys: pytest.CaptureFixture[str],
) -> None:
    enrich().handle(sqs_event([sqs_record({"order_id": "a"}, schema=2)]), Context(version="7"))
    (doc,) = parse_emf(capsys.readouterr().out)
    ((namespace, data),) = emf_to_metric_data(doc).items()
    assert namespace == NAMESPACE
    assert len(data) == 6  # 3 metrics x 2 dimension sets
    by_key = {
        (d["MetricName"], frozenset((x["Name"], x["Value"]) for x in d["Dimensions"])): d
        for d in data
    }
    versioned = frozenset(dimensions("enrich", "orders", "2", "7").items())
    alias_wide = frozenset(dimensions("enrich", "orders", "2").items())
    assert by_key[(PROCESSED, versioned)]["Values"] == [1.0]
    assert by_key[(PROCESSED, alias_wide)]["Values"] == [1.0]
    assert by_key[(UNREADABLE, versioned)]["Values"] == [0.0]
    assert all(d["Unit"] == "Count" for d in data)
    stamp = by_key[(FAILED, alias_wide)]["Timestamp"]
    assert isinstance(stamp, datetime)
    assert stamp.tzinfo is UTC
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60


def test_parse_emf_skips_other_log_lines() -> None:
    lines = ['{"level": "INFO", "message": "hi"}', "plain text", '{"_aws": {}}', "{broken"]
    assert parse_emf("\n".join(lines)) == []
