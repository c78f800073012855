"""Property test: random small releases and scenarios through the real ASL (issue 8's invariant).

Hypothesis draws a release of 2-4 components laid out as a chain or a small DAG (one queue per
producer, read by one or two later components), with ``from``/``to`` reads and writes, and keeps
only releases the planner accepts (``plan_release``). The scenario breaks things at random: an
``error_rate`` or ``errors_on`` one (queue, schema) on a new version, an old-schema backlog, and
zero to two hotfixes, which may or may not be acceptable. Steps are ``[100]``, ``[10, 100]`` or
``[10, 50, 100]`` with 60 s bakes. Each example runs the real state machine on the embedded engine
(``dry``, after ``engine.reset()``) and must keep the invariant (``assert_sound``): no unreadable
delivery, no message lost, no backwards move, and a terminal status in the release's own report.

Size and mode come from the environment, so the suite stays fast and ``make fuzz`` goes deep:

* ``ROLLOUT_PROPERTY_EXAMPLES``: examples per shard (default 30, in 4 shards: 120 releases in the
  suite; ``make fuzz``: 2000 per shard);
* ``ROLLOUT_PROPERTY_SHRINK=1``: shrink a failure to a minimal example (``make fuzz`` sets it; the
  suite does not, since every shrink step is a whole dry run).

Generation uses a fixed seed per shard and no example database, so every run sees the same
examples.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, assume, event, given, note, seed, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from orchestrator.errors import InputError
from orchestrator.local.engine import EmbeddedEngine
from orchestrator.model.load import manifest_from_data
from orchestrator.planning import plan_release
from tests.factories import manifest_data
from tests.workflow.conftest import (
    TERMINAL_STATUSES,
    MakeRun,
    assert_sound,
    backwards_moves,
    lost_messages,
    unreadable_deliveries,
)

pytestmark = pytest.mark.workflow

EXAMPLES = int(os.environ.get("ROLLOUT_PROPERTY_EXAMPLES", "30"))
"""Examples per shard (per test function); ``make fuzz`` sets thousands."""
SHARDS = int(os.environ.get("ROLLOUT_PROPERTY_SHARDS", "4"))
"""Test functions, each with its own fixed seed: each stays within pytest's per-test timeout."""
PROPERTY_SEED = 8
SHRINK = os.environ.get("ROLLOUT_PROPERTY_SHRINK", "") not in ("", "0")
RUN_TIMEOUT = 180.0
STEPS = ([100], [10, 100], [10, 50, 100])
BAKE_SECONDS = 60

PROPERTY_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    phases=(
        (Phase.explicit, Phase.generate, Phase.shrink)
        if SHRINK
        else (Phase.explicit, Phase.generate)
    ),
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # `dry`'s engine is reset inside the test body
        HealthCheck.filter_too_much,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@dataclass(frozen=True)
class Case:
    """One drawn example: the manifest data and the scenario data of a dry run."""

    manifest: dict[str, Any]
    scenario: dict[str, Any]

    def __repr__(self) -> str:  # the falsifying example, readable as the two files
        return "\n" + yaml.safe_dump(
            {"manifest": self.manifest, "scenario": self.scenario}, sort_keys=False
        )


def _sorted(schemas: set[int]) -> list[int]:
    return sorted(schemas)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A release the planner accepts, and a scenario that may break it.

    Component ``c{i}`` writes queue ``q{i}`` when a later component reads it (and sometimes reads
    it itself: a self-loop). Old writes are schema 1, a changed producer writes 1 or 2; a
    consumer's old version reads what the old producers write, maybe more (already expanded), and
    its new version expands, contracts, keeps, redraws or drops each queue. Breaks are
    ``errors_on`` a schema the live version reads beyond the old one (so today's system works; a
    small fraction breaks only at full traffic), or an ``error_rate`` on a new version; hotfixes
    mostly target a component that breaks, and may read too little, read a new queue, or write a
    newer schema.
    """
    n = draw(st.integers(2, 4), label="components")
    names = [f"c{i}" for i in range(n)]
    chain = draw(st.booleans(), label="chain")
    inputs: dict[int, list[int]] = {0: []}
    for i in range(1, n):
        if chain:
            inputs[i] = [i - 1]
        else:
            inputs[i] = sorted(draw(st.sets(st.integers(0, i - 1), min_size=1, max_size=min(2, i))))
    writers = sorted({j for ins in inputs.values() for j in ins})
    for j in writers:
        if draw(st.sampled_from([False] * 7 + [True]), label=f"c{j} reads its own queue"):
            inputs[j] = [*inputs[j], j]
    changed = {i: draw(st.sampled_from([True, True, True, False])) for i in range(n)}
    old_w = {j: 1 for j in writers}
    new_w = {j: draw(st.sampled_from([2, 2, 1])) if changed[j] else 1 for j in writers}

    components: dict[str, Any] = {}
    live_reads: dict[str, dict[str, list[int]]] = {}  # version key -> what it reads
    for i, name in enumerate(names):
        old_reads: dict[str, list[int]] = {}
        reads: dict[str, list[int]] = {}
        for j in inputs[i]:
            q, o, nw = f"q{j}", old_w[j], new_w[j]
            before = {o}
            if not changed[i] or draw(st.booleans()):
                before.add(nw)
            if draw(st.sampled_from([False, False, True])):
                before.add(min(nw + 1, 3))  # expanded by an earlier release
            old_reads[q] = _sorted(before)
            if not changed[i]:
                continue
            how = draw(st.sampled_from(["expand", "expand", "contract", "same", "any", "drop"]))
            if how == "expand":
                reads[q] = _sorted(before | {nw})
            elif how == "contract":
                reads[q] = [nw]
            elif how == "same":
                reads[q] = old_reads[q]
            elif how == "any":
                reads[q] = _sorted(draw(st.sets(st.sampled_from([1, 2, 3]), min_size=1)))
            # "drop": the new version no longer lists the queue
        writes_old = {f"q{i}": old_w[i]} if i in old_w else {}
        writes_new = {f"q{i}": new_w[i]} if i in new_w else {}
        spec: dict[str, Any] = {"from": {"version": "1", "reads": old_reads, "writes": writes_old}}
        live_reads[f"{name}@1"] = old_reads
        if changed[i]:
            spec["to"] = {"version": "2", "reads": reads, "writes": writes_new}
            live_reads[f"{name}@2"] = reads
        elif draw(st.booleans()):
            spec["to"] = {"version": "1", "reads": old_reads, "writes": writes_old}
        if draw(st.sampled_from([False, False, False, True])):
            spec["delivery"] = "per-version"
        if draw(st.sampled_from([False, False, True])):
            spec["strategy"] = {"steps": draw(st.sampled_from(STEPS))}
        components[name] = spec

    data = manifest_data(
        components,
        release="prop",
        defaults={
            "strategy": {"steps": draw(st.sampled_from(STEPS)), "bake_seconds": BAKE_SECONDS}
        },
    )
    for q in data["queues"]:
        if draw(st.booleans()):
            data["queues"][q]["dlq_url"] = data["queues"][q]["url"] + "-dlq"
    try:
        plan_release(manifest_from_data(data))
    except InputError:
        event("drawn release: infeasible (filtered)")
        assume(False)

    # -- the scenario ---------------------------------------------------------------------------
    versions: dict[str, Any] = {}
    breaking: list[int] = []

    def breaks_on(key: str, reads: dict[str, list[int]]) -> dict[str, Any] | None:
        """errors_on one schema ``key`` reads beyond the old writes (today's system works)."""
        beyond = [(q, s) for q, schemas in reads.items() for s in schemas if s != 1]
        if not beyond:
            return None
        q, schema = draw(st.sampled_from(beyond), label=f"{key} breaks on")
        fraction = draw(st.sampled_from([0.5, 0.5, 0.02]))  # 0.02: only at full traffic
        return {"errors_on": {q: {str(schema): fraction}}}

    for i, name in enumerate(names):
        key = f"{name}@2" if changed[i] else f"{name}@1"
        kind = draw(st.sampled_from(["healthy", "healthy", "error_rate", "errors_on"]))
        behaviour: dict[str, Any] | None = None
        if kind == "error_rate" and changed[i]:
            behaviour = {"error_rate": draw(st.sampled_from([0.05, 0.5]))}
        elif kind == "errors_on":
            behaviour = breaks_on(key, live_reads.get(key, {}))
        if behaviour is not None:
            versions[key] = behaviour
            breaking.append(i)
    queues: dict[str, Any] = {}
    for j in writers:
        if draw(st.sampled_from([False, False, True])):
            queues[f"q{j}"] = {"backlog": {str(old_w[j]): draw(st.integers(1, 30))}}
    hotfixes: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 3), label="hotfixes")):
        if breaking and draw(st.sampled_from([True, True, True, False])):
            i = draw(st.sampled_from(breaking))
        else:
            i = draw(st.integers(0, n - 1))
        name = names[i]
        version = str(3 + sum(1 for h in hotfixes if h["component"] == name))
        hotfix_reads: dict[str, list[int]] = {}
        for j in inputs[i]:
            o, nw = old_w[j], new_w[j]
            choice = draw(st.sampled_from(["both", "both", "new", "old", "all"]))
            chosen = {"both": {o, nw}, "new": {nw}, "old": {o}, "all": {1, 2, 3}}[choice]
            hotfix_reads[f"q{j}"] = _sorted(chosen)
        others = [j for j in writers if j not in inputs[i]]
        if others and draw(st.sampled_from([False] * 5 + [True]), label="reads a new queue"):
            hotfix_reads[f"q{draw(st.sampled_from(others))}"] = [1]
        hotfix_writes: dict[str, int] = {}
        if i in old_w:
            hotfix_writes[f"q{i}"] = draw(st.sampled_from([old_w[i], new_w[i], new_w[i] + 1]))
        hotfixes.append(
            {"component": name, "version": version, "reads": hotfix_reads, "writes": hotfix_writes}
        )
        key = f"{name}@{version}"
        fails = draw(st.sampled_from(["healthy"] * 4 + ["error_rate", "errors_on"]))
        if fails == "error_rate":
            versions[key] = {"error_rate": 0.5}
        elif fails == "errors_on":
            behaviour = breaks_on(key, hotfix_reads)
            if behaviour is not None:
                versions[key] = behaviour
    # a downstream consumer that breaks on what a hotfix writes (a second roll-forward round)
    bumped = [(f"q{h['component'][1:]}", s) for h in hotfixes for s in h["writes"].values()]
    for q, schema in bumped:
        for key, reads in live_reads.items():
            readable = schema in reads.get(q, []) and schema != 1 and key not in versions
            if readable and draw(st.sampled_from([False, False, True]), label=f"{key} on {q}"):
                versions[key] = {"errors_on": {q: {str(schema): 0.5}}}
    scenario: dict[str, Any] = {"traffic_per_minute": 600}
    if versions:
        scenario["versions"] = versions
    if queues:
        scenario["queues"] = queues
    if hotfixes:
        scenario["hotfixes"] = hotfixes
    return Case(manifest=data, scenario=scenario)


def _event(text: str) -> None:
    if currently_in_test_context():  # a Hypothesis example, not a fixed regression case
        event(text)


def _note(text: str) -> None:
    if currently_in_test_context():
        note(text)


def check_case(dry: MakeRun, engine: EmbeddedEngine, case: Case) -> None:
    """One release through the real ASL: the invariant, part by part."""
    engine.reset()  # one fresh account per example (``dry`` resets only once per test)
    run = dry(case.manifest, case.scenario, sound=False)  # checked below, part by part
    try:
        result = run.run(timeout=RUN_TIMEOUT)
    except TimeoutError as exc:
        raise AssertionError(f"no terminal status within {RUN_TIMEOUT:g} s: {exc}") from None
    reported = (result.report or {}).get("status")
    _event(f"status: {reported or 'no report (' + str(result.execution.error) + ')'}")
    _event(f"hotfixes shipped: {len(result.report.get('hotfixes', []))}")
    _note(
        "actions:\n  "
        + "\n  ".join(
            f"{m['component']} {m['action']} {m['previous']} -> {m['weights']}"
            for m in result.report.get("actions", [])
        )
    )
    _note(f"failure: {result.report.get('failure')}")
    _note(f"messages: {result.messages}")
    # one assertion per part of the invariant, so Hypothesis tells distinct breaches apart
    unreadable = unreadable_deliveries(result)
    if unreadable:
        _event("violation: unreadable")
    backwards = backwards_moves(result)
    if backwards:
        _event("violation: backwards move")
    lost = lost_messages(result)
    if lost:
        _event("violation: message lost")
    assert reported in TERMINAL_STATUSES, (reported, result.execution.error, result.execution.cause)
    assert not unreadable, unreadable
    assert not backwards, backwards
    assert not lost, lost
    assert_sound(result)


def _shard(index: int) -> Any:
    @PROPERTY_SETTINGS
    @seed(PROPERTY_SEED + index)
    @given(case=cases())
    def test(dry: MakeRun, engine: EmbeddedEngine, case: Case) -> None:
        check_case(dry, engine, case)

    test.__name__ = f"test_random_releases_keep_the_invariant_{index}"
    test.__doc__ = f"Shard {index + 1} of {SHARDS}: its own fixed seed, {EXAMPLES} releases."
    return test


for _index in range(SHARDS):
    globals()[f"test_random_releases_keep_the_invariant_{_index}"] = _shard(_index)


# -- issue 8 regressions, found by this test on main before the fixes (minimised by hand) ---------


def _with_dlqs(data: dict[str, Any]) -> dict[str, Any]:
    for spec in data["queues"].values():
        spec["dlq_url"] = spec["url"] + "-dlq"
    return data


REGRESSIONS = {
    # items 3a/3b: hotfix c1@3 starts reading q1, the queue c1 writes; accepted, its mapping
    # delivered q1 to c1@1 at 90%, which reads none of it (540 unreadable)
    "hotfix-reads-the-queue-it-writes": Case(
        manifest=_with_dlqs(
            manifest_data(
                {
                    "c0": {"from": {"version": "1", "writes": {"q0": 1}}},
                    "c1": {
                        "from": {"version": "1", "reads": {"q0": [1]}, "writes": {"q1": 1}},
                        "to": {"version": "2", "reads": {"q0": [1]}, "writes": {"q1": 1}},
                    },
                    "c2": {"from": {"version": "1", "reads": {"q1": [1]}}},
                },
                release="regression-b",
                defaults={"strategy": {"steps": [10, 100], "bake_seconds": BAKE_SECONDS}},
            )
        ),
        scenario={
            "versions": {"c1@2": {"error_rate": 0.5}},
            "hotfixes": [
                {
                    "component": "c1",
                    "version": "3",
                    "reads": {"q0": [1], "q1": [1]},
                    "writes": {"q1": 1},
                }
            ],
        },
    ),
    # item 2: with steps [100] the live state forgot schema 1; hotfix enrich@19 reading only [2]
    # was accepted while a schema-1 backlog drained into it (unreadable)
    "one-step-shift-forgets-the-old-schema": Case(
        manifest=_with_dlqs(
            manifest_data(
                {
                    "ingest": {
                        "from": {"version": "42", "writes": {"orders": 1}},
                        "to": {"version": "43", "writes": {"orders": 2}},
                    },
                    "enrich": {
                        "from": {"version": "17", "reads": {"orders": [1, 2]}},
                        "to": {"version": "18", "reads": {"orders": [1, 2]}},
                    },
                },
                release="regression-d",
                defaults={"strategy": {"steps": [100], "bake_seconds": BAKE_SECONDS}},
            )
        ),
        scenario={
            "versions": {"enrich@18": {"errors_on": {"orders": {"2": 0.5}}}},
            "queues": {"orders": {"backlog": {"1": 300}, "drain_per_minute": 10}},
            "hotfixes": [{"component": "enrich", "version": "19", "reads": {"orders": [2]}}],
        },
    ),
}
"""Item 1 (a second round revives enrich@17: a backwards move) is
``test_safety_regressions.test_a_promoted_alias_never_moves_back_after_a_second_round``."""


# item 7: c1@2 drops q0. Before the fix the planner accepted it and c1's alias mapping still
# delivered q0 to c1@2, which reads none of it (600 unreadable deliveries, FAILED).
DROPS_ITS_QUEUE = Case(
    manifest=manifest_data(
        {
            "c0": {
                "from": {"version": "1", "writes": {"q0": 1}},
                "to": {"version": "2", "writes": {"q0": 2}},
            },
            "c1": {"from": {"version": "1", "reads": {"q0": [1]}}, "to": {"version": "2"}},
        },
        release="regression-a",
        defaults={"strategy": {"steps": [100], "bake_seconds": BAKE_SECONDS}},
    ),
    scenario={},
)


def test_a_consumer_that_drops_its_queue_is_refused_unless_delivery_is_per_version(
    dry: MakeRun, engine: EmbeddedEngine
) -> None:
    with pytest.raises(InputError):
        plan_release(manifest_from_data(DROPS_ITS_QUEUE.manifest))
    manifest = copy.deepcopy(DROPS_ITS_QUEUE.manifest)
    manifest["components"]["c1"]["delivery"] = "per-version"
    check_case(dry, engine, Case(manifest=manifest, scenario={}))


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_issue_8_regressions_keep_the_invariant(
    dry: MakeRun, engine: EmbeddedEngine, name: str
) -> None:
    check_case(dry, engine, REGRESSIONS[name])
