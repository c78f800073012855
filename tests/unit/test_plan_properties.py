"""Property tests of the planner against an independent verifier and a brute-force oracle.

``tests/unit/plan_verifier.py`` states the semantics. Here Hypothesis draws small random releases
(2-6 components, 1-4 queues, schemas 1-3, each component delivered through its alias or per
version) whose live system works today, and checks:

(a) every plan the planner returns passes the verifier;
(b) when the planner says infeasible, no sequential order is safe (brute force);
(c) when some sequential order is safe, the planner returns a plan;
(d) planning is deterministic and wave members are sorted;
(e) no constraint or drain of a plan is superfluous (removing one makes the verifier fail).

Hand-written examples show the verifier accepting known-good plans and rejecting wrong ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings, target
from hypothesis import strategies as st

from orchestrator.errors import InfeasibleReleaseError
from orchestrator.model.load import load_manifest, manifest_from_data
from orchestrator.model.manifest import Manifest
from orchestrator.model.plan import Constraint, Drain, Plan
from orchestrator.planning.planner import plan_release
from tests.factories import make_manifest, manifest_data
from tests.unit.plan_verifier import (
    assert_plan_safe,
    find_safe_order,
    sequential_plan,
    verify_plan,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCHEMAS = (1, 2, 3)
PROPERTY_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- the release strategy ------------------------------------------------------------------------


def _sorted(schemas: set[int]) -> list[int]:
    return sorted(schemas)


@st.composite
def releases(draw: st.DrawFn) -> dict[str, Any]:
    """Manifest data of a random release whose all-old system is consistent.

    Old writes come first; each old read of a queue then includes every schema the old producers
    write there (plus random extras), so the live system works today. Some components are
    unchanged (same version, or no `to`).

    A *tidy* release lays the components along the queues (component i writes queue i % m and
    maybe the next one, and reads queues that earlier components write, not its own), starts from
    schemas 1-2, mostly bumps writes, and makes every changed consumer of a queue whose
    schemas change expand (old reads plus what the new producers write) or contract (only what
    the new producers write): mostly feasible, with chains of consumer-first and
    producer-first-drain orders. An *untidy* one wraps around the queues (self-loops, cycles,
    shared queues) and may also keep, drop or redraw any read or write.
    """
    n = draw(st.integers(2, 6), label="components")
    m = draw(st.integers(1, 4), label="queues")
    tidy = not draw(st.booleans(), label="untidy")  # the simplest examples are tidy
    queues = [f"q{j}" for j in range(m)]
    names = [f"c{i}" for i in range(n)]
    offsets = st.lists(st.integers(0, m - 1), unique=True, min_size=1, max_size=min(m, 2))

    def home(i: int) -> int:
        return i % m

    def outputs(i: int) -> list[str]:
        picked = [home(i) + k for k in draw(offsets)]
        return [queues[j % m] for j in picked if not tidy or j < m]

    def inputs(i: int, written: dict[str, dict[str, int]]) -> list[str]:
        if not tidy:
            return [queues[(home(i) - 1 - k) % m] for k in draw(offsets)]
        upstream = sorted({q for j in range(i) for q in written[names[j]]} - set(written[names[i]]))
        if not upstream:
            return []
        return draw(st.lists(st.sampled_from(upstream), unique=True, min_size=1, max_size=2))

    # Each component is a relay (reads and writes), a source (writes only) or a sink (reads only).
    roles = [draw(st.sampled_from(["relay", "relay", "relay", "source", "sink"])) for _ in names]
    first = st.sampled_from(SCHEMAS[:2] if tidy else SCHEMAS)

    old_writes: dict[str, dict[str, int]] = {}
    for i, name in enumerate(names):
        written = [] if roles[i] == "sink" else outputs(i)
        old_writes[name] = {q: draw(first) for q in written}
    old_present: dict[str, set[int]] = {q: set() for q in queues}
    for writes in old_writes.values():
        for q, schema in writes.items():
            old_present[q].add(schema)
    how = {name: draw(st.sampled_from(["changed"] * 4 + ["same", "omitted"])) for name in names}
    new_writes: dict[str, dict[str, int]] = {}
    for name in names:
        if how[name] != "changed":
            new_writes[name] = old_writes[name]
            continue
        new_writes[name] = {}
        for q in queues:
            before = old_writes[name].get(q)
            bumped = None if before is None else min(before + 1, 3)
            if tidy:
                after = draw(st.sampled_from([bumped, bumped, bumped, before]))
            else:
                after = draw(st.sampled_from([before, bumped, None, *SCHEMAS]))
            if after is not None:
                new_writes[name][q] = after
    new_present: dict[str, set[int]] = {q: set() for q in queues}
    for writes in new_writes.values():
        for q, schema in writes.items():
            new_present[q].add(schema)

    old_reads: dict[str, dict[str, list[int]]] = {}
    for i, name in enumerate(names):
        old_reads[name] = {}
        for q in [] if roles[i] == "source" else inputs(i, old_writes):
            at_least = 0 if old_present[q] else 1
            extra = draw(
                st.sets(
                    st.sampled_from(SCHEMAS), min_size=at_least, max_size=at_least if tidy else 3
                )
            )
            if tidy and (how[name] != "changed" or draw(st.booleans())):
                # An unchanged consumer already reads what is coming; a changed one may too (it
                # was expanded by an earlier release and may now contract).
                extra |= new_present[q]
            old_reads[name][q] = _sorted(old_present[q] | extra)

    components: dict[str, Any] = {}
    for name in names:
        old = {"version": "1", "reads": old_reads[name], "writes": old_writes[name]}
        # how SQS reaches the versions (DESIGN §4): through the alias (default) or per version
        delivery = {} if draw(st.booleans()) else {"delivery": "per-version"}
        if how[name] == "omitted":
            components[name] = {**delivery, "from": old}
            continue
        if how[name] == "same":
            components[name] = {**delivery, "from": old, "to": dict(old)}
            continue
        reads: dict[str, list[int]] = {}
        for q in queues:
            before_reads = old_reads[name].get(q)
            options: list[st.SearchStrategy[list[int] | None]] = []
            if before_reads is not None:
                options.append(st.just(_sorted(set(before_reads) | new_present[q])))
                if new_present[q]:
                    options.append(st.just(_sorted(new_present[q])))
            if not tidy or before_reads is None or new_present[q] <= set(before_reads):
                options.append(st.just(before_reads))
            if not tidy:
                options += [
                    st.just(None),
                    st.sets(st.sampled_from(SCHEMAS), min_size=1).map(_sorted),
                ]
            after_reads = draw(st.one_of(*options))
            if after_reads is not None:
                reads[q] = after_reads
        components[name] = {
            **delivery,
            "from": old,
            "to": {"version": "2", "reads": reads, "writes": new_writes[name]},
        }
    return manifest_data(components)


def _plan_or_none(manifest: Manifest) -> Plan | None:
    try:
        return plan_release(manifest)
    except InfeasibleReleaseError as exc:
        issues = exc.issues
    assert issues, "InfeasibleReleaseError without issues"
    return None


# -- properties ----------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(releases())
def test_planner_against_verifier_and_brute_force(data: dict[str, Any]) -> None:
    """Properties (a)-(e) on one stream of examples (one generation cost for all of them)."""
    manifest = manifest_from_data(data)
    plan = _plan_or_none(manifest)
    # (d) deterministic, also under a different component order; waves sorted.
    _assert_deterministic(data, plan)
    order = find_safe_order(manifest)
    event("feasible" if order is not None else "infeasible")
    if plan is not None:
        kinds = sorted({c.kind for c in plan.constraints})
        event(f"plan: {len(plan.waves)} waves, {len(plan.drains)} drains")
        event(f"constraint kinds: {kinds}")
        # Steer generation towards plans with many waves and drains (targeted PBT).
        target(float(len(plan.waves)), label="waves")
        target(float(len(plan.drains)), label="drains")
    if order is not None:
        # The oracle and the verifier agree with each other: a safe order verifies.
        assert_plan_safe(manifest, sequential_plan(manifest, order))
    # (a) every plan returned is safe, and (e) none of its orders and drains is superfluous.
    if plan is not None:
        assert_plan_safe(manifest, plan)
        _assert_each_order_and_drain_needed(manifest, plan)
    # (b) infeasible only when no sequential order is safe; (c) feasible when one is.
    assert (plan is not None) == (order is not None), (
        f"planner {'returned a plan' if plan else 'said infeasible'}, brute force found "
        f"{order if order is not None else 'no safe order'}"
    )


def _assert_each_order_and_drain_needed(manifest: Manifest, plan: Plan) -> None:
    """Moving a constraint's `after` into its `before`'s wave, or dropping a drain, is unsafe."""
    for con in plan.constraints:
        consumer = con.before if con.kind == "consumer-first" else con.after
        waves = [[n for n in wave if n != con.after] for wave in plan.waves]
        waves[plan.wave_of(con.before) or 0].append(con.after)
        loose = plan.model_copy(update={"waves": [w for w in waves if w], "constraints": []})
        problems = verify_plan(manifest, loose)
        assert any(p.startswith("wave") and f": {consumer}@" in p for p in problems), (
            f"constraint {con.before} before {con.after} ({con.kind} on {con.queue}) looks "
            f"unnecessary: with both in one wave the verifier finds {problems}"
        )
    for drain in plan.drains:
        rest = [d for d in plan.drains if d != drain]
        problems = verify_plan(manifest, plan.model_copy(update={"drains": rest}))
        assert problems, f"drain {drain} looks unnecessary"


def _assert_deterministic(data: dict[str, Any], plan: Plan | None) -> None:
    """Same manifest, and the same manifest with its components reversed: identical JSON."""
    reordered = dict(data, components=dict(reversed(list(data["components"].items()))))
    for again in (data, reordered):
        other = _plan_or_none(manifest_from_data(again))
        if plan is None or other is None:
            assert plan is None
            assert other is None
            continue
        assert plan.model_dump_json(by_alias=True) == other.model_dump_json(by_alias=True)
    if plan is not None:
        for wave in plan.waves:
            assert wave == sorted(wave)
        assert plan.unchanged == sorted(plan.unchanged)


# -- hand-written examples -----------------------------------------------------------------------


def v(
    version: str, reads: dict[str, list[int]] | None = None, writes: dict[str, int] | None = None
) -> dict[str, Any]:
    return {"version": version, "reads": reads or {}, "writes": writes or {}}


def _swap(plan: Plan, i: int, j: int) -> Plan:
    waves = list(plan.waves)
    waves[i], waves[j] = waves[j], waves[i]
    return plan.model_copy(update={"waves": waves})


def test_seed_consumer_first() -> None:
    manifest = load_manifest(EXAMPLES / "seed.yaml")
    plan = plan_release(manifest)
    assert plan.waves == [["enrich"], ["ingest"]]
    assert verify_plan(manifest, plan) == []
    assert find_safe_order(manifest) == ["enrich", "ingest"]
    # Swapped waves: enrich@17 meets schema 2, and the constraint is broken.
    problems = verify_plan(manifest, _swap(plan, 0, 1))
    assert any("enrich before ingest" in p for p in problems)
    wrong = _swap(plan, 0, 1).model_copy(update={"constraints": []})
    problems = verify_plan(manifest, wrong)
    assert any("enrich@17 reads orders [1] but orders may hold [2]" in p for p in problems)
    # One wave: ingest and enrich in parallel is not safe either.
    assert verify_plan(manifest, plan.model_copy(update={"waves": [["enrich", "ingest"]]}))


def _drain_chain() -> Manifest:
    """p -> q -> c -> r -> d, each step producer-first with a drain of schema 1."""
    return make_manifest(
        {
            "p": {"from": v("1", writes={"q": 1}), "to": v("2", writes={"q": 2})},
            "c": {
                "from": v("1", reads={"q": [1, 2]}, writes={"r": 1}),
                "to": v("2", reads={"q": [2]}, writes={"r": 2}),
            },
            "d": {"from": v("1", reads={"r": [1, 2]}), "to": v("2", reads={"r": [2]})},
        }
    )


def test_producer_first_drain_chain() -> None:
    manifest = _drain_chain()
    plan = plan_release(manifest)
    assert plan.waves == [["p"], ["c"], ["d"]]
    assert verify_plan(manifest, plan) == []
    assert [(d.queue, d.schema_, d.after, d.before) for d in plan.drains] == [
        ("q", 1, ["p"], ["c"]),
        ("r", 1, ["c"], ["d"]),
    ]
    # Drop a drain: c@2 may meet schema 1 left in q.
    dropped = plan.model_copy(update={"drains": plan.drains[1:]})
    problems = verify_plan(manifest, dropped)
    assert problems
    assert all("c@2 reads q [2] but q may hold [1]" in p for p in problems)
    # A drain that cannot take effect yet: p and c in one wave.
    merged = plan.model_copy(update={"waves": [["c", "p"], ["d"]], "constraints": []})
    problems = verify_plan(manifest, merged)
    assert any("['p'] in `after` are not fully new yet" in p for p in problems)
    assert any("live versions of ['p'] still write it" in p for p in problems)


def test_fanout_example() -> None:
    manifest = load_manifest(EXAMPLES / "fanout.yaml")
    plan = plan_release(manifest)
    assert verify_plan(manifest, plan) == []
    assert find_safe_order(manifest) is not None
    # Reverse the waves: several consumers meet schema 2 too early.
    reverse = plan.model_copy(update={"waves": plan.waves[::-1], "constraints": []})
    assert verify_plan(manifest, reverse)


def test_fan_in_drain_needs_every_writer() -> None:
    manifest = make_manifest(
        {
            "p1": {"from": v("1", writes={"q": 1}), "to": v("2", writes={"q": 2})},
            "p2": {"from": v("1", writes={"q": 1}), "to": v("2", writes={"q": 2})},
            "c": {"from": v("1", reads={"q": [1, 2]}), "to": v("2", reads={"q": [2]})},
        }
    )
    plan = plan_release(manifest)
    assert verify_plan(manifest, plan) == []
    # Wrong: c shifts next to p2, drained "after p1" only; p2@1 still writes schema 1.
    wrong = Plan(
        release=plan.release,
        waves=[["p1"], ["c", "p2"]],
        constraints=[],
        drains=[Drain(queue="q", schema_=1, after=["p1"], before=["c"])],
        unchanged=[],
    )
    problems = verify_plan(manifest, wrong)
    assert any("live versions of ['p2'] still write it" in p for p in problems)
    assert any("c@2 reads q [2] but q may hold [1]" in p for p in problems)


def test_verifier_rejects_malformed_plans() -> None:
    manifest = load_manifest(EXAMPLES / "seed.yaml")
    plan = plan_release(manifest)
    missing = plan.model_copy(update={"waves": [["enrich"]]})
    assert "changed component 'ingest' is in no wave" in verify_plan(manifest, missing)
    extra = plan.model_copy(update={"waves": [["enrich"], ["ingest", "store"]]})
    assert "wave 1 lists unchanged component 'store'" in verify_plan(manifest, extra)
    backwards = plan.model_copy(
        update={
            "constraints": [
                Constraint(
                    before="ingest",
                    after="enrich",
                    queue="orders",
                    kind="consumer-first",
                    reason="",
                )
            ]
        }
    )
    assert any("ingest before enrich" in p for p in verify_plan(manifest, backwards))


def test_infeasible_example() -> None:
    manifest = load_manifest(EXAMPLES / "infeasible.yaml")
    with pytest.raises(InfeasibleReleaseError):
        plan_release(manifest)
    assert find_safe_order(manifest) is None


def test_inconsistent_initial_state_is_a_violation() -> None:
    manifest = make_manifest(
        {
            "p": {"from": v("1", writes={"q": 2})},
            "c": {"from": v("1", reads={"q": [1]}), "to": v("2", reads={"q": [1]})},
        }
    )
    plan = Plan(release="r1", waves=[["c"]], constraints=[], drains=[], unchanged=["p"])
    assert any(p.startswith("initial state") for p in verify_plan(manifest, plan))
    assert find_safe_order(manifest) is None


def test_verifier_models_delivery() -> None:
    """Alias delivery: c@2 drops q but still receives it; per-version: it never receives q."""
    components = {
        "p": {"from": v("1", writes={"q": 1}), "to": v("2", writes={"q": 1})},
        "c": {"from": v("1", reads={"q": [1], "r": [1]}), "to": v("2", reads={"r": [1]})},
    }
    alias = make_manifest(components)
    one_wave = Plan(release="r1", waves=[["c", "p"]], constraints=[], drains=[], unchanged=[])
    problems = verify_plan(alias, one_wave)
    assert any("c@2 reads q [] but q may hold [1]" in p for p in problems)
    assert find_safe_order(alias) is None  # p keeps writing q: c@2 can never go live
    with pytest.raises(InfeasibleReleaseError):
        plan_release(alias)
    per_version = make_manifest({**components, "c": {"delivery": "per-version", **components["c"]}})
    assert verify_plan(per_version, one_wave) == []
    assert plan_release(per_version).waves == [["c", "p"]]
