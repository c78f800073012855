"""The pure reading of the consumers' per-schema metrics: drain proofs, failures per schema, the
mix on a queue (``orchestrator/planning/schema_metrics.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.planning.schema_metrics import (
    QUIET_SECONDS,
    Counts,
    DrainDecision,
    OldSchemaActivity,
    SchemaFailures,
    attribute_failures,
    decide_drain,
    periods_after,
    schema_mix,
)

CUT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return CUT + timedelta(seconds=seconds)


def quiet_activity(last_seen: datetime | None = None, processed: float = 0.0) -> OldSchemaActivity:
    return OldSchemaActivity(
        schema="1",
        reporting=("enrich",),
        after_cutover=Counts(processed=processed),
        last_seen=last_seen,
    )


def decide(
    now: float, depth: int, age: float | None, activity: OldSchemaActivity | None
) -> DrainDecision:
    return decide_drain(
        queue="orders", cutover=CUT, now=at(now), depth=depth, age=age, activity=activity
    )


def test_an_empty_queue_is_drained_whatever_the_counts() -> None:
    decision = decide(5, 0, None, quiet_activity(at(5), processed=3))
    assert decision.proof == "empty"
    assert decision.text == "observed empty after the cutover"


def test_without_per_schema_metrics_the_age_rule_alone_decides() -> None:
    for activity in (None, OldSchemaActivity(schema="1", silent=("enrich",))):
        assert decide(60, 5, 0.0, activity).proof is None  # not more than a margin ago
        assert decide(61, 5, 1.0, activity).proof is None  # 1 + 60 >= 61
        decision = decide(90, 5, 20.0, activity)
        assert decision.proof == "age"
        assert decision.text == "oldest message 20s old, cutover 90s ago"
        assert decide(90, 5, 40.0, activity).proof is None  # 40 + 60 >= 90


def test_with_per_schema_metrics_the_age_rule_must_hold_and_the_old_schema_be_quiet() -> None:
    quiet = quiet_activity()
    # the age rule holds at 90 s, but the quiet period of two minutes has not passed
    waiting = decide(90, 5, 20.0, quiet)
    assert waiting.proof is None
    assert "the age rule holds, but no schema-1 message received by enrich" in waiting.text
    assert f"90s of the {QUIET_SECONDS:g}s" in waiting.text
    proven = decide(QUIET_SECONDS, 5, 20.0, quiet)
    assert proven.proof == "age+schema"
    assert proven.evidence["schema"]["quiet_seconds"] == QUIET_SECONDS
    # quiet for long, but the age rule does not hold: the counts never prove a drain alone
    old = decide(3600, 5, 3600.0, quiet)
    assert old.proof is None
    assert "5 message(s) left, oldest 3600s" in old.text


def test_an_old_schema_message_received_after_the_age_rule_holds_restarts_the_quiet_period() -> (
    None
):
    """The age lies (a poison message cycling, a stale datapoint): the counts catch it."""
    seen = quiet_activity(last_seen=at(240), processed=2)
    waiting = decide(300, 5, 10.0, seen)
    assert waiting.proof is None
    assert "schema 1 last received by enrich until" in waiting.text
    assert "2 processed, 0 failed, 0 unreadable since the cutover" in waiting.text
    assert decide(240 + QUIET_SECONDS, 5, 10.0, seen).proof == "age+schema"
    failing = OldSchemaActivity(
        schema="1", reporting=("enrich",), after_cutover=Counts(failed=4), last_seen=at(240)
    )
    assert decide(300, 5, 10.0, failing).proof is None


def test_before_the_cutover_nothing_is_proven() -> None:
    decision = decide(-10, 0, None, None)
    assert decision.proof is None and "the drain clock starts" in decision.text


def test_a_consumer_without_metrics_is_named_in_the_proof() -> None:
    activity = OldSchemaActivity(schema="1", reporting=("enrich",), silent=("audit",))
    decision = decide(QUIET_SECONDS + 60, 5, 1.0, activity)
    assert decision.proof == "age+schema"
    assert "(audit: no per-schema metrics)" in decision.text


@pytest.mark.parametrize(
    ("age", "since", "activity"),
    [(a, s, q) for a in (None, 0.0, 30.0, 200.0) for s in (30, 61, 100, 300) for q in (0, 1)],
)
def test_the_counts_never_prove_a_drain_the_age_rule_does_not(
    age: float | None, since: float, activity: int
) -> None:
    with_counts = decide(since, 3, age, quiet_activity() if activity else None)
    without = decide(since, 3, age, None)
    if with_counts.proven:
        assert without.proven


def test_periods_after_the_cutover_and_the_last_one_with_messages() -> None:
    stamps = [CUT - timedelta(minutes=1), CUT, CUT + timedelta(minutes=1)]
    total, last = periods_after(stamps, [5.0, 2.0, 0.0], CUT, at(600))
    assert total == 2.0 and last == CUT + timedelta(minutes=1)
    # a value without a timestamp was received at an unknown time: now
    assert periods_after([], [1.0], CUT, at(600)) == (1.0, at(600))
    assert periods_after(stamps, [5.0, 0.0, 0.0], CUT, at(600)) == (0.0, None)


def test_failures_are_attributed_to_the_schema_they_are_on() -> None:
    item = SchemaFailures(
        consumer="enrich",
        queue="orders",
        new_schema="2",
        old_schema="1",
        new=Counts(processed=70, failed=30),
        old=Counts(processed=900),
    )
    got = attribute_failures(item, subject="ingest@43")
    assert got["blame"] == "new"
    assert got["new_failure_rate"] == pytest.approx(0.3)
    assert got["old_failure_rate"] == 0.0
    assert got["text"] == (
        "enrich on orders: schema 2: 30 of 100 failed (30.0%), schema 1: 0 of 900 failed "
        "(0.0%): the failures are on ingest@43's new schema 2"
    )
    old = SchemaFailures("enrich", "orders", "2", "1", Counts(processed=100), Counts(10, 10, 0))
    assert attribute_failures(old, subject="ingest@43")["blame"] == "old"
    both = SchemaFailures("enrich", "orders", "2", "1", Counts(90, 10), Counts(900, 100))
    assert attribute_failures(both, subject="ingest@43")["blame"] == "both"
    none = SchemaFailures("enrich", "orders", "2", "1", Counts(), Counts(900))
    assert attribute_failures(none, subject="ingest@43")["blame"] == "unknown"
    clean = SchemaFailures("enrich", "orders", "2", "1", Counts(5), Counts(900))
    assert attribute_failures(clean, subject="ingest@43")["blame"] == "none"
    unreadable = SchemaFailures("enrich", "orders", "2", None, Counts(unreadable=5), Counts())
    assert attribute_failures(unreadable, subject="ingest@43")["blame"] == "new"


def test_the_mix_of_schemas_on_a_queue() -> None:
    rows = schema_mix({"1": Counts(processed=25), "2": Counts(processed=70, failed=5)})
    assert [(r["schema"], r["share"]) for r in rows] == [("2", 0.75), ("1", 0.25)]
    assert rows[0]["failed"] == 5
    assert schema_mix({}) == []
