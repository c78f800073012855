"""Hotfix requirements and checks (pure), and the bound on refused hotfixes."""

from __future__ import annotations

from typing import Any, cast

import pytest

from orchestrator.errors import HotfixRejectedError, Issue, ReleaseStateError
from orchestrator.model.load import manifest_from_data
from orchestrator.model.manifest import VersionSpec
from orchestrator.model.steps import HotfixSpec
from orchestrator.planning.hotfix import check_hotfix, requirements
from orchestrator.planning.safety import live_state
from orchestrator.steps.apply_hotfix import MAX_REJECTIONS, reject
from tests.factories import MemoryRecords


def seed_state(seed_data: dict[str, Any]) -> tuple[Any, Any]:
    manifest = manifest_from_data(seed_data)
    # the seed story: enrich promoted on 18, ingest's canary pulled back after writing schema 2
    state = live_state(
        manifest,
        {"ingest": {"42": 100.0}, "enrich": {"18": 100.0}, "store": {"5": 100.0}},
        ever_live={"ingest": ["42", "43"]},
    )
    return manifest, state


def test_requirements_cover_queued_and_planned_schemas(seed_data: dict[str, Any]) -> None:
    manifest, state = seed_state(seed_data)
    needs = requirements(manifest, state, "enrich", pending=["ingest"])
    assert needs.reads == {"orders": frozenset({1, 2})}
    assert needs.writes == {"enriched": frozenset({1})}
    assert "must read orders [1, 2]" in needs.explain()


def test_a_hotfix_that_drops_a_queued_schema_is_refused(seed_data: dict[str, Any]) -> None:
    manifest, state = seed_state(seed_data)
    bad = VersionSpec.model_validate(
        {"version": "19", "reads": {"orders": [2]}, "writes": {"enriched": 1}}
    )
    [issue] = check_hotfix(manifest, state, "enrich", bad, pending=["ingest"])
    assert issue.path == "hotfix.enrich@19.reads.orders"
    assert "[1]" in issue.message


def test_a_hotfix_that_writes_what_consumers_cannot_read_is_refused(
    seed_data: dict[str, Any],
) -> None:
    manifest, state = seed_state(seed_data)
    bad = VersionSpec.model_validate(
        {"version": "19", "reads": {"orders": [1, 2]}, "writes": {"enriched": 2}}
    )
    [issue] = check_hotfix(manifest, state, "enrich", bad, pending=["ingest"])
    assert issue.path == "hotfix.enrich@19.writes.enriched"
    assert "read only [1]" in issue.message


def test_a_compatible_hotfix_is_accepted(seed_data: dict[str, Any]) -> None:
    manifest, state = seed_state(seed_data)
    good = VersionSpec.model_validate(
        {"version": "19", "reads": {"orders": [1, 2]}, "writes": {"enriched": 1}}
    )
    assert check_hotfix(manifest, state, "enrich", good, pending=["ingest"]) == []


def test_refusals_are_bounded() -> None:
    records = MemoryRecords()

    class Ports:  # only the record store is used
        pass

    ports = Ports()
    ports.records = records  # type: ignore[attr-defined]
    hotfix = HotfixSpec(component="enrich", version="19")
    issues = [Issue("hotfix", "no")]
    for _ in range(MAX_REJECTIONS):
        with pytest.raises(HotfixRejectedError):
            reject(cast(Any, ports), "r1", hotfix, issues)
    with pytest.raises(ReleaseStateError, match="hotfixes were refused"):
        reject(cast(Any, ports), "r1", hotfix, issues)
