"""Hotfix requirements and checks (pure), and the bound on refused hotfixes."""

from __future__ import annotations

from typing import Any, cast

import pytest

from orchestrator.errors import HotfixRejectedError, Issue, ReleaseStateError
from orchestrator.model.load import manifest_from_data
from orchestrator.model.manifest import VersionSpec
from orchestrator.model.steps import HotfixSpec
from orchestrator.planning.hotfix import check_hotfix, hotfix_base, live_manifest, requirements
from orchestrator.planning.safety import live_state
from orchestrator.steps.apply_hotfix import MAX_REJECTIONS, reject
from tests.factories import MemoryRecords, make_manifest


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


# -- issue 8, item 3 and item 7: the base, every queue of the hotfix, live replanning, delivery ---


def spec(version: str, reads: dict[str, list[int]] | None = None, **writes: int) -> VersionSpec:
    return VersionSpec.model_validate({"version": version, "reads": reads or {}, "writes": writes})


def v(
    version: str, reads: dict[str, list[int]] | None = None, writes: dict[str, int] | None = None
) -> dict[str, Any]:
    return {"version": version, "reads": reads or {}, "writes": writes or {}}


def self_loop(delivery: str = "alias") -> tuple[Any, Any]:
    """x reads and writes q; x@18 (reads q [1]) promoted; x@17 read [1, 2]."""
    manifest = make_manifest(
        {
            "x": {
                "delivery": delivery,
                "from": v("17", reads={"q": [1, 2]}, writes={"q": 1}),
                "to": v("18", reads={"q": [1]}, writes={"q": 1}),
            }
        }
    )
    return manifest, live_state(manifest, {"x": {"18": 100.0}}, ever_live={"x": ["17", "18"]})


def test_self_loop_base_must_read_what_the_hotfix_writes() -> None:
    """Fails on the old code: accepted, although x@18 keeps 90% and gets schema 2 from x@19."""
    manifest, state = self_loop()
    hotfix = spec("19", {"q": [1, 2]}, q=2)
    [issue] = check_hotfix(manifest, state, "x", hotfix, pending=[])
    assert issue.path == "hotfix.x@19.writes.q"
    assert "x@18 reads q [1]" in issue.message
    assert "keeps the rest of x's traffic" in issue.message
    # the same with the base given explicitly, and the requirement names the base's reads
    assert check_hotfix(manifest, state, "x", hotfix, pending=[], base="18") == [issue]
    assert requirements(manifest, state, "x", pending=[]).writes == {"q": frozenset({1})}
    # a hotfix that writes what the base reads is fine
    assert check_hotfix(manifest, state, "x", spec("19", {"q": [1, 2]}, q=1), pending=[]) == []


def test_hotfix_must_read_what_the_base_writes() -> None:
    """The base x@18 writes q 1 beside the hotfix: a hotfix reading q [2] is refused."""
    manifest = make_manifest(
        {
            "x": {
                "from": v("17", reads={"q": [1, 2]}, writes={"q": 2}),
                "to": v("18", reads={"q": [1, 2]}, writes={"q": 1}),
            }
        }
    )
    state = live_state(manifest, {"x": {"18": 100.0}}, drained={"q": [2]})
    hotfix = spec("19", {"q": [2]}, q=2)
    issues = check_hotfix(manifest, state, "x", hotfix, pending=[], base="18")
    assert [i.path for i in issues] == ["hotfix.x@19.reads.q"]
    assert "1: x@18 writes it" in issues[0].message
    assert requirements(manifest, state, "x", pending=[], base="18").reads["q"] == {1}


def test_an_unknown_explicit_base_is_refused() -> None:
    manifest, state = self_loop()
    [issue] = check_hotfix(
        manifest, state, "x", spec("19", {"q": [1, 2]}, q=1), pending=[], base="7"
    )
    assert issue.path == "hotfix.x@19"
    assert "no reads/writes known for x@7" in issue.message


def out_release(delivery: str) -> tuple[Any, Any]:
    """w moved out from schema 3 to 1 (out may hold [1, 3]); x never read out."""
    manifest = make_manifest(
        {
            "w": {"from": v("1", writes={"out": 3}), "to": v("2", writes={"out": 1})},
            "x": {
                "delivery": delivery,
                "from": v("17", reads={"q": [1]}),
                "to": v("18", reads={"q": [1]}),
            },
            "p": {"from": v("1", writes={"q": 1})},
        }
    )
    weights = {"w": {"2": 100.0}, "x": {"18": 100.0}, "p": {"1": 100.0}}
    return manifest, live_state(manifest, weights, ever_live={"w": ["1", "2"]})


def test_a_hotfix_that_starts_reading_a_queue_is_checked_on_it() -> None:
    """Fails on the old code: x@19 reading out [1] was accepted while out may hold schema 3."""
    manifest, state = out_release("per-version")
    assert state.queue_schemas["out"] == {1, 3}
    hotfix = spec("19", {"q": [1], "out": [1]})
    [issue] = check_hotfix(manifest, state, "x", hotfix, pending=[])
    assert issue.path == "hotfix.x@19.reads.out"
    assert "schema(s) [3] may reach it" in issue.message
    assert "read out [1, 3]" in issue.message
    assert check_hotfix(manifest, state, "x", spec("19", {"q": [1], "out": [1, 3]}), []) == []


def test_under_alias_delivery_a_new_queue_reaches_the_base_too() -> None:
    """x@19 starts reading out: through the alias x@18 (the base) receives out and reads none."""
    manifest, state = out_release("alias")
    issues = check_hotfix(manifest, state, "x", spec("19", {"q": [1], "out": [1, 3]}), [])
    [issue] = issues
    assert issue.path == "hotfix.x@19.reads.out"
    assert "x@18" in issue.message
    assert "reads out []" in issue.message


def test_a_hotfix_that_starts_writing_a_queue_is_checked_on_it() -> None:
    """Fails on the old code: x@19 starts writing audit 2, which the live auditor@5 cannot read.

    The plan orders auditor (5 -> 6, reads audit [1] -> [1, 2]) before a writer of schema 2, so
    the replan is feasible; but the hotfix ships now, while auditor@5 takes all the traffic.
    """
    manifest = make_manifest(
        {
            "x": {"from": v("17", reads={"q": [1]}), "to": v("18", reads={"q": [1]})},
            "p": {"from": v("1", writes={"q": 1})},
            "auditor": {
                "from": v("5", reads={"audit": [1]}),
                "to": v("6", reads={"audit": [1, 2]}),
            },
        }
    )
    weights = {"x": {"18": 100.0}, "p": {"1": 100.0}, "auditor": {"5": 100.0}}
    state = live_state(manifest, weights)
    hotfix = spec("19", {"q": [1]}, audit=2)
    [issue] = check_hotfix(manifest, state, "x", hotfix, pending=["auditor"])
    assert issue.path == "hotfix.x@19.writes.audit"
    assert "auditor@5 reads audit [1]" in issue.message


def drained_seed(seed_data: dict[str, Any]) -> tuple[Any, Any]:
    """enrich promoted on 18, ingest promoted on 43, orders proven drained of schema 1."""
    manifest = manifest_from_data(seed_data)
    state = live_state(
        manifest,
        {"ingest": {"43": 100.0}, "enrich": {"18": 100.0}, "store": {"5": 100.0}},
        ever_live={"ingest": ["42", "43"], "enrich": ["17", "18"]},
        drained={"orders": [1]},
    )
    return manifest, state


def test_the_replan_starts_from_the_live_versions(seed_data: dict[str, Any]) -> None:
    """Fails on the old code (no live_from): planned from enrich@17, the hotfix was refused."""
    manifest, state = drained_seed(seed_data)
    assert state.queue_schemas["orders"] == {2}
    hotfix = spec("19", {"orders": [2]}, enriched=1)
    [refusal] = check_hotfix(manifest, state, "enrich", hotfix, pending=[])
    assert refusal.path == "hotfix.enrich@19"
    assert "the rest of the plan" in refusal.message
    live_from = {
        "ingest": manifest.component("ingest").to,
        "enrich": manifest.component("enrich").to,
        "store": manifest.component("store").from_,
    }
    assert check_hotfix(manifest, state, "enrich", hotfix, pending=[], live_from=live_from) == []
    # the live checks still apply: schema 1 is not drained in this state
    undrained = live_state(
        manifest,
        {"ingest": {"43": 100.0}, "enrich": {"18": 100.0}, "store": {"5": 100.0}},
        ever_live={"ingest": ["42", "43"]},
    )
    [issue] = check_hotfix(manifest, undrained, "enrich", hotfix, [], live_from=live_from)
    assert issue.path == "hotfix.enrich@19.reads.orders"


def test_live_manifest(seed_data: dict[str, Any]) -> None:
    manifest = manifest_from_data(seed_data)
    enrich_18 = manifest.component("enrich").to
    replanned = live_manifest(
        manifest, {"enrich": enrich_18, "store": spec("4", {"enriched": [1]})}
    )
    assert replanned.component("enrich").from_ == enrich_18
    assert replanned.component("enrich").unchanged  # standing on its `to`: nothing to shift
    assert replanned.component("store").from_.version == "5"  # unchanged stays unchanged
    assert replanned.component("ingest") == manifest.component("ingest")
    assert manifest.component("enrich").from_.version == "17"  # the input is not touched
    assert live_manifest(manifest, {}) is manifest
    assert live_manifest(manifest, {"ingest": manifest.component("ingest").from_}) is manifest
    with pytest.raises(KeyError):
        live_manifest(manifest, {"nope": enrich_18})


@pytest.mark.parametrize(
    ("weights", "broken", "new", "base"),
    [
        ({"18": 100.0}, "18", "19", "18"),  # the broken version alone keeps the rest
        ({"17": 90.0, "18": 10.0}, "18", "19", "17"),  # the hotfix takes over 18's share
        ({"16": 20.0, "17": 70.0, "18": 10.0}, "18", "19", "17"),  # the heaviest other one
        ({"17": 50.0, "18": 50.0}, "18", "19", "17"),
        ({"18": 90.0, "19": 10.0}, "18", "19", "18"),  # re-applied: no other version
        ({"17": 60.0, "18": 30.0, "19": 10.0}, "18", "19", "17"),
        ({"19": 100.0}, "18", "19", "19"),  # the hotfix alone
        ({"17": 100.0}, "18", "19", "17"),  # the broken version takes no traffic
        ({"17": 90.0, "19": 10.0}, "18", "19", "17"),
        ({"17": 50.0, "16": 50.0}, "18", "19", "17"),  # ties: the first listed
    ],
)
def test_hotfix_base(weights: dict[str, float], broken: str, new: str, base: str) -> None:
    assert hotfix_base(weights, broken, new) == base


def test_hotfix_base_needs_a_live_version() -> None:
    with pytest.raises(ValueError, match="no live version"):
        hotfix_base({}, "18", "19")


def test_a_hotfix_that_omits_a_queue_reads_nothing_of_it_under_alias_delivery(
    seed_data: dict[str, Any],
) -> None:
    """Fails on the old code: enrich@19 without orders "stops consuming it" and was accepted."""
    manifest, state = seed_state(seed_data)
    hotfix = spec("19", {}, enriched=1)
    [issue] = check_hotfix(manifest, state, "enrich", hotfix, pending=["ingest"])
    assert issue.path == "hotfix.enrich@19.reads.orders"
    assert "does not list orders" in issue.message
    assert "delivery is alias" in issue.message
    # per-version delivery keeps today's meaning: it never receives orders
    seed_data["components"]["enrich"]["delivery"] = "per-version"
    manifest, state = seed_state(seed_data)
    assert check_hotfix(manifest, state, "enrich", hotfix, pending=["ingest"]) == []


def test_a_live_version_that_omits_a_queue_constrains_what_a_hotfix_writes() -> None:
    """Fails on the old code: c@2 stopped reading q but still receives it through its alias."""
    manifest = make_manifest(
        {
            "x": {"from": v("17", writes={"q": 1}), "to": v("18", writes={"q": 1})},
            "c": {"from": v("1", reads={"q": [1]}), "to": v("2", reads={"r": [1]})},
        }
    )
    state = live_state(manifest, {"x": {"18": 100.0}, "c": {"2": 100.0}})
    assert requirements(manifest, state, "x", pending=[]).writes == {"q": frozenset()}
    assert "not write q" in requirements(manifest, state, "x", pending=[]).explain()
    [issue] = check_hotfix(manifest, state, "x", spec("19", q=1), pending=[])
    assert issue.path == "hotfix.x@19.writes.q"
    assert "c@2 reads q []" in issue.message
