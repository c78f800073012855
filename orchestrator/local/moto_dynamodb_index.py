"""Sorted range keys per partition, for the ``dynamodb-partition-query`` patch of moto_compat.

moto 5.2's ``Table.query`` on a table's own key starts from ``all_items()``: every item of every
partition, sorted (with ``DynamoType`` comparisons), then keeps the queried partition's and
compares each range key. The ledger keeps a release in one partition, so every ``begins_with``
read of a 1,000-component release (``slot#``, ``waiting#``, ``component#`` ...) sorted the whole
table: O(N log N) per read, O(N^2 log N) over a release.

:class:`PartitionIndex` keeps, per table and partition, the string range keys in sorted order. It
follows the only two writers of a table's items, ``Table.put_item`` and ``Table.delete_item``
(moto's PutItem, UpdateItem, DeleteItem, BatchWriteItem and TransactWriteItems all end in them),
and checks itself on every read: a partition whose key count differs from the index's, or whose
keys are not all strings, is read again from the table (a table restored from a backup, items
written while the patch was off: :func:`invalidate` bumps an epoch on every apply).

A ``begins_with`` Query on the range key then costs O(log N + result): the matching keys by
bisection, plus the nearest non-matching key on each side (where moto's own Query loop stops at
``Limit`` and says so with a LastEvaluatedKey). With a ``Limit``, "result" is the page, not every
match: only ``Limit`` + 2 matches from the page's ``ExclusiveStartKey`` on (in the query's order) go
to moto, so reading the best of 900 ``waiting#`` entries costs what reading the best of 9 does.
moto's own code answers on a view of the table whose ``all_items()`` is only those items, so the
answer (order, paging, limits, projections, ``ScannedCount``) is moto's own
(``tests/functional/test_engine.py`` compares both on random tables with writes and deletes between
the reads). Other key conditions read the queried partition only; index queries, tables without a
range key, filters, non-string range keys and matches that could reach moto's 1 MB page go to moto
unchanged.

Thread safety: the index is changed only inside a DynamoDB request, and the ``dynamodb-serial``
patch serves DynamoDB requests one at a time; without it, a read that races a write sees a stale
count and reads the partition again.
"""

from __future__ import annotations

import bisect
import functools
import inspect
import itertools
from collections.abc import Callable
from typing import Any

_INDEX = "_moto_compat_partition_index"
_MAX_ITEM_BYTES = 400 * 1024
"""DynamoDB's largest item: what one item can add to a page before moto's 1 MB page limit."""

_epochs = itertools.count(1)
_epoch = 0


def invalidate() -> None:
    """Forget every table's index (the patch was off: writes may have gone past it)."""
    global _epoch
    _epoch = next(_epochs)


class PartitionIndex:
    """Sorted string range keys of each partition of one moto ``Table``."""

    def __init__(self) -> None:
        self.epoch = _epoch
        self.keys: dict[Any, list[str]] = {}

    def sorted_keys(self, table: Any, hash_key: Any) -> list[str] | None:
        """The partition's range keys, sorted; None when one of them is not a string."""
        partition = table.items.get(hash_key)
        if partition is None:
            self.keys.pop(hash_key, None)
            return []
        keys = self.keys.get(hash_key)
        if keys is not None and len(keys) == len(partition):
            return keys
        values: list[str] = []
        for range_key in partition:
            if range_key.type != "S":
                self.keys.pop(hash_key, None)
                return None
            values.append(str(range_key.value))
        values.sort()
        self.keys[hash_key] = values
        return values

    def added(self, hash_key: Any, range_key: Any) -> None:
        keys = self.keys.get(hash_key)
        if keys is None:
            return
        if range_key.type != "S":
            del self.keys[hash_key]
            return
        value = str(range_key.value)
        at = bisect.bisect_left(keys, value)
        if at == len(keys) or keys[at] != value:
            keys.insert(at, value)

    def removed(self, hash_key: Any, range_key: Any) -> None:
        keys = self.keys.get(hash_key)
        if keys is None:
            return
        value = str(range_key.value)
        at = bisect.bisect_left(keys, value)
        if at < len(keys) and keys[at] == value:
            del keys[at]
        else:
            del self.keys[hash_key]


def index_of(table: Any) -> PartitionIndex:
    index: PartitionIndex | None = table.__dict__.get(_INDEX)
    if index is None or index.epoch != _epoch:
        index = PartitionIndex()
        table.__dict__[_INDEX] = index
    return index


class _PartitionView:
    """A moto ``Table`` whose ``all_items()`` is the given items (all else is the table's)."""

    def __init__(self, table: Any, items: list[Any]) -> None:
        self._table = table
        self._items = items

    def all_items(self) -> list[Any]:
        return self._items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


_PAST = "\U0010ffff"
"""Sorts after every character: ``prefix + _PAST`` bounds the keys that start with ``prefix``."""


def prefix_block(
    keys: list[str],
    partition: dict[Any, Any],
    prefix: str,
    page_limit: int,
    *,
    limit: int | None = None,
    forward: bool = True,
    start_after: str | None = None,
) -> list[Any] | None:
    """The items whose range key starts with ``prefix``, and the nearest non-matching key on each
    side: the items moto's own Query loop can react to (a match is kept; the item after the last
    match is where it stops at ``Limit``). None when matches are so large that a later item could
    hit the page's size limit: then moto's own path answers.

    With a ``limit`` (the Query's ``Limit``), only the first ``limit`` matches in the query's order
    (``forward``), from the page's ``start_after`` key (its ``ExclusiveStartKey``) on, are taken,
    with one more on each side: moto's loop stops at the item after the ``limit``-th match
    whatever follows it, so a read of one ``waiting#`` entry costs O(log N), not O(backlog)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    start = bisect.bisect_left(keys, prefix)
    end = bisect.bisect_left(keys, prefix + _PAST, lo=start)
    while end < len(keys) and keys[end].startswith(prefix):
        end += 1  # a key that itself holds U+10FFFF after the prefix
    if start_after is not None:  # moto skips what comes before it, and the key itself
        if forward:
            start = max(start, bisect.bisect_left(keys, start_after, lo=start, hi=end))
        else:
            end = min(end, bisect.bisect_right(keys, start_after, lo=start, hi=end))
    if limit is not None and limit >= 0:
        # the start key itself (skipped by moto), ``limit`` matches, the item moto stops at
        if forward:
            end = min(end, start + limit + 2)
        else:
            start = max(start, end - limit - 2)
    block = [partition[DynamoType({"S": key})] for key in keys[max(start - 1, 0) : end + 1]]
    if sum(item.size() for item in block) + _MAX_ITEM_BYTES > page_limit:
        return None
    return block


def indexed_put_item(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = original(self, *args, **kwargs)
        if item.range_key is not None:
            index_of(self).added(item.hash_key, item.range_key)
        return item

    return put_item


def indexed_delete_item(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def delete_item(self: Any, hash_key: Any, range_key: Any, *args: Any, **kwargs: Any) -> Any:
        item = original(self, hash_key, range_key, *args, **kwargs)
        if item is not None and range_key is not None:
            index_of(self).removed(hash_key, range_key)
        return item

    return delete_item


def indexed_query(original: Callable[..., Any]) -> Callable[..., Any]:
    from moto.dynamodb.models import table as moto_table

    signature = inspect.signature(original)

    @functools.wraps(original)
    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        given = signature.bind(self, *args, **kwargs).arguments
        hash_key = given.get("hash_key")
        if given.get("index_name") or not self.range_key_attr or hash_key is None:
            return original(self, *args, **kwargs)
        partition = self.items.get(hash_key, {})
        range_objs = given.get("range_objs") or []
        on_range_key = [c[0] for c in given.get("range_key_conditions") or []] in (
            [],
            [self.range_key_attr],
        )
        items: list[Any] | None = None
        if (
            given.get("range_comparison") == "BEGINS_WITH"
            and len(range_objs) == 1
            and range_objs[0].type == "S"
            and on_range_key
            and not given.get("filter_kwargs")
        ):
            keys = index_of(self).sorted_keys(self, hash_key)
            start_key = given.get("exclusive_start_key")
            start_after = _start_key(start_key, self.range_key_attr)
            limit = given.get("limit") or None
            if start_key is not None and start_after is None:
                limit = None  # a start key this index cannot place: every match, as before
            if keys is not None:
                items = prefix_block(
                    keys,
                    partition,
                    str(range_objs[0].value),
                    moto_table.RESULT_SIZE_LIMIT,
                    limit=limit,
                    forward=given.get("scan_index_forward") is not False,
                    start_after=start_after,
                )
            if items is None:
                return original(self, *args, **kwargs)
        else:
            items = list(partition.values())
        return original(_PartitionView(self, items), *args, **kwargs)

    return query


def _start_key(exclusive_start_key: Any, range_key_attr: str) -> str | None:
    """The string range key of a Query's ``ExclusiveStartKey`` (as moto passes it: the request's
    ``{"sk": {"S": ...}}``), or None (no start key, or one this index cannot place)."""
    if not isinstance(exclusive_start_key, dict):
        return None
    value = exclusive_start_key.get(range_key_attr)
    if isinstance(value, dict) and isinstance(value.get("S"), str):
        return str(value["S"])
    return None
