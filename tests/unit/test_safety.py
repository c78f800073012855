"""Rollback safety (DESIGN §4) on the seed's own story and on the general rule."""

from __future__ import annotations

from typing import Any

from orchestrator.model.load import manifest_from_data
from orchestrator.model.manifest import VersionSpec
from orchestrator.planning.safety import VersionIO, live_state, rollback_safety


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
