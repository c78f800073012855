"""The planner: constraints, waves, drains, unchanged components, cycles, explanations."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.errors import InfeasibleReleaseError
from orchestrator.model.load import load_manifest, manifest_from_data
from orchestrator.planning import plan_release
from orchestrator.planning.graph import find_cycle, longest_path_layers
from tests.factories import make_manifest


def v(
    version: str, reads: dict[str, list[int]] | None = None, writes: dict[str, int] | None = None
) -> dict[str, Any]:
    return {"version": version, "reads": reads or {}, "writes": writes or {}}


def test_seed_plan(seed_data: dict[str, Any]) -> None:
    plan = plan_release(manifest_from_data(seed_data))
    assert plan.waves == [["enrich"], ["ingest"]]
    assert plan.unchanged == ["store"]
    assert plan.drains == []
    [con] = plan.constraints
    assert (con.before, con.after, con.queue, con.kind) == (
        "enrich",
        "ingest",
        "orders",
        "consumer-first",
    )
    assert "enrich@17 reads [1]" in con.reason
    assert "schema 2" in con.reason


def test_contract_json_shape(seed_data: dict[str, Any]) -> None:
    doc = plan_release(manifest_from_data(seed_data)).contract()
    assert {"release", "waves", "constraints", "drains", "unchanged"} <= set(doc)
    assert set(doc["constraints"][0]) >= {"before", "after", "queue", "kind", "reason"}


def test_producer_first_with_drain() -> None:
    manifest = make_manifest(
        {
            "billing": {"from": v("1", writes={"ledger": 1}), "to": v("2", writes={"ledger": 2})},
            "accounts": {
                "from": v("7", reads={"ledger": [1, 2]}),
                "to": v("8", reads={"ledger": [2]}),
            },
        }
    )
    plan = plan_release(manifest)
    assert plan.waves == [["billing"], ["accounts"]]
    [con] = plan.constraints
    assert con.kind == "producer-first-drain"
    assert con.before == "billing"
    [drain] = plan.drains
    assert (drain.queue, drain.schema_, drain.after, drain.before) == (
        "ledger",
        1,
        ["billing"],
        ["accounts"],
    )
    assert plan.contract()["drains"][0]["schema"] == 1


def test_several_writers_share_one_drain() -> None:
    manifest = make_manifest(
        {
            "p1": {"from": v("1", writes={"q": 1}), "to": v("2", writes={"q": 2})},
            "p2": {"from": v("1", writes={"q": 1}), "to": v("2", writes={"q": 2})},
            "c": {"from": v("1", reads={"q": [1, 2]}), "to": v("2", reads={"q": [2]})},
        }
    )
    plan = plan_release(manifest)
    assert plan.waves == [["p1", "p2"], ["c"]]
    [drain] = plan.drains
    assert drain.after == ["p1", "p2"]
    assert drain.before == ["c"]


def test_unchanged_writer_of_old_schema_makes_drop_infeasible() -> None:
    manifest = make_manifest(
        {
            "p1": {"from": v("1", writes={"q": 1}), "to": v("2", writes={"q": 2})},
            "legacy": {"from": v("4", writes={"q": 1})},
            "c": {"from": v("1", reads={"q": [1, 2]}), "to": v("2", reads={"q": [2]})},
        }
    )
    with pytest.raises(InfeasibleReleaseError) as info:
        plan_release(manifest)
    [issue] = info.value.issues
    assert issue.path == "components.c.to.reads.q"
    assert "legacy" in issue.message
    assert "expand/contract" in issue.message


def test_unchanged_components_are_listed_and_never_in_waves() -> None:
    manifest = make_manifest(
        {
            "p": {"from": v("1", writes={"q": 1}), "to": v("2", writes={"q": 1})},
            "same": {"from": v("5", reads={"q": [1]}), "to": v("5", reads={"q": [1]})},
            "omitted": {"from": v("6", reads={"q": [1]})},
        }
    )
    plan = plan_release(manifest)
    assert plan.unchanged == ["omitted", "same"]
    assert plan.waves == [["p"]]


def test_unchanged_consumer_that_cannot_read_new_schema_is_infeasible() -> None:
    manifest = make_manifest(
        {
            "p": {"from": v("1", writes={"q": 1}), "to": v("2", writes={"q": 2})},
            "store": {"from": v("5", reads={"q": [1]})},
        }
    )
    with pytest.raises(InfeasibleReleaseError) as info:
        plan_release(manifest)
    assert "store@5 reads [1]" in info.value.issues[0].message


def test_unconstrained_components_share_the_first_wave_sorted() -> None:
    manifest = make_manifest(
        {name: {"from": v("1", writes={"q": 1}), "to": v("2", writes={"q": 1})} for name in "zyx"}
    )
    assert plan_release(manifest).waves == [["x", "y", "z"]]


def test_waves_are_longest_path_layers() -> None:
    # a -> b -> c chain via consumer-first edges, and d only before c: d is in wave 1, not 2
    manifest = make_manifest(
        {
            "c": {"from": v("1", writes={"qc": 1}), "to": v("2", writes={"qc": 2})},
            "b": {
                "from": v("1", reads={"qc": [1]}, writes={"qb": 1}),
                "to": v("2", reads={"qc": [1, 2]}, writes={"qb": 2}),
            },
            "a": {"from": v("1", reads={"qb": [1]}), "to": v("2", reads={"qb": [1, 2]})},
            "d": {"from": v("1", reads={"qc": [1]}), "to": v("2", reads={"qc": [1, 2]})},
        }
    )
    plan = plan_release(manifest)
    assert plan.waves == [["a", "d"], ["b"], ["c"]]


def test_component_reading_and_writing_its_own_queue() -> None:
    safe = make_manifest(
        {
            "loop": {
                "from": v("1", reads={"q": [1, 2]}, writes={"q": 1}),
                "to": v("2", reads={"q": [1, 2]}, writes={"q": 2}),
            }
        }
    )
    assert plan_release(safe).waves == [["loop"]]
    unsafe = make_manifest(
        {
            "loop": {
                "from": v("1", reads={"q": [1]}, writes={"q": 1}),
                "to": v("2", reads={"q": [1, 2]}, writes={"q": 2}),
            }
        }
    )
    with pytest.raises(InfeasibleReleaseError) as info:
        plan_release(unsafe)
    assert "reads and writes q" in info.value.issues[0].message


def test_cycle_is_named() -> None:
    # a must precede b on q1 (consumer-first) and b must precede a on q2 (consumer-first)
    manifest = make_manifest(
        {
            "a": {
                "from": v("1", reads={"q1": [1]}, writes={"q2": 1}),
                "to": v("2", reads={"q1": [1, 2]}, writes={"q2": 2}),
            },
            "b": {
                "from": v("1", reads={"q2": [1]}, writes={"q1": 1}),
                "to": v("2", reads={"q2": [1, 2]}, writes={"q1": 2}),
            },
        }
    )
    with pytest.raises(InfeasibleReleaseError) as info:
        plan_release(manifest)
    [issue] = info.value.issues
    assert "cycle a -> b -> a" in issue.message
    assert "a before b (consumer-first on q1" in issue.message


def test_every_infeasible_edge_is_reported() -> None:
    manifest = make_manifest(
        {
            "p": {
                "from": v("1", writes={"q1": 1, "q2": 1}),
                "to": v("2", writes={"q1": 2, "q2": 2}),
            },
            "c1": {"from": v("1", reads={"q1": [1]}), "to": v("2", reads={"q1": [2]})},
            "c2": {"from": v("1", reads={"q2": [1]}), "to": v("2", reads={"q2": [2]})},
        }
    )
    with pytest.raises(InfeasibleReleaseError) as info:
        plan_release(manifest)
    assert [i.path for i in info.value.issues] == [
        "components.c1.to.reads.q1",
        "components.c2.to.reads.q2",
    ]


def test_infeasible_example_explains_edge_and_fix() -> None:
    with pytest.raises(InfeasibleReleaseError) as info:
        plan_release(load_manifest("examples/infeasible.yaml"))
    message = info.value.issues[0].message
    for words in (
        "ingest@42 writes schema 1",
        "ingest@43 writes schema 2",
        "enrich@17 reads [1]",
        "enrich@18 reads [2]",
        "expand/contract",
        "reads orders [1, 2]",
    ):
        assert words in message


def test_fanout_example_has_both_kinds_and_a_drain() -> None:
    plan = plan_release(load_manifest("examples/fanout.yaml"))
    assert len([c for wave in plan.waves for c in wave]) + len(plan.unchanged) >= 8
    assert {c.kind for c in plan.constraints} == {"consumer-first", "producer-first-drain"}
    assert plan.drains


def test_plan_is_deterministic() -> None:
    manifest = load_manifest("examples/fanout.yaml")
    assert plan_release(manifest).model_dump_json() == plan_release(manifest).model_dump_json()


def test_graph_helpers() -> None:
    succ = {"a": {"b"}, "b": {"c"}, "c": set(), "d": set()}
    assert longest_path_layers(["a", "b", "c", "d"], succ) == [["a", "d"], ["b"], ["c"]]
    cyclic = {"a": {"b"}, "b": {"c"}, "c": {"b"}, "x": {"a"}}
    assert longest_path_layers(["a", "b", "c", "x"], cyclic) is None
    assert find_cycle(["a", "b", "c", "x"], cyclic) == ["b", "c"]
    with pytest.raises(ValueError, match="no cycle"):
        find_cycle(["a", "b", "c", "d"], succ)


# -- delivery (DESIGN §4): a version that omits a queue its other version reads ------------------


def omitting_release(delivery: str | None, c_from: dict[str, Any], c_to: dict[str, Any]) -> Any:
    c: dict[str, Any] = {"from": c_from, "to": c_to}
    if delivery is not None:
        c["delivery"] = delivery
    return make_manifest(
        {
            "p": {"from": v("1", writes={"q": 1}), "to": v("2", writes={"q": 1})},
            "c": c,
            "r": {"from": v("1", writes={"other": 1})},
        }
    )


def test_a_new_version_that_omits_a_queue_still_receives_it_by_default() -> None:
    """Fails on the old code: c@2 "does not read q" and the release was planned in one wave."""
    c_from, c_to = v("1", reads={"q": [1], "other": [1]}), v("2", reads={"other": [1]})
    with pytest.raises(InfeasibleReleaseError) as info:
        plan_release(omitting_release(None, c_from, c_to))
    [issue] = info.value.issues
    assert issue.path == "components.c.to.reads.q"
    assert "c@2 reads [] (it does not list the queue, but the alias delivers it)" in issue.message
    assert "delivery: per-version" in issue.message
    # per-version delivery: c@2 never receives q, so every mix is safe
    plan = plan_release(omitting_release("per-version", c_from, c_to))
    assert plan.waves == [["c", "p"]]
    assert plan.constraints == []


def test_a_consumer_that_starts_reading_a_queue_goes_before_its_first_writer() -> None:
    """Fails on the old code: c and p shifted together, and c@1 received p@2's schema 2."""
    manifest = make_manifest(
        {
            "p": {"from": v("1", writes={"r": 1}), "to": v("2", writes={"r": 1, "q": 2})},
            "c": {"from": v("1", reads={"r": [1]}), "to": v("2", reads={"r": [1], "q": [2]})},
        }
    )
    plan = plan_release(manifest)
    assert plan.waves == [["c"], ["p"]]
    [con] = plan.constraints
    assert (con.before, con.after, con.queue, con.kind) == ("c", "p", "q", "consumer-first")
    assert "c@1 reads [] (it does not list the queue, but the alias delivers it)" in con.reason
    per_version = make_manifest(
        {
            "p": {"from": v("1", writes={"r": 1}), "to": v("2", writes={"r": 1, "q": 2})},
            "c": {
                "delivery": "per-version",
                "from": v("1", reads={"r": [1]}),
                "to": v("2", reads={"r": [1], "q": [2]}),
            },
        }
    )
    assert plan_release(per_version).waves == [["c", "p"]]


def test_an_old_version_that_omits_a_written_queue_is_infeasible() -> None:
    """c@1 does not list q, but p writes q now and the alias delivers it to c@1 already."""
    c_from, c_to = v("1", reads={"other": [1]}), v("2", reads={"q": [1], "other": [1]})
    with pytest.raises(InfeasibleReleaseError) as info:
        plan_release(omitting_release("alias", c_from, c_to))
    [issue] = info.value.issues
    assert "the live system is already incompatible" in issue.message
    assert "delivery: per-version" in issue.message
    assert plan_release(omitting_release("per-version", c_from, c_to)).waves == [["c", "p"]]


def test_a_consumer_that_stops_reading_a_queue_goes_after_its_last_writer() -> None:
    """Alias delivery: c@2 drops q, so p must stop writing q and q be drained before c shifts."""
    manifest = make_manifest(
        {
            "p": {"from": v("1", writes={"q": 1, "r": 1}), "to": v("2", writes={"r": 1})},
            "c": {"from": v("1", reads={"q": [1], "r": [1]}), "to": v("2", reads={"r": [1]})},
        }
    )
    plan = plan_release(manifest)
    assert plan.waves == [["p"], ["c"]]
    [drain] = plan.drains
    assert (drain.queue, drain.schema_, drain.after, drain.before) == ("q", 1, ["p"], ["c"])
