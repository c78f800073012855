"""DynamoLeaseStore and DynamoRecordStore against moto's DynamoDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from orchestrator.aws.actions import ActionRecorder
from orchestrator.aws.store import (
    TABLE_ATTRIBUTE_DEFINITIONS,
    TABLE_KEY_SCHEMA,
    DynamoLeaseStore,
    DynamoRecordStore,
    create_table,
)
from orchestrator.errors import LockConflictError, ResourceMissingError, TransientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

from tests.functional.conftest import REGION

TABLE = "rollout-state"
T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def dynamodb(aws: None) -> DynamoDBClient:
    client = boto3.client("dynamodb", region_name=REGION)
    create_table(client, TABLE)
    return client


@pytest.fixture
def leases(dynamodb: DynamoDBClient) -> DynamoLeaseStore:
    return DynamoLeaseStore(dynamodb, TABLE)


@pytest.fixture
def records(dynamodb: DynamoDBClient) -> DynamoRecordStore:
    return DynamoRecordStore(dynamodb, TABLE)


def test_create_table_is_idempotent_and_on_demand(dynamodb: DynamoDBClient) -> None:
    create_table(dynamodb, TABLE)
    table = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["KeySchema"] == list(TABLE_KEY_SCHEMA)
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(
        TABLE_ATTRIBUTE_DEFINITIONS, key=str
    )
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_acquire_and_holder(leases: DynamoLeaseStore) -> None:
    assert leases.holder("enrich", T0) is None
    leases.acquire("enrich", "release-a", 600, T0)
    assert leases.holder("enrich", T0) == "release-a"
    assert leases.holder("enrich", T0 + timedelta(seconds=600)) == "release-a"
    assert leases.holder("enrich", T0 + timedelta(seconds=601)) is None


def test_second_owner_is_refused_with_the_holder_named(leases: DynamoLeaseStore) -> None:
    leases.acquire("enrich", "release-a", 600, T0)
    with pytest.raises(LockConflictError) as caught:
        leases.acquire("enrich", "release-b", 600, T0 + timedelta(seconds=30))
    message = str(caught.value)
    assert "'release-a'" in message
    assert "2026-11-28T12:10:00+00:00" in message
    assert "'release-b'" in message
    assert caught.value.component == "enrich"
    assert leases.holder("enrich", T0) == "release-a"


def test_same_owner_renews(leases: DynamoLeaseStore) -> None:
    leases.acquire("enrich", "release-a", 600, T0)
    leases.acquire("enrich", "release-a", 600, T0 + timedelta(seconds=500))
    assert leases.holder("enrich", T0 + timedelta(seconds=1000)) == "release-a"


def test_expired_lease_is_taken_over(leases: DynamoLeaseStore) -> None:
    leases.acquire("enrich", "release-a", 60, T0)
    leases.acquire("enrich", "release-b", 60, T0 + timedelta(seconds=61))
    assert leases.holder("enrich", T0 + timedelta(seconds=61)) == "release-b"
    with pytest.raises(LockConflictError, match="release-b"):
        leases.acquire("enrich", "release-a", 60, T0 + timedelta(seconds=62))


def test_leases_are_per_key(leases: DynamoLeaseStore) -> None:
    leases.acquire("enrich", "release-a", 60, T0)
    leases.acquire("ingest", "release-b", 60, T0)
    assert leases.holder("ingest", T0) == "release-b"


def test_release_by_a_non_owner_leaves_the_lease(leases: DynamoLeaseStore) -> None:
    leases.acquire("enrich", "release-a", 600, T0)
    leases.release("enrich", "release-b")
    assert leases.holder("enrich", T0) == "release-a"
    leases.release("enrich", "release-a")
    assert leases.holder("enrich", T0) is None
    leases.release("enrich", "release-a")  # already gone: still fine
    leases.acquire("enrich", "release-b", 600, T0)


def test_naive_now_is_utc(leases: DynamoLeaseStore) -> None:
    leases.acquire("enrich", "release-a", 60, T0.replace(tzinfo=None))
    assert leases.holder("enrich", T0 + timedelta(seconds=30)) == "release-a"


def test_ttl_must_be_positive(leases: DynamoLeaseStore) -> None:
    with pytest.raises(ValueError, match="positive"):
        leases.acquire("enrich", "release-a", 0, T0)


def test_missing_table(aws: None) -> None:
    client = boto3.client("dynamodb", region_name=REGION)
    with pytest.raises(ResourceMissingError, match="absent lease enrich"):
        DynamoLeaseStore(client, "absent").acquire("enrich", "release-a", 60, T0)


def _stub_client() -> DynamoDBClient:
    return boto3.client(
        "dynamodb", region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b"
    )


def test_conflict_without_returned_item_reads_the_holder() -> None:
    """Where a refusal does not carry the old item, the holder is read back."""
    client = _stub_client()
    with Stubber(client) as stub:
        stub.add_client_error("put_item", "ConditionalCheckFailedException", "failed", 400)
        stub.add_response(
            "get_item",
            {"Item": {"owner": {"S": "release-z"}, "expires_at": {"N": "1796040000"}}},
            {"TableName": TABLE, "Key": ANY, "ConsistentRead": True},
        )
        with pytest.raises(LockConflictError, match="release-z"):
            DynamoLeaseStore(client, TABLE).acquire("enrich", "release-a", 60, T0)


def test_throttled_write_is_transient() -> None:
    client = _stub_client()
    with Stubber(client) as stub:
        stub.add_client_error("put_item", "ProvisionedThroughputExceededException", "slow", 400)
        with pytest.raises(TransientError):
            DynamoLeaseStore(client, TABLE).acquire("enrich", "release-a", 60, T0)


def test_records_round_trip_nested_json(records: DynamoRecordStore) -> None:
    item: dict[str, object] = {
        "task_token": "AQB" + "x" * 500,
        "failed": {"component": "enrich", "version": "18", "weights": {"17": 90.0, "18": 10.0}},
        "held": ["ingest", "store"],
        "attempt": 2,
        "done": False,
        "note": None,
    }
    records.put("2026-11-28.1", "hotfix", item)
    assert records.get("2026-11-28.1", "hotfix") == item
    assert records.get("2026-11-28.1", "other") is None
    assert records.get("2026-11-28.2", "hotfix") is None


def test_records_are_replaced_and_deleted(records: DynamoRecordStore) -> None:
    records.put("r1", "state", {"n": 1})
    records.put("r1", "state", {"n": 2})
    assert records.get("r1", "state") == {"n": 2}
    records.delete("r1", "state")
    assert records.get("r1", "state") is None
    records.delete("r1", "state")


def test_records_and_leases_do_not_collide(
    records: DynamoRecordStore, leases: DynamoLeaseStore
) -> None:
    leases.acquire("r1", "owner", 60, T0)
    records.put("r1", "lease", {"n": 1})
    assert leases.holder("r1", T0) == "owner"
    assert records.get("r1", "lease") == {"n": 1}


def test_put_new_first_writer_wins(records: DynamoRecordStore) -> None:
    assert records.put_new("r1", "failure", {"component": "enrich"})
    assert not records.put_new("r1", "failure", {"component": "ingest"})
    assert records.get("r1", "failure") == {"component": "enrich"}
    assert records.put_new("r2", "failure", {"component": "ingest"})


def test_list_by_kind_prefix(records: DynamoRecordStore) -> None:
    records.put("r1", "component#store", {"n": 3})
    records.put("r1", "component#enrich", {"n": 1})
    records.put("r1", "component#ingest", {"n": 2})
    records.put("r1", "action#0001", {"a": 1})
    records.put("r2", "component#enrich", {"other": True})
    assert records.list("r1", "component#") == [
        ("component#enrich", {"n": 1}),
        ("component#ingest", {"n": 2}),
        ("component#store", {"n": 3}),
    ]
    assert records.list("r1", "action#") == [("action#0001", {"a": 1})]
    assert len(records.list("r1", "")) == 4
    assert records.list("r3", "") == []


def test_list_follows_pages(records: DynamoRecordStore, dynamodb: DynamoDBClient) -> None:
    blob = "x" * 300_000  # DynamoDB pages Query results at 1 MB: a few of these need pages
    for i in range(5):
        records.put("big", f"chunk#{i}", {"i": i, "blob": blob})
    with ActionRecorder(dynamodb) as recorded:
        kinds = [kind for kind, _ in records.list("big", "chunk#")]
    assert kinds == [f"chunk#{i}" for i in range(5)]
    assert recorded.calls.count("dynamodb:Query") > 1


def test_list_reads_only_the_first_items_it_is_asked_for(
    records: DynamoRecordStore, dynamodb: DynamoDBClient
) -> None:
    for i in range(30):
        records.put("lim", f"waiting#{i:03d}", {"i": i})
    records.put("lim", "zzz", {"other": True})
    returned: list[int] = []

    def count(parsed: dict[str, Any], **_: Any) -> None:
        returned.append(len(parsed.get("Items", [])))

    dynamodb.meta.events.register("after-call.dynamodb.Query", count)
    try:
        with ActionRecorder(dynamodb) as recorded:
            first = records.list("lim", "waiting#", limit=5)
    finally:
        dynamodb.meta.events.unregister("after-call.dynamodb.Query", count)
    assert first == [(f"waiting#{i:03d}", {"i": i}) for i in range(5)]
    assert recorded.calls.count("dynamodb:Query") == 1
    assert returned == [5]  # the Query itself is limited: no page of 30 read to keep 5
    assert len(records.list("lim", "waiting#", limit=100)) == 30
    assert len(records.list("lim", "waiting#")) == 30


def test_kinds_reads_keys_only(records: DynamoRecordStore, dynamodb: DynamoDBClient) -> None:
    for i in range(12):
        records.put("keys", f"slot#{i:04d}", {"component": f"c{i}", "round": 0})
    records.put("keys", "started#c1#r0", {"slot": 1})
    records.put("other", "slot#0000", {"component": "x"})
    returned: list[list[str]] = []

    def attributes(parsed: dict[str, Any], **_: Any) -> None:
        returned.extend(sorted(item) for item in parsed.get("Items", []))

    dynamodb.meta.events.register("after-call.dynamodb.Query", attributes)
    try:
        kinds = records.kinds("keys", "slot#")
        first = records.kinds("keys", "slot#", limit=3)
    finally:
        dynamodb.meta.events.unregister("after-call.dynamodb.Query", attributes)
    assert kinds == [f"slot#{i:04d}" for i in range(12)]
    assert first == ["slot#0000", "slot#0001", "slot#0002"]
    assert returned and all(attrs == ["sk"] for attrs in returned)  # no body read or parsed
    assert len(returned) == 12 + 3  # the limited read is limited in the Query itself
    assert records.kinds("keys", "waiting#") == []
    assert [kind for kind, _ in records.list("keys", "slot#")] == kinds


def test_count_counts_without_reading_items(
    records: DynamoRecordStore, dynamodb: DynamoDBClient
) -> None:
    for i in range(7):
        records.put("counted", f"slot#{i:04d}", {"component": f"c{i}", "round": 0})
    records.put("counted", "slotted", {"not": "a slot"})
    records.put("other", "slot#0000", {"component": "x"})
    items: list[int] = []

    def returned(parsed: dict[str, Any], **_: Any) -> None:
        items.append(len(parsed.get("Items", [])))

    dynamodb.meta.events.register("after-call.dynamodb.Query", returned)
    try:
        counted = records.count("counted", "slot#")
    finally:
        dynamodb.meta.events.unregister("after-call.dynamodb.Query", returned)
    assert counted == 7 == len(records.kinds("counted", "slot#"))
    assert items and set(items) == {0}  # a count: no item travels
    assert records.count("counted", "waiting#") == 0
    assert records.count("nobody", "slot#") == 0


def test_records_refuse_what_json_cannot_hold(records: DynamoRecordStore) -> None:
    with pytest.raises(TypeError):
        records.put("r1", "state", {"when": T0})


def test_aws_actions_match_the_calls_made(
    dynamodb: DynamoDBClient, leases: DynamoLeaseStore, records: DynamoRecordStore
) -> None:
    with ActionRecorder(dynamodb) as recorded:
        leases.acquire("c", "a", 60, T0)
        with pytest.raises(LockConflictError):
            leases.acquire("c", "b", 60, T0)
        leases.holder("c", T0)
        leases.release("c", "b")
        leases.release("c", "a")
    assert recorded.actions == set(DynamoLeaseStore.AWS_ACTIONS)

    with ActionRecorder(dynamodb) as recorded:
        records.put("r", "k", {"a": 1})
        records.put_new("r", "k", {"a": 2})
        records.get("r", "k")
        records.list("r", "")
        records.delete("r", "k")
    assert recorded.actions == set(DynamoRecordStore.AWS_ACTIONS)
