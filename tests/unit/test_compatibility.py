"""Every row of the DESIGN §4 table, the cases where a version does not take part, delivery."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.model.manifest import Component, VersionSpec
from orchestrator.planning.compatibility import (
    EdgeKind,
    accepts,
    classify,
    effective_reads,
    read_queues,
)
from tests.factories import make_manifest


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


# -- delivery (DESIGN §4): which queues reach a version, and what it reads there -----------------


def component(delivery: str, **versions: dict[str, Any]) -> Component:
    return make_manifest({"c": {"delivery": delivery, **versions}}).component("c")


def test_alias_delivery_gives_an_unlisted_queue_an_empty_read_set() -> None:
    """Fails on the old code (no rule: an omitted queue meant "never receives it")."""
    comp = component(
        "alias",
        **{"from": {"version": "1", "reads": {"q": [1]}}, "to": {"version": "2", "reads": {}}},
    )
    queues = read_queues(comp)
    assert queues == {"q"}
    assert effective_reads(comp, comp.to, queues) == {"q": frozenset()}
    assert effective_reads(comp, comp.from_, queues) == {"q": frozenset({1})}
    # an empty read set accepts nothing: every message reaching it is unreadable
    assert not accepts(frozenset(), 1)
    assert accepts(frozenset(), None)


def test_per_version_delivery_keeps_only_the_listed_queues() -> None:
    comp = component(
        "per-version",
        **{"from": {"version": "1", "reads": {"q": [1]}}, "to": {"version": "2", "reads": {}}},
    )
    assert effective_reads(comp, comp.to, read_queues(comp)) == {}
    assert effective_reads(comp, comp.from_, read_queues(comp)) == {"q": frozenset({1})}


def test_effective_reads_takes_a_delivery_and_plain_reads() -> None:
    assert effective_reads("alias", {"q": [2, 1]}, ["q", "r"]) == {
        "q": frozenset({1, 2}),
        "r": frozenset(),
    }
    assert effective_reads("per-version", {"q": [1]}, ["q", "r"]) == {"q": frozenset({1})}
    extra = VersionSpec.model_validate({"version": "3", "reads": {"s": [1]}})
    comp = component("alias", **{"from": {"version": "1", "reads": {"q": [1]}}})
    assert read_queues(comp, extra) == {"q", "s"}


@pytest.mark.parametrize(
    ("o", "n", "ro", "rn", "expected", "why"),
    [
        (1, 2, set(), {1, 2}, EdgeKind.INFEASIBLE, "old version receives q now and reads none"),
        (None, 2, set(), {2}, EdgeKind.CONSUMER_FIRST, "new reader of q before anyone writes it"),
        (1, 2, {1, 2}, set(), EdgeKind.INFEASIBLE, "new version would receive q, reads none"),
        (1, None, {1}, set(), EdgeKind.PRODUCER_FIRST_DRAIN, "stop writing, drain, then drop"),
        (None, None, set(), {1}, EdgeKind.NONE, "nothing is written"),
    ],
)
def test_alias_delivered_non_readers(
    o: int | None, n: int | None, ro: set[int], rn: set[int], expected: EdgeKind, why: str
) -> None:
    assert classify(o, n, frozenset(ro), frozenset(rn)) is expected, why
