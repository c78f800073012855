"""An independent checker of release plans, written from first principles (DESIGN §3, §4).

It does not use the planner's edge classification (``orchestrator.planning.compatibility``) or its
graph code: it simulates the live system instead, state by state. Two entry points:

* ``verify_plan(manifest, plan)`` lists everything wrong with a plan (empty list: the plan is safe);
* ``find_safe_order(manifest)`` searches every sequential order of the changed components for a
  safe one (the brute-force oracle for infeasibility).

The semantics
-------------

*Components.* A changed component moves ``old -> mixed -> new``: in ``mixed`` both its ``from`` and
its ``to`` version are live (any weights, including in-flight invocations of the old one). An
unchanged component never moves: its one version is live throughout (old = new).

*Waves.* Waves run one after another; inside a wave the members move in parallel, so any
combination of {old, mixed, new} among the members of the current wave can be live at once, while
every member of an earlier wave is new and every member of a later wave is old.

*Queues.* A queue can hold every schema that a live version of any producer writes to it now, plus
every schema written to it at any earlier point (residue). The initial content is what the all-old
producers write. Moves are monotone, so the residue at a state is what the old versions of all
producers wrote plus what the new versions of the components that have left ``old`` wrote.

*Drains.* A plan's drain ``{queue, schema, after, before}`` removes ``schema`` from ``queue``. It
takes effect at the boundary just before the first wave that contains a ``before`` component, and
it may only do so if, at that boundary (earlier waves all new, the rest old), every component in
``after`` is fully new and no live version of any producer writes ``schema`` to ``queue``. If those
preconditions do not hold the plan is wrong. After a drain, the schema comes back only if a
version that goes live later writes it.

*Violations.*

- In some reachable state, a live version of a consumer that receives a queue could receive a
  schema it does not list. This includes the initial state (before any move). Which queues reach
  a version depends on the component's delivery: ``alias`` (the default; the event source mapping
  targets the alias) delivers every queue that either version of the component lists to both
  versions, and a version that does not list one of them reads nothing of it (every schema there
  is foreign to it); ``per-version`` delivers to a version only the queues it lists.
- The waves miss a changed component, list one twice, include an unchanged or unknown component, or
  contain an empty wave.
- A constraint whose ``before`` is not in an earlier wave than its ``after``.
- A drain that names an unknown queue or component, has no ``before`` in the waves, or whose
  preconditions do not hold when it takes effect.

*Checking a wave.* The verifier enumerates all 3^k member states of a wave of k members when that
is small (``exhaustive_limit``), and otherwise checks the all-mixed state, which dominates every
other state of the wave: a mixed member has a superset of the live versions of an old or a new one,
and contributes a superset of their writes to the residue, so content and live readers are both
largest there (drains only act between waves).

The brute-force oracle moves one changed component at a time (old -> mixed -> new) in every order;
between two moves it drains eagerly, i.e. removes from every queue each schema that no live
producer version writes any more (the most permissive drain policy). An order is safe when every
state on the way (including the initial one) is free of violations.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from orchestrator.model.manifest import Manifest, VersionSpec
from orchestrator.model.plan import Plan

Schema = int | str
Message = tuple[str, Schema]  # (queue, schema)
Phase = Literal["old", "mixed", "new"]
PHASES: tuple[Phase, ...] = ("old", "mixed", "new")


@dataclass(frozen=True)
class Side:
    """One version of a component: what it reads and writes, per queue."""

    version: str
    reads: Mapping[str, frozenset[Schema]]
    writes: frozenset[Message]

    @classmethod
    def of(cls, spec: VersionSpec, delivered: Iterable[str] = ()) -> Side:
        """``delivered``: queues the version receives even where it lists none of their schemas."""
        reads: dict[str, frozenset[Schema]] = {q: frozenset() for q in delivered}
        reads.update({q: frozenset(s) for q, s in spec.reads.items()})
        return cls(
            version=spec.version or "(live)",
            reads=reads,
            writes=frozenset(spec.writes.items()),
        )


@dataclass(frozen=True)
class Comp:
    name: str
    old: Side
    new: Side
    changed: bool

    def live(self, phase: Phase) -> tuple[Side, ...]:
        if not self.changed or phase == "old":
            return (self.old,)
        if phase == "mixed":
            return (self.old, self.new)
        return (self.new,)

    def writes_in(self, phase: Phase) -> frozenset[Message]:
        return frozenset().union(*(side.writes for side in self.live(phase)))


def components(manifest: Manifest) -> dict[str, Comp]:
    out: dict[str, Comp] = {}
    for name, c in manifest.resolved.items():
        # alias delivery: the mapping on the alias feeds both versions every queue either lists
        alias = set(c.from_.reads) | set(c.to.reads) if c.delivery == "alias" else set()
        out[name] = Comp(name, Side.of(c.from_, alias), Side.of(c.to, alias), not c.unchanged)
    return out


def _fmt(schemas: Iterable[Schema]) -> str:
    return "[" + ", ".join(str(s) for s in sorted(schemas, key=lambda s: (str(type(s)), s))) + "]"


def unsafe_reads(
    comps: Mapping[str, Comp], phases: Mapping[str, Phase], content: Iterable[Message]
) -> list[str]:
    """Every live consumer version that could receive a schema it does not list, in one state."""
    by_queue: dict[str, set[Schema]] = {}
    for queue, schema in content:
        by_queue.setdefault(queue, set()).add(schema)
    problems: list[str] = []
    for name in sorted(comps):
        comp = comps[name]
        for side in comp.live(phases.get(name, "old")):
            for queue, accepted in sorted(side.reads.items()):
                foreign = by_queue.get(queue, set()) - accepted
                if foreign:
                    problems.append(
                        f"{name}@{side.version} reads {queue} {_fmt(accepted)} but {queue} may "
                        f"hold {_fmt(foreign)}"
                    )
    return problems


def _describe(phases: Mapping[str, Phase]) -> str:
    moving = {n: p for n, p in sorted(phases.items())}
    return "{" + ", ".join(f"{n}: {p}" for n, p in moving.items()) + "}"


# -- the plan verifier ---------------------------------------------------------------------------


def verify_plan(manifest: Manifest, plan: Plan, *, exhaustive_limit: int = 4) -> list[str]:
    """Everything wrong with ``plan`` for ``manifest``; an empty list means the plan is safe."""
    comps = components(manifest)
    changed = {n for n, c in comps.items() if c.changed}
    problems: list[str] = []

    # Structure of the waves.
    wave_of: dict[str, int] = {}
    for index, wave in enumerate(plan.waves):
        if not wave:
            problems.append(f"wave {index} is empty")
        for name in wave:
            if name not in comps:
                problems.append(f"wave {index} lists unknown component {name!r}")
            elif name not in changed:
                problems.append(f"wave {index} lists unchanged component {name!r}")
            elif name in wave_of:
                problems.append(f"{name!r} is in waves {wave_of[name]} and {index}")
            else:
                wave_of[name] = index
    for name in sorted(changed - set(wave_of)):
        problems.append(f"changed component {name!r} is in no wave")
    if set(plan.unchanged) != set(comps) - changed:
        problems.append(
            f"unchanged lists {sorted(plan.unchanged)}, expected {sorted(set(comps) - changed)}"
        )

    # Constraints: before strictly earlier than after.
    for con in plan.constraints:
        wb, wa = wave_of.get(con.before), wave_of.get(con.after)
        if wb is None or wa is None or not wb < wa:
            problems.append(
                f"constraint {con.before} before {con.after} ({con.kind} on {con.queue}) does "
                f"not hold: waves {wb} and {wa}"
            )
    if problems:
        return problems  # the state simulation below assumes well-formed waves

    # Drains: when each takes effect, and whether it may.
    drains_at: dict[int, list[Message]] = {}
    writers_of: dict[Message, list[str]] = {}
    for name in sorted(comps):
        for message in comps[name].writes_in("mixed"):
            writers_of.setdefault(message, []).append(name)
    boundaries: dict[int, dict[str, Phase]] = {}
    for drain in plan.drains:
        label = f"drain of schema {drain.schema_} from {drain.queue}"
        if drain.queue not in manifest.queues:
            problems.append(f"{label}: unknown queue")
        unknown = [n for n in [*drain.after, *drain.before] if n not in comps]
        if unknown:
            problems.append(f"{label}: unknown components {unknown}")
            continue
        waves = [wave_of[n] for n in drain.before if n in wave_of]
        if not waves or len(waves) != len(drain.before):
            problems.append(f"{label}: `before` {drain.before} must name components in the waves")
            continue
        at = min(waves)
        # The state at the boundary before wave `at`: earlier waves new, the rest old.
        if at not in boundaries:
            boundaries[at] = _boundary(comps, wave_of, at)
        phases = boundaries[at]
        not_new = [n for n in drain.after if phases.get(n, "new") != "new" and comps[n].changed]
        if not_new:
            problems.append(f"{label} before wave {at}: {not_new} in `after` are not fully new yet")
        message = (drain.queue, drain.schema_)
        writers = [
            n
            for n in writers_of.get(message, [])
            if message in comps[n].writes_in(phases.get(n, "old"))
        ]
        if writers:
            problems.append(
                f"{label} before wave {at}: live versions of {writers} still write it there"
            )
        drains_at.setdefault(at, []).append((drain.queue, drain.schema_))

    # Simulate: the initial state, then each wave in every reachable combination.
    content: set[Message] = set()
    for comp in comps.values():
        content |= comp.old.writes
    initial = unsafe_reads(comps, {}, content)
    problems += [f"initial state: {p}" for p in initial]
    for index, wave in enumerate(plan.waves):
        for message in drains_at.get(index, []):
            content.discard(message)
        base = _boundary(comps, wave_of, index)
        if len(wave) <= exhaustive_limit:
            combos: Iterable[tuple[Phase, ...]] = itertools.product(PHASES, repeat=len(wave))
        else:
            combos = [tuple("mixed" for _ in wave)]
        seen: set[str] = set()
        for combo in combos:
            phases = dict(base)
            phases.update(zip(wave, combo, strict=True))
            now = set(content)  # residue, plus what every live version writes now
            for name, comp in comps.items():
                now |= comp.writes_in(phases.get(name, "old"))
            for problem in unsafe_reads(comps, phases, now):
                if problem not in seen:
                    seen.add(problem)
                    problems.append(f"wave {index}, state {_describe(phases)}: {problem}")
        for name in wave:
            content |= comps[name].writes_in("mixed")
    return problems


def _boundary(
    comps: Mapping[str, Comp], wave_of: Mapping[str, int], index: int
) -> dict[str, Phase]:
    """Phases just before wave ``index`` starts: earlier waves new, the others old."""
    return {
        name: ("new" if wave_of[name] < index else "old")
        for name, comp in comps.items()
        if comp.changed
    }


def assert_plan_safe(manifest: Manifest, plan: Plan) -> None:
    problems = verify_plan(manifest, plan)
    assert not problems, "unsafe plan:\n  " + "\n  ".join(problems)


# -- the brute-force oracle ----------------------------------------------------------------------


def find_safe_order(manifest: Manifest) -> list[str] | None:
    """A safe sequential order of the changed components, or None when there is none."""
    comps = components(manifest)
    changed = sorted(n for n, c in comps.items() if c.changed)
    content: frozenset[Message] = frozenset().union(*(c.old.writes for c in comps.values()))
    if unsafe_reads(comps, {}, content):
        return None
    failed: set[tuple[frozenset[str], frozenset[Message]]] = set()

    def search(done: frozenset[str], content: frozenset[Message]) -> list[str] | None:
        if len(done) == len(changed):
            return []
        if (done, content) in failed:
            return None
        for name in changed:
            if name in done:
                continue
            phases: dict[str, Phase] = {n: "new" for n in done}
            phases[name] = "mixed"
            mixed = content | frozenset().union(
                *(c.writes_in(phases.get(n, "old")) for n, c in comps.items())
            )
            if unsafe_reads(comps, phases, mixed):
                continue
            phases[name] = "new"
            if unsafe_reads(comps, phases, mixed):  # dominated by mixed; checked for clarity
                continue
            live: frozenset[Message] = frozenset().union(
                *(c.writes_in(phases.get(n, "old")) for n, c in comps.items())
            )
            rest = search(done | {name}, mixed & live)  # eager drain
            if rest is not None:
                return [name, *rest]
        failed.add((done, content))
        return None

    return search(frozenset(), content)


def sequential_plan(manifest: Manifest, order: Sequence[str]) -> Plan:
    """A one-component-per-wave plan for ``order`` with every drain the eager policy would do.

    Used to cross-check the verifier against the brute force: a safe order must verify.
    """
    from orchestrator.model.plan import Drain

    comps = components(manifest)
    content: set[Message] = set().union(*(c.old.writes for c in comps.values()))
    drains: list[Drain] = []
    phases: dict[str, Phase] = {}
    for index, name in enumerate(order):
        if index > 0:
            live = set().union(*(c.writes_in(phases.get(n, "old")) for n, c in comps.items()))
            for queue, schema in sorted(content - live, key=str):
                drains.append(
                    Drain(queue=queue, schema_=schema, after=list(order[:index]), before=[name])
                )
            content &= live
        content |= comps[name].new.writes
        phases[name] = "new"
    return Plan(
        release=manifest.release,
        waves=[[n] for n in order],
        constraints=[],
        drains=drains,
        unchanged=sorted(n for n, c in comps.items() if not c.changed),
    )
