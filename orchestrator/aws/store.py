"""DynamoDB-backed ``LeaseStore`` and ``RecordStore``, sharing one table.

One table (partition key ``pk``, sort key ``sk``, both strings) holds everything the orchestrator
keeps between steps, so the infrastructure declares and the IAM policies grant a single resource:

- a lease: ``pk = "lease#<key>"``, ``sk = "lease"``, with ``owner`` and ``expires_at`` (epoch
  seconds);
- a record: ``pk = "release#<release>"``, ``sk = "record#<kind>"``, with ``body`` (a JSON string, so
  arbitrary nesting survives without DynamoDB's type mapping) and ``updated_at``; all records of
  a release share a partition, so ``list`` is one Query on a kind prefix.

Leases are taken with a conditional write, so two releases racing for a component cannot both win.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from botocore.exceptions import ClientError

from orchestrator.aws.errors import aws_call, error_code
from orchestrator.errors import LockConflictError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeDefinitionTypeDef,
        AttributeValueTypeDef,
        KeySchemaElementTypeDef,
    )

    from orchestrator.ports import ReleasePage

TABLE_KEY_SCHEMA: tuple[KeySchemaElementTypeDef, ...] = (
    {"AttributeName": "pk", "KeyType": "HASH"},
    {"AttributeName": "sk", "KeyType": "RANGE"},
)
TABLE_ATTRIBUTE_DEFINITIONS: tuple[AttributeDefinitionTypeDef, ...] = (
    {"AttributeName": "pk", "AttributeType": "S"},
    {"AttributeName": "sk", "AttributeType": "S"},
)

_CONDITION_FAILED = "ConditionalCheckFailedException"


def create_table(dynamodb_client: DynamoDBClient, name: str) -> None:
    """Create the orchestrator's table (on-demand billing) and wait until it is usable.

    Idempotent: an existing table of that name is left as it is. Used by the local engine and
    tests; in AWS the SAM template declares the same table.
    """
    with aws_call("dynamodb:CreateTable", name):
        try:
            dynamodb_client.create_table(
                TableName=name,
                KeySchema=list(TABLE_KEY_SCHEMA),
                AttributeDefinitions=list(TABLE_ATTRIBUTE_DEFINITIONS),
                BillingMode="PAY_PER_REQUEST",
            )
        except ClientError as exc:
            if error_code(exc) != "ResourceInUseException":
                raise
        dynamodb_client.get_waiter("table_exists").wait(TableName=name)


def _epoch(moment: datetime) -> float:
    """Seconds since the epoch; a naive datetime is taken as UTC (the project's convention)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _number(value: float) -> str:
    return repr(round(value, 6))


def _refused_item(exc: ClientError) -> dict[str, AttributeValueTypeDef]:
    """The item a refused conditional write returned (``ReturnValuesOnConditionCheckFailure``)."""
    item = exc.response.get("Item")
    return item if isinstance(item, dict) else {}


class DynamoLeaseStore:
    """Per-component leases with an expiry, so two releases never shift the same component."""

    AWS_ACTIONS: ClassVar[tuple[str, ...]] = (
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
    )

    def __init__(self, dynamodb_client: DynamoDBClient, table: str) -> None:
        self._client = dynamodb_client
        self._table = table

    @staticmethod
    def _key(key: str) -> dict[str, AttributeValueTypeDef]:
        return {"pk": {"S": f"lease#{key}"}, "sk": {"S": "lease"}}

    def acquire(self, key: str, owner: str, ttl_seconds: int, now: datetime) -> None:
        """Take the lease, renew it if ``owner`` holds it, or take over an expired one.

        Raises ``LockConflictError`` naming the current holder and its expiry otherwise.
        """
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
        at = _epoch(now)
        item = {
            **self._key(key),
            "owner": {"S": owner},
            "expires_at": {"N": _number(at + ttl_seconds)},
            "acquired_at": {"N": _number(at)},
        }
        with aws_call("dynamodb:PutItem", f"{self._table} lease {key}"):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression=(
                        "attribute_not_exists(pk) OR #owner = :owner OR expires_at < :now"
                    ),
                    ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues={":owner": {"S": owner}, ":now": {"N": _number(at)}},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if error_code(exc) != _CONDITION_FAILED:
                    raise
                # The holder comes with the refusal where DynamoDB supports it; read it otherwise.
                held = _refused_item(exc) or self._read(key)
                holder = held.get("owner", {}).get("S", "another release")
                expiry = float(held.get("expires_at", {}).get("N", _number(at)))
                until = datetime.fromtimestamp(expiry, UTC)
                raise LockConflictError(
                    f"component {key!r} is leased by {holder!r} until {until.isoformat()}; "
                    f"{owner!r} cannot take it",
                    component=key,
                ) from exc

    def _read(self, key: str) -> dict[str, AttributeValueTypeDef]:
        item = self._client.get_item(
            TableName=self._table, Key=self._key(key), ConsistentRead=True
        ).get("Item")
        return dict(item or {})

    def release(self, key: str, owner: str) -> None:
        """Drop the lease if ``owner`` holds it; a no-op otherwise (another holder keeps it)."""
        with aws_call("dynamodb:DeleteItem", f"{self._table} lease {key}"):
            try:
                self._client.delete_item(
                    TableName=self._table,
                    Key=self._key(key),
                    ConditionExpression="#owner = :owner",
                    ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues={":owner": {"S": owner}},
                )
            except ClientError as exc:
                if error_code(exc) != _CONDITION_FAILED:
                    raise

    def holder(self, key: str, now: datetime) -> str | None:
        """Owner of an unexpired lease on ``key``, or None."""
        with aws_call("dynamodb:GetItem", f"{self._table} lease {key}"):
            item = self._read(key)
        if not item or float(item["expires_at"].get("N", "0")) < _epoch(now):
            return None
        return item["owner"].get("S")


def _body(item: Mapping[str, AttributeValueTypeDef]) -> dict[str, object] | None:
    """The JSON object stored in a record item, or None for an item that holds none."""
    text = item.get("body", {}).get("S")
    value = json.loads(text) if text is not None else None
    return value if isinstance(value, dict) else None


class DynamoRecordStore:
    """Small per-release records (hotfix task token, roll-forward state), stored as JSON."""

    AWS_ACTIONS: ClassVar[tuple[str, ...]] = (
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
    )

    def __init__(self, dynamodb_client: DynamoDBClient, table: str) -> None:
        self._client = dynamodb_client
        self._table = table

    @staticmethod
    def _key(release: str, kind: str) -> dict[str, AttributeValueTypeDef]:
        return {"pk": {"S": f"release#{release}"}, "sk": {"S": f"record#{kind}"}}

    def _item(
        self, release: str, kind: str, item: Mapping[str, object]
    ) -> dict[str, AttributeValueTypeDef]:
        # JSON must hold the item exactly: a value it cannot (a datetime, a set) raises TypeError
        # here rather than being stored in a lossy form; dump models with ``mode="json"``.
        body = json.dumps(dict(item), sort_keys=True, separators=(",", ":"))
        return {
            **self._key(release, kind),
            "body": {"S": body},
            "updated_at": {"S": datetime.now(UTC).isoformat()},
        }

    def put(self, release: str, kind: str, item: Mapping[str, object]) -> None:
        """Store (or replace) the ``kind`` record of ``release``; ``item`` must be JSON."""
        record = self._item(release, kind, item)
        with aws_call("dynamodb:PutItem", f"{self._table} {release}/{kind}"):
            self._client.put_item(TableName=self._table, Item=record)

    def put_new(self, release: str, kind: str, item: Mapping[str, object]) -> bool:
        """Store the record only if it is absent; False when it exists (first writer wins).

        A conditional write, so two steps racing (e.g. sibling Map iterations reporting the
        first failure) cannot both believe they wrote it.
        """
        record = self._item(release, kind, item)
        with aws_call("dynamodb:PutItem", f"{self._table} {release}/{kind}"):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=record,
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except ClientError as exc:
                if error_code(exc) != _CONDITION_FAILED:
                    raise
                return False
        return True

    def list(
        self, release: str, prefix: str, limit: int | None = None
    ) -> list[tuple[str, dict[str, object]]]:
        """Every ``(kind, item)`` of ``release`` whose kind starts with ``prefix``, by kind (the
        first ``limit``, when given: DynamoDB returns items in key order)."""
        found: list[tuple[str, dict[str, object]]] = []
        for item in self._query(release, prefix, limit, keys_only=False):
            value = _body(item)
            if value is not None:
                found.append((item["sk"]["S"].removeprefix("record#"), value))
        return sorted(found, key=lambda pair: pair[0])[:limit]

    def kinds(self, release: str, prefix: str, limit: int | None = None) -> Sequence[str]:
        """The kinds of ``list``, read keys-only (``ProjectionExpression``: no item bodies
        travel or are parsed)."""
        found = [
            item["sk"]["S"].removeprefix("record#")
            for item in self._query(release, prefix, limit, keys_only=True)
        ]
        return sorted(found)[:limit]

    def count(self, release: str, prefix: str) -> int:
        """How many records ``list`` would return, as a ``Select=COUNT`` Query: no item travels
        (for the 100 slots of a saturated release, a third of the time ``kinds`` takes on the
        embedded engine)."""
        pages = self._pages(release, prefix, Select="COUNT")
        with aws_call("dynamodb:Query", f"{self._table} {release}/{prefix}* (count)"):
            return sum(int(page.get("Count", 0)) for page in pages)

    def _pages(self, release: str, prefix: str, **params: Any) -> Any:
        """The Query pages (lazy) over ``release``'s records whose kind starts with ``prefix``,
        consistent reads, with ``params`` added (projection, paging, ``Select``)."""
        return self._client.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={
                ":pk": {"S": f"release#{release}"},
                ":prefix": {"S": f"record#{prefix}"},
            },
            ConsistentRead=True,
            **params,
        )

    def _query(
        self, release: str, prefix: str, limit: int | None, *, keys_only: bool
    ) -> Iterator[Mapping[str, AttributeValueTypeDef]]:
        """The items of ``release`` whose kind starts with ``prefix``, page after page."""
        extra: dict[str, Any] = {"ProjectionExpression": "sk"} if keys_only else {}
        pages = self._pages(
            release,
            prefix,
            # PageSize too: MaxItems alone stops the paginator, not the Query (it would read
            # and parse a whole 1 MB page to keep one item)
            PaginationConfig={} if limit is None else {"MaxItems": limit, "PageSize": limit},
            **extra,
        )
        what = f"{self._table} {release}/{prefix}*{' (keys)' if keys_only else ''}"
        with aws_call("dynamodb:Query", what):
            for page in pages:
                yield from page.get("Items", [])

    OPERATOR_ACTIONS: ClassVar[tuple[str, ...]] = ("dynamodb:Scan",)
    """What ``releases`` (``rollout history``) calls besides ``AWS_ACTIONS``: only an operator's
    credentials need it, no step calls it, so no step's policy grants it."""

    def releases(
        self, kinds: Sequence[str], cursor: str | None = None, page_size: int = 100
    ) -> ReleasePage:
        """One Scan page of the records whose kind is in ``kinds``, across releases (see
        ``ReleaseCatalog``). ``cursor`` is the page's ``LastEvaluatedKey`` as JSON."""
        if not kinds:
            return [], None
        values: dict[str, AttributeValueTypeDef] = {
            f":k{i}": {"S": f"record#{kind}"} for i, kind in enumerate(kinds)
        }
        params: dict[str, object] = {
            "TableName": self._table,
            "FilterExpression": f"sk IN ({', '.join(values)})",
            "ExpressionAttributeValues": values,
            "Limit": max(1, page_size),
        }
        if cursor:
            params["ExclusiveStartKey"] = json.loads(cursor)
        with aws_call("dynamodb:Scan", f"{self._table} releases"):
            page = self._client.scan(**params)  # type: ignore[arg-type]
        found: list[tuple[str, str, dict[str, object]]] = []
        for item in page.get("Items", []):
            value = _body(item)
            pk, sk = item["pk"].get("S", ""), item["sk"].get("S", "")
            if value is not None and pk.startswith("release#"):
                found.append((pk.removeprefix("release#"), sk.removeprefix("record#"), value))
        last = page.get("LastEvaluatedKey")
        return found, (json.dumps(last, sort_keys=True) if last else None)

    def get(self, release: str, kind: str) -> dict[str, object] | None:
        """The stored record, or None."""
        with aws_call("dynamodb:GetItem", f"{self._table} {release}/{kind}"):
            item = self._client.get_item(
                TableName=self._table, Key=self._key(release, kind), ConsistentRead=True
            ).get("Item")
        return _body(item) if item else None

    def delete(self, release: str, kind: str) -> None:
        """Remove the record; absent records are fine."""
        with aws_call("dynamodb:DeleteItem", f"{self._table} {release}/{kind}"):
            self._client.delete_item(TableName=self._table, Key=self._key(release, kind))
