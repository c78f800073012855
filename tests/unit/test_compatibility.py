"""Every row of the DESIGN §4 table, plus the cases where a version does not take part."""

from __future__ import annotations

import pytest

from orchestrator.planning.compatibility import EdgeKind, accepts, classify


@pytest.mark.parametrize(
    ("o", "n", "ro", "rn", "expected"),
    [
        # row 1: Ro ⊇ {o,n} and Rn ⊇ {o,n}: every mix is safe
        (1, 2, {1, 2}, {1, 2}, EdgeKind.NONE),
        (1, 1, {1}, {1}, EdgeKind.NONE),
        (1, 2, {1, 2, 3}, {1, 2}, EdgeKind.NONE),
        # row 2: Rn ⊇ {o,n}, n ∉ Ro: consumer first
        (1, 2, {1}, {1, 2}, EdgeKind.CONSUMER_FIRST),
        (1, 3, {1, 2}, {1, 2, 3}, EdgeKind.CONSUMER_FIRST),
        # row 3: n ∈ Ro, n ∈ Rn, o ∉ Rn: producer first, then drain o
        (1, 2, {1, 2}, {2}, EdgeKind.PRODUCER_FIRST_DRAIN),
        (1, 2, {2}, {2}, EdgeKind.PRODUCER_FIRST_DRAIN),
        # otherwise: infeasible
        (1, 2, {1}, {2}, EdgeKind.INFEASIBLE),
        (1, 2, {1}, {1}, EdgeKind.INFEASIBLE),
        (1, 2, {1, 2}, {1}, EdgeKind.INFEASIBLE),
        (1, 1, {1}, {2}, EdgeKind.INFEASIBLE),
        ("v1", "v2", {"v1"}, {"v1", "v2"}, EdgeKind.CONSUMER_FIRST),
    ],
)
def test_design_table_rows(
    o: int | str, n: int | str, ro: set[int | str], rn: set[int | str], expected: EdgeKind
) -> None:
    assert classify(o, n, frozenset(ro), frozenset(rn)) is expected


@pytest.mark.parametrize(
    ("o", "n", "ro", "rn", "expected", "why"),
    [
        (None, 2, {1}, {1, 2}, EdgeKind.CONSUMER_FIRST, "producer starts writing the queue"),
        (None, 2, {2}, {2}, EdgeKind.NONE, "both consumer versions read what is new"),
        (None, 2, {1}, {1}, EdgeKind.INFEASIBLE, "nobody will ever read schema 2"),
        (1, None, {1}, {1}, EdgeKind.NONE, "producer stops writing, consumer unchanged in reads"),
        (1, None, {1}, {2}, EdgeKind.PRODUCER_FIRST_DRAIN, "contract: stop writing, drain, drop"),
        (1, 2, None, {1, 2}, EdgeKind.NONE, "old consumer does not read the queue"),
        (1, 2, None, {2}, EdgeKind.PRODUCER_FIRST_DRAIN, "new consumer starts reading later"),
        (1, 2, {1}, None, EdgeKind.CONSUMER_FIRST, "new consumer stops reading: move it first"),
        (1, 2, {1, 2}, None, EdgeKind.NONE, "new consumer no longer reads the queue"),
    ],
)
def test_versions_that_do_not_take_part(
    o: int | None,
    n: int | None,
    ro: set[int] | None,
    rn: set[int] | None,
    expected: EdgeKind,
    why: str,
) -> None:
    got = classify(
        o, n, None if ro is None else frozenset(ro), None if rn is None else frozenset(rn)
    )
    assert got is expected, why


def test_accepts_treats_absent_sides_as_vacuous() -> None:
    assert accepts(None, 7)
    assert accepts(frozenset({1}), None)
    assert accepts(frozenset({1}), 1)
    assert not accepts(frozenset({1}), 2)
