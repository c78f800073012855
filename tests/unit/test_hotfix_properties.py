"""Property test of ``check_hotfix`` against a brute-force model of the hotfix's canary.

Hypothesis draws small random live states (2-3 components, 2-3 queues, schemas 1-3, each component
delivered through its alias or per version, canaries at any weight, queues that may hold what any
version ever wrote minus what was drained, components still to shift) and a random hotfix of one
component. The model below is written from DESIGN §4 and the rules of ApplyHotfix, not from
``planning``: during the hotfix's first step the component runs the hotfix and its *base* (the other
live version, or the broken one when it is alone: the hotfix takes over the broken version's
share). It checks, in that state and for the versions the rest of the plan will make live:

V1. the hotfix receives no schema it does not read (queued, written by any live version, by the
    base, by itself, or by a pending component's new version);
V2. no other receiver (a live version of another component, a pending component's new version,
    the base) gets a schema the hotfix writes that it does not read;
V3. under alias delivery, a queue the hotfix starts reading also reaches the base, which must then
    read everything that may be there.

A version receives every queue its component reads in any known version under ``alias`` delivery
(reading nothing of those it does not list), only the queues it lists under ``per-version``.

The property: ``check_hotfix`` accepts a hotfix only if none of V1-V3 happens, and its live checks
(every issue except the replan's "the rest of the plan") refuse exactly when one happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from orchestrator.model.load import manifest_from_data
from orchestrator.model.manifest import VersionSpec
from orchestrator.planning.hotfix import check_hotfix
from orchestrator.planning.safety import live_state
from tests.factories import manifest_data, queue

SCHEMAS = (1, 2, 3)
HOTFIX = "9"
SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Reads = dict[str, frozenset[int]]
Writes = dict[str, int]


@dataclass(frozen=True)
class Version:
    reads: Reads
    writes: Writes

    def data(self, number: str) -> dict[str, Any]:
        reads = {q: sorted(s) for q, s in self.reads.items()}
        return {"version": number, "reads": reads, "writes": dict(self.writes)}


@dataclass(frozen=True)
class Case:
    queues: tuple[str, ...]
    delivery: dict[str, str]
    versions: dict[str, dict[str, Version]]  # component -> "1" (from) / "2" (to, if changed)
    weights: dict[str, dict[str, float]]
    ever_live: dict[str, list[str]]
    drained: dict[str, list[int]]
    pending: list[str]
    component: str
    hotfix: Version
    live_from: bool


@st.composite
def versions(draw: st.DrawFn, queues: tuple[str, ...]) -> Version:
    reads = draw(
        st.dictionaries(
            st.sampled_from(queues),
            st.frozensets(st.sampled_from(SCHEMAS), min_size=1),
            max_size=2,
        )
    )
    writes = draw(st.dictionaries(st.sampled_from(queues), st.sampled_from(SCHEMAS), max_size=2))
    return Version(reads, writes)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    queues = tuple(f"q{i}" for i in range(draw(st.integers(2, 3))))
    names = [f"c{i}" for i in range(draw(st.integers(2, 3)))]
    delivery = {n: draw(st.sampled_from(["alias", "per-version"])) for n in names}
    specs: dict[str, dict[str, Version]] = {}
    weights: dict[str, dict[str, float]] = {}
    ever: dict[str, list[str]] = {}
    for name in names:
        specs[name] = {"1": draw(versions(queues))}
        if draw(st.booleans()):
            specs[name]["2"] = draw(versions(queues))
            weights[name] = draw(
                st.sampled_from(
                    [{"1": 100.0}, {"2": 100.0}, {"1": 90.0, "2": 10.0}, {"1": 50.0, "2": 50.0}]
                )
            )
            ever[name] = draw(st.lists(st.sampled_from(["1", "2"]), unique=True))
        else:
            weights[name] = {"1": 100.0}
    drained = draw(
        st.dictionaries(st.sampled_from(queues), st.lists(st.sampled_from(SCHEMAS), unique=True))
    )
    changed = [n for n in names if "2" in specs[n]]
    pending = draw(st.lists(st.sampled_from(changed), unique=True)) if changed else []
    return Case(
        queues=queues,
        delivery=delivery,
        versions=specs,
        weights=weights,
        ever_live=ever,
        drained=drained,
        pending=pending,
        component=draw(st.sampled_from(names)),
        hotfix=draw(versions(queues)),
        live_from=draw(st.booleans()),
    )


# -- the brute-force model -----------------------------------------------------------------------


def violations(case: Case) -> list[str]:
    h = case.component

    def known(name: str, with_hotfix: bool) -> list[Version]:
        out = list(case.versions[name].values())
        return [*out, case.hotfix] if name == h and with_hotfix else out

    def receives(name: str, version: Version, with_hotfix: bool = True) -> set[str]:
        if case.delivery[name] == "per-version":
            return set(version.reads)
        return {q for other in known(name, with_hotfix) for q in other.reads}

    def reads(version: Version, q: str) -> frozenset[int]:
        return version.reads.get(q, frozenset())

    live = {
        name: [case.versions[name][v] for v, w in by_weight.items() if w > 0]
        for name, by_weight in case.weights.items()
    }
    h_live = [v for v, w in case.weights[h].items() if w > 0]
    broken = "2" if "2" in case.versions[h] else "1"
    base_number = h_live[0] if len(h_live) == 1 else next(v for v in h_live if v != broken)
    base = case.versions[h][base_number]
    planned = {name: case.versions[name]["2"] for name in case.pending if name != h}

    may_hold: dict[str, set[int]] = {q: set() for q in case.queues}
    for name, numbers in case.ever_live.items():
        for number in numbers:
            for q, s in case.versions[name][number].writes.items():
                may_hold[q].add(s)
    for q, schemas in case.drained.items():
        may_hold[q] -= set(schemas)
    writers = [v for versions in live.values() for v in versions]
    writers += [base, case.hotfix, *planned.values()]
    for version in writers:
        for q, s in version.writes.items():
            may_hold[q].add(s)

    found: list[str] = []
    for q in sorted(receives(h, case.hotfix)):
        if may_hold[q] - reads(case.hotfix, q):
            found.append(f"V1: the hotfix gets {sorted(may_hold[q])} on {q}")
    receivers = [(name, v) for name, versions in live.items() if name != h for v in versions]
    receivers += [*planned.items(), (h, base)]
    for q, s in sorted(case.hotfix.writes.items()):
        for name, version in receivers:
            if q in receives(name, version) and s not in reads(version, q):
                found.append(f"V2: {name} gets schema {s} on {q} from the hotfix")
    if case.delivery[h] == "alias":
        before = {q for v in known(h, with_hotfix=False) for q in v.reads}
        for q in sorted(set(case.hotfix.reads) - before):
            if may_hold[q] - reads(base, q):
                found.append(f"V3: the base {h}@{base_number} gets {sorted(may_hold[q])} on {q}")
    return found


# -- the property --------------------------------------------------------------------------------


@SETTINGS
@given(cases())
def test_check_hotfix_never_accepts_a_hotfix_that_makes_a_message_unreadable(case: Case) -> None:
    components: dict[str, Any] = {}
    for name, by_number in case.versions.items():
        entry: dict[str, Any] = {
            "delivery": case.delivery[name],
            "from": by_number["1"].data("1"),
        }
        if "2" in by_number:
            entry["to"] = by_number["2"].data("2")
        components[name] = entry
    data = manifest_data(components)
    data["queues"] = {q: queue(q) for q in case.queues}
    manifest = manifest_from_data(data)
    state = live_state(manifest, case.weights, ever_live=case.ever_live, drained=case.drained)
    live_from = None
    if case.live_from:
        live_from = {
            name: VersionSpec.model_validate(
                case.versions[name][max(by_weight)].data(max(by_weight))
            )
            for name, by_weight in case.weights.items()
            if len(by_weight) == 1
        }
    hotfix = VersionSpec.model_validate(case.hotfix.data(HOTFIX))
    issues = check_hotfix(
        manifest, state, case.component, hotfix, case.pending, live_from=live_from
    )
    live_issues = [i for i in issues if not i.message.startswith("the rest of the plan")]
    found = violations(case)
    event("accepted" if not issues else "refused by the replan" if not live_issues else "refused")
    event(f"violations: {len(found)}")
    assert not (found and not issues), f"accepted although {found}"
    assert bool(found) == bool(live_issues), (
        f"model: {found or 'safe'}; check_hotfix: {[(i.path, i.message) for i in live_issues]}"
    )
