"""Rollback safety (DESIGN §4) on the seed's own story, the general rule and delivery."""

from __future__ import annotations

from typing import Any

from orchestrator.model.load import manifest_from_data
from orchestrator.model.manifest import Manifest, VersionSpec
from orchestrator.planning.safety import VersionIO, live_state, rollback_safety
from tests.factories import make_manifest


def test_seed_story(seed_data: dict[str, Any]) -> None:
    manifest = manifest_from_data(seed_data)
    # enrich promoted to 18 in wave 1; ingest's canary at 10% is writing schema 2 into orders
    weights = {"ingest": {"42": 90.0, "43": 10.0}, "enrich": {"18": 100.0}, "store": {"5": 100.0}}
    state = live_state(manifest, weights)
    assert state.queue_schemas["orders"] == {1, 2}

    ingest_back = rollback_safety(state, "ingest", VersionIO.of(manifest.component("ingest").from_))
    assert ingest_back.safe, ingest_back.explain()

    enrich_back = rollback_safety(state, "enrich", VersionIO.of(manifest.component("enrich").from_))
    assert not enrich_back.safe
    assert any("schema 2" in r for r in enrich_back.reasons)
    assert "unsafe" in enrich_back.explain()


def test_schemas_left_in_queue_block_a_rollback_even_after_the_writer_went_back(
    seed_data: dict[str, Any],
) -> None:
    manifest = manifest_from_data(seed_data)
    weights = {"ingest": {"42": 100.0}, "enrich": {"18": 100.0}}
    state = live_state(manifest, weights, ever_live={"ingest": ["42", "43"]})
    assert not rollback_safety(
        state, "enrich", VersionIO.of(manifest.component("enrich").from_)
    ).safe
    drained = live_state(
        manifest, weights, ever_live={"ingest": ["42", "43"]}, drained={"orders": [2]}
    )
    assert rollback_safety(drained, "enrich", VersionIO.of(manifest.component("enrich").from_)).safe


def test_live_consumers_must_read_what_the_old_version_writes(seed_data: dict[str, Any]) -> None:
    seed_data["components"]["enrich"]["from"]["writes"] = {"enriched": 0}
    seed_data["components"]["store"]["from"]["reads"] = {"enriched": [0, 1]}
    seed_data["components"]["store"]["to"] = {"version": "6", "reads": {"enriched": [1]}}
    manifest = manifest_from_data(seed_data)
    weights = {"enrich": {"17": 50.0, "18": 50.0}, "store": {"6": 100.0}, "ingest": {"42": 100.0}}
    verdict = rollback_safety(
        live_state(manifest, weights), "enrich", VersionIO.of(manifest.component("enrich").from_)
    )
    assert not verdict.safe
    assert "store@6 reads enriched [1]" in verdict.reasons[0]


def test_hotfix_versions_can_be_described(seed_data: dict[str, Any]) -> None:
    manifest = manifest_from_data(seed_data)
    hotfix = VersionSpec.model_validate(
        {"version": "19", "reads": {"orders": [1, 2]}, "writes": {"enriched": 1}}
    )
    state = live_state(
        manifest,
        {"enrich": {"18": 50.0, "19": 50.0}, "ingest": {"43": 100.0}},
        extra_versions={"enrich": {"19": hotfix}},
    )
    assert [v.version for v in state.live["enrich"]] == ["18", "19"]


# -- delivery (DESIGN §4): alias-delivered versions that omit a queue ----------------------------


def v(
    version: str, reads: dict[str, list[int]] | None = None, writes: dict[str, int] | None = None
) -> dict[str, Any]:
    return {"version": version, "reads": reads or {}, "writes": writes or {}}


def audit_release(delivery: str) -> Manifest:
    """enrich@18 starts reading audits; enrich@17 does not list it."""
    return make_manifest(
        {
            "ingest": {"from": v("42", writes={"orders": 1})},
            "auditor": {"from": v("3", writes={"audits": 1})},
            "enrich": {
                "delivery": delivery,
                "from": v("17", reads={"orders": [1]}),
                "to": v("18", reads={"orders": [1], "audits": [1]}),
            },
        }
    )


def test_pulling_back_to_a_version_that_omits_a_delivered_queue_is_unsafe() -> None:
    """Fails on the old code: enrich@17 "does not read audits", yet the alias delivers them."""
    weights = {"ingest": {"42": 100.0}, "auditor": {"3": 100.0}, "enrich": {"17": 90.0, "18": 10.0}}
    manifest = audit_release("alias")
    state = live_state(manifest, weights)
    target = VersionIO.of(manifest.component("enrich").from_)  # as listed: the rule is applied
    verdict = rollback_safety(state, "enrich", target)
    assert not verdict.safe
    [reason] = verdict.reasons
    assert "enrich@17 reads audits []" in reason
    assert "schema 1 may be in audits" in reason
    # the live enrich@17 carries the empty read set too
    assert dict(state.live["enrich"][0].reads) == {"orders": {1}, "audits": frozenset()}
    assert state.alias_queues["enrich"] == {"orders", "audits"}
    # per-version delivery: enrich@17 never receives audits
    per_version = audit_release("per-version")
    state = live_state(per_version, weights)
    assert "enrich" not in state.alias_queues
    assert rollback_safety(
        state, "enrich", VersionIO.of(per_version.component("enrich").from_)
    ).safe


def test_consumers_of_include_alias_delivered_non_readers() -> None:
    """Fails on the old code: c@2 stopped listing q but still receives it through the alias."""
    manifest = make_manifest(
        {
            "p": {"from": v("1", writes={"q": 1}), "to": v("2", writes={"r": 1})},
            "c": {"from": v("1", reads={"q": [1]}), "to": v("2", reads={"r": [1]})},
        }
    )
    state = live_state(manifest, {"p": {"1": 50.0, "2": 50.0}, "c": {"2": 100.0}})
    assert [(name, dict(io.reads)) for name, io in state.consumers_of("q")] == [
        ("c", {"q": frozenset(), "r": {1}})
    ]
    verdict = rollback_safety(state, "p", VersionIO.of(manifest.component("p").from_))
    assert not verdict.safe
    assert (
        "c@2 reads q [] (it does not list the queue, but the alias delivers it)"
        in (verdict.reasons[0])
    )


def test_hotfix_versions_widen_what_the_alias_delivers(seed_data: dict[str, Any]) -> None:
    manifest = manifest_from_data(seed_data)
    hotfix = VersionSpec.model_validate(
        {"version": "19", "reads": {"orders": [1, 2], "late": [1]}, "writes": {"enriched": 1}}
    )
    state = live_state(
        manifest,
        {"enrich": {"18": 50.0, "19": 50.0}, "ingest": {"43": 100.0}},
        extra_versions={"enrich": {"19": hotfix}},
    )
    assert state.known["enrich"]["18"].reads["late"] == frozenset()
    assert state.known["enrich"]["17"].reads == {"orders": {1}, "late": frozenset()}
    assert state.weights["enrich"] == {"18": 50.0, "19": 50.0}
    io = VersionIO.of_component(
        manifest.component("enrich"), manifest.component("enrich").from_, queues=["late"]
    )
    assert io == state.known["enrich"]["17"]
    assert state.effective("enrich", VersionIO.of(manifest.component("enrich").from_)) == io
