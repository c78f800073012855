"""Verify with a downstream consumer's per-schema counts (issue 12, item 2): its failures are put
on the new schema or the old one, as evidence in the verdict of both judges."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.model.steps import ComponentInput, Phase, ReleaseRef, ShiftState
from orchestrator.planning.schema_metrics import schema_dimensions
from orchestrator.release import ledger
from orchestrator.release.verify import start_judge, verify, verify_sequential
from orchestrator.steps.acquire_locks import acquire_locks
from orchestrator.steps.prepare_shift import prepare_shift
from orchestrator.testing import Fakes
from tests.factories import manifest_data

RELEASE = "verify-schema-1"


def release(judge: str) -> tuple[Fakes, ShiftState]:
    """ingest 42 -> 43 moves `orders` from schema 1 to 2; enrich@17 reads both."""
    data = manifest_data(
        {
            "ingest": {
                "from": {"version": "42", "writes": {"orders": 1}},
                "to": {"version": "43", "writes": {"orders": 2}},
            },
            "enrich": {"from": {"version": "17", "reads": {"orders": [1, 2]}}},
        },
        release=RELEASE,
        defaults={
            "alias": "live",
            "strategy": {"steps": [10, 100], "bake_seconds": 300},
            "gates": {"judge": judge, "min_invocations": 20, "max_error_rate": 0.05},
        },
    )
    fakes = Fakes()
    fakes.plan_release(data)
    acquire_locks(ReleaseRef(release=RELEASE), fakes.ports)
    shift = prepare_shift(ComponentInput(release=RELEASE, component="ingest"), fakes.ports)
    fakes.clock.advance(300)
    fakes.metrics.set_lambda("ingest", "live", "43", invocations=100, errors=0)
    fakes.metrics.set_lambda("ingest", "live", "42", invocations=900, errors=0)
    return fakes, shift


def per_schema(fakes: Fakes, schema: int, processed: float, failed: float) -> None:
    dims = schema_dimensions("enrich", "orders", schema)
    fakes.metrics.set("MessagesProcessed", dims, [processed])
    fakes.metrics.set("MessagesFailed", dims, [failed])
    fakes.metrics.set("MessagesUnreadable", dims, [0.0])


def schema_entries(evidence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in evidence if e.get("kind") == "schema"]


def test_a_downstream_failure_is_put_on_the_new_schema() -> None:
    fakes, shift = release("threshold")
    fakes.metrics.set_lambda("enrich", "live", "17", invocations=1000, errors=60)
    per_schema(fakes, 2, processed=40, failed=60)
    per_schema(fakes, 1, processed=900, failed=0)
    calls = len(fakes.metrics.queries)
    context = ledger.load_context(fakes.records, RELEASE)
    verdict = verify(fakes.ports, context, "ingest", shift)
    assert len(fakes.metrics.queries) == calls + 1  # one GetMetricData call, per-schema included
    assert verdict.phase is Phase.FAILED and verdict.broken == "enrich"
    [entry] = schema_entries(verdict.evidence)
    assert entry["blame"] == "new"
    assert entry["text"] == (
        "enrich on orders: schema 2: 60 of 100 failed (60.0%), schema 1: 0 of 900 failed "
        "(0.0%): the failures are on ingest@43's new schema 2"
    )
    assert entry["text"] in verdict.reasons
    assert verdict.values["schema.enrich.orders.new.failed"] == 60.0
    assert verdict.values["schema.enrich.orders.old.processed"] == 900.0


def test_without_per_schema_metrics_the_verdict_is_as_before() -> None:
    fakes, shift = release("threshold")
    fakes.metrics.set_lambda("enrich", "live", "17", invocations=1000, errors=0)
    verdict = verify(fakes.ports, ledger.load_context(fakes.records, RELEASE), "ingest", shift)
    assert verdict.phase is Phase.PASSED
    assert verdict.evidence == []
    assert not any(k.startswith("schema.") for k in verdict.values)


@pytest.mark.parametrize("failing", [1, 2])
def test_the_sequential_judge_carries_the_same_evidence(failing: int) -> None:
    fakes, shift = release("sequential")
    fakes.metrics.set_lambda("enrich", "live", "17", invocations=1000, errors=0)
    per_schema(fakes, 2, processed=100 - 5 * (failing == 2), failed=5 * (failing == 2))
    per_schema(fakes, 1, processed=900 - 5 * (failing == 1), failed=5 * (failing == 1))
    context = ledger.load_context(fakes.records, RELEASE)
    look = verify_sequential(fakes.ports, context, "ingest", start_judge(context, "ingest", shift))
    [entry] = schema_entries(look.verdict.evidence)
    assert entry["blame"] == ("new" if failing == 2 else "old")
    # the judge's own checks come first, as before
    assert look.verdict.evidence[0]["subject"] == "ingest@43"
