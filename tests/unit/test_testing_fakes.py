"""The shipped fakes (``orchestrator.testing``) behave like the adapters where a step can tell."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestrator.errors import (
    AliasDriftError,
    LockConflictError,
    ResourceMissingError,
    TransientError,
)
from orchestrator.model.live import MetricQuery
from orchestrator.testing import (
    FakeAliasRouter,
    FakeClock,
    FakeLeaseStore,
    FakeMessageMover,
    FakeMetricSource,
    FakeQueueInspector,
    FakeRecordStore,
    Fakes,
    fake_ports,
    lambda_dimensions,
)

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_alias_router_moves_records_and_refuses_a_stale_revision() -> None:
    router = FakeAliasRouter()
    router.add_alias("enrich", "live", {"17": 100.0}, versions=["18"])
    read = router.read("enrich", "live")
    moved = router.set_weights(read, "17", {"18": 0.1})
    assert moved.weights == {"17": 90.0, "18": 10.0}
    assert [m.weights for m in router.moves] == [{"17": 90.0, "18": 10.0}]
    with pytest.raises(AliasDriftError):
        router.set_weights(read, "18", None)  # the revision it read is stale now
    with pytest.raises(ResourceMissingError):
        router.set_weights(router.read("enrich", "live"), "99", None)
    assert router.version_exists("arn:aws:lambda:eu-west-2:111122223333:function:enrich", "18")
    assert not router.version_exists("enrich", "19")
    with pytest.raises(ResourceMissingError):
        router.read("enrich", "other")


def test_fault_injection_raises_on_the_next_calls_only() -> None:
    router = FakeAliasRouter()
    router.add_alias("f", "live", {"1": 100.0})
    router.fail_next("read", TransientError("slow down"), times=2)
    for _ in range(2):
        with pytest.raises(TransientError):
            router.read("f", "live")
    assert router.read("f", "live").weights == {"1": 100.0}
    with pytest.raises(AttributeError):
        router.fail_next("no_such_method", TransientError("x"))


def test_metric_source_scripts_complete_incomplete_and_missing_series() -> None:
    metrics = FakeMetricSource()
    dims = lambda_dimensions("f", "live", "2")
    metrics.set_lambda("f", "live", "2", invocations=10, errors=None)
    metrics.set("Throttles", dims, [1.0, 2.0], complete=False)
    metrics.omit("Duration", dims)
    queries = [
        MetricQuery(id=f"m{i}", namespace="AWS/Lambda", metric=m, dimensions=dims)
        for i, m in enumerate(["Invocations", "Errors", "Throttles", "Duration", "Other"])
    ]
    got = metrics.query(queries, T0, T0)
    assert got["m0"].values == [10.0] and got["m0"].complete
    assert got["m1"].values == []  # a series without datapoints
    assert got["m2"].total == 3.0 and not got["m2"].complete
    assert "m3" not in got  # left out of the answer
    assert got["m4"].values == [] and got["m4"].complete  # unscripted: no data
    assert metrics.queries == [queries]
    metrics.set_alarm("a", "ALARM")
    assert metrics.alarm_states(["a", "missing"]) == {"a": "ALARM"}


def test_queue_inspector_knows_only_its_queues() -> None:
    queues = FakeQueueInspector()
    queues.add_queue("https://q/orders", visible=3, oldest_age_seconds=12.0)
    assert queues.depth("https://q/orders").total == 3
    assert queues.oldest_age_seconds("https://q/orders", T0, T0) == 12.0
    assert queues.exists("https://q/orders") and not queues.exists("https://q/other")
    with pytest.raises(ResourceMissingError):
        queues.depth("https://q/other")


def test_record_store_is_json_first_writer_wins_and_lists_by_kind() -> None:
    records = FakeRecordStore()
    assert records.put_new("r", "failure", {"n": 1})
    assert not records.put_new("r", "failure", {"n": 2})
    assert records.get("r", "failure") == {"n": 1}
    records.put("r", "component#b", {})
    records.put("r", "component#a", {})
    records.put("other", "component#c", {})
    assert [kind for kind, _ in records.list("r", "component#")] == ["component#a", "component#b"]
    with pytest.raises(TypeError):
        records.put("r", "bad", {"at": T0})  # not JSON, as in DynamoDB
    copy = records.get("r", "failure")
    assert copy is not None
    copy["n"] = 5
    assert records.get("r", "failure") == {"n": 1}


def test_lease_store_conflicts_expiry_and_release() -> None:
    leases = FakeLeaseStore()
    leases.acquire("f:live", "r1", 60, T0)
    with pytest.raises(LockConflictError, match="r1"):
        leases.acquire("f:live", "r2", 60, T0)
    leases.release("f:live", "r2")  # not the holder: a no-op
    assert leases.holder("f:live", T0) == "r1"
    later = datetime(2026, 11, 28, 12, 2, tzinfo=UTC)
    assert leases.holder("f:live", later) is None
    leases.acquire("f:live", "r2", 60, later)  # expired: taken over
    assert leases.holder("f:live", later) == "r2"


def test_clock_mover_and_bundle() -> None:
    clock = FakeClock(T0)
    assert clock.advance(90) == datetime(2026, 11, 28, 12, 1, 30, tzinfo=UTC)
    clock.set(T0)
    assert clock.now() == T0
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2026, 1, 1))  # naive
    mover = FakeMessageMover()
    assert mover.move("https://q/dlq", "https://q/orders")["source"] == "https://q/dlq"
    assert mover.moves == [("https://q/dlq", "https://q/orders")]
    fakes = Fakes()
    assert fakes.ports.aliases is fakes.ports.alias_reads is fakes.aliases
    records = FakeRecordStore()
    ports = fake_ports(records=records)
    assert ports.records is records
    assert isinstance(ports.clock, FakeClock)
