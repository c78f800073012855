"""DrainQueues with the consumers' per-schema counts (issue 12, item 2), through the fakes: the age
rule must hold and the old schema stay unreceived for a quiet period; without per-schema metrics
the age rule alone decides; everything is read in one GetMetricData call per check."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from orchestrator.model.plan import Drain
from orchestrator.planning.schema_metrics import QUIET_SECONDS, schema_dimensions
from orchestrator.steps.drain_queues import drained
from tests.functional.test_roll_forward_steps import RELEASE, SEED, Release

URL = SEED["queues"]["orders"]["url"]


def producer_first() -> tuple[Release, Drain, datetime]:
    data = copy.deepcopy(SEED)
    data["components"]["enrich"]["to"]["reads"] = {"orders": [2]}  # producer first + drain
    data["components"]["enrich"]["from"]["reads"] = {"orders": [1, 2]}
    release = Release(data)
    [drain] = release.context.plan.drains
    release.shift_fully("ingest")
    promoted_at = release.record("ingest").promoted_at
    assert promoted_at is not None
    # a busy queue: never empty, its oldest message a few seconds old
    release.fakes.queues.set_depth(URL, visible=12, in_flight=3)
    release.fakes.queues.set_oldest_age(URL, 4.0)
    return release, drain, promoted_at


def minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def test_without_per_schema_metrics_the_age_rule_alone_proves_the_drain() -> None:
    release, drain, cutover = producer_first()
    assert drained(release.ports, release.context_now(), drain, cutover + timedelta(seconds=30))
    assert (
        drained(release.ports, release.context_now(), drain, cutover + timedelta(seconds=90))
        is None
    )
    record = release.fakes.records.get(RELEASE, "drained#orders#1")
    assert record is not None and record["kind"] == "age"
    assert record["proof"] == "oldest message 4s old, cutover 90s ago"


def test_an_old_schema_message_received_after_the_cutover_holds_the_drain() -> None:
    """The age rule holds 90 s after the cutover, but enrich still processed schema-1 messages
    in the minute after it (the age skipped a message received three times): it waits until no
    schema-1 message has been received for the quiet period."""
    release, drain, cutover = producer_first()
    first = minute(cutover)
    stamps = [first - timedelta(minutes=1), first, first + timedelta(minutes=1)]
    metrics = release.fakes.metrics
    metrics.set(
        "MessagesProcessed", schema_dimensions("enrich", "orders", 1), [40, 9, 2], timestamps=stamps
    )
    metrics.set(
        "MessagesFailed", schema_dimensions("enrich", "orders", 1), [0, 1, 0], timestamps=stamps
    )
    metrics.set(
        "MessagesProcessed",
        schema_dimensions("enrich", "orders", 2),
        [60, 90, 99],
        timestamps=stamps,
    )
    calls = len(metrics.queries)
    now = cutover + timedelta(seconds=90)
    waiting = drained(release.ports, release.context_now(), drain, now)
    assert len(metrics.queries) == calls + 1  # old invocations and per-schema counts: one call
    assert any(q.namespace == "Rollout/Contracts" for q in metrics.queries[-1])
    assert waiting is not None
    assert "the age rule holds, but schema 1 last received by enrich until" in waiting
    assert "11 processed, 1 failed, 0 unreadable since the cutover" in waiting
    quiet_from = first + timedelta(minutes=2)
    assert drained(
        release.ports,
        release.context_now(),
        drain,
        quiet_from + timedelta(seconds=QUIET_SECONDS - 1),
    )
    proven_at = quiet_from + timedelta(seconds=QUIET_SECONDS)
    assert drained(release.ports, release.context_now(), drain, proven_at) is None
    record = release.fakes.records.get(RELEASE, "drained#orders#1")
    assert record is not None and record["kind"] == "age+schema"
    evidence: Any = record["evidence"]
    assert evidence["schema"]["reporting"] == ["enrich"]
    assert evidence["schema"]["after_cutover"] == {
        "processed": 11.0,
        "failed": 1.0,
        "unreadable": 0.0,
    }


def test_a_quiet_old_schema_never_proves_a_drain_the_age_rule_does_not() -> None:
    release, drain, cutover = producer_first()
    release.fakes.queues.set_oldest_age(URL, 7200.0)  # something old is still queued
    stamps = [minute(cutover) - timedelta(minutes=1)]
    release.fakes.metrics.set(
        "MessagesProcessed", schema_dimensions("enrich", "orders", 2), [80], timestamps=stamps
    )
    waiting = drained(release.ports, release.context_now(), drain, cutover + timedelta(hours=1))
    assert waiting is not None and "oldest 7200s" in waiting
    assert "no schema-1 message received by enrich" in waiting


def test_unreadable_per_schema_counts_prove_nothing() -> None:
    release, drain, cutover = producer_first()
    release.fakes.metrics.omit("MessagesFailed", schema_dimensions("enrich", "orders", 1))
    waiting = drained(release.ports, release.context_now(), drain, cutover + timedelta(minutes=10))
    assert waiting is not None and "per-schema counts could not be read" in waiting


def test_an_empty_queue_needs_no_per_schema_evidence() -> None:
    release, drain, cutover = producer_first()
    release.fakes.queues.set_depth(URL, visible=0)
    stamps = [minute(cutover)]
    release.fakes.metrics.set(
        "MessagesProcessed", schema_dimensions("enrich", "orders", 1), [3], timestamps=stamps
    )
    assert (
        drained(release.ports, release.context_now(), drain, cutover + timedelta(seconds=5)) is None
    )
    record = release.fakes.records.get(RELEASE, "drained#orders#1")
    assert record is not None and record["kind"] == "empty"


def test_status_shows_the_mix_of_schemas_on_each_queue() -> None:
    from orchestrator.cli.views import queue_line
    from orchestrator.operations import queue_states

    release = Release()
    metrics = release.fakes.metrics
    metrics.set("MessagesProcessed", schema_dimensions("enrich", "orders", 1), [25])
    metrics.set("MessagesProcessed", schema_dimensions("enrich", "orders", 2), [70])
    metrics.set("MessagesFailed", schema_dimensions("enrich", "orders", 2), [5])
    calls = len(metrics.queries)
    rows = {r["queue"]: r for r in queue_states(release.ports, release.context_now())}
    assert len(metrics.queries) == calls + 1  # every queue's mix in one GetMetricData call
    assert rows["enriched"]["schemas"] is None  # store publishes no per-schema counts
    assert [(s["schema"], s["share"], s["failed"]) for s in rows["orders"]["schemas"]] == [
        ("2", 0.75, 5.0),
        ("1", 0.25, 0.0),
    ]
    assert queue_line(rows["orders"]).endswith("; schemas 2: 75% (5 failed), 1: 25%")
