"""The planner: from a validated manifest to waves, constraints and drains (DESIGN §4).

Pure and linear in the size of the graph: queues index their producers and consumers once, every
producer/consumer pair of a queue is classified by ``compatibility.classify``, the ordering edges
form a graph whose longest-path layers are the waves. Every infeasible edge and a cycle, if any, are
reported together in one ``InfeasibleReleaseError``.

A consumer's read sets follow its delivery (``compatibility.effective_reads``): with ``alias`` (the
default) a version that does not list a queue its other version reads still receives it and reads
no schema of it (empty set); with ``per-version`` it never receives it (None, accepts everything).
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from orchestrator.errors import InfeasibleReleaseError, InputError, Issue
from orchestrator.model.manifest import Component, Manifest, VersionSpec, schema_sort_key
from orchestrator.model.plan import Constraint, Drain, Edge, Plan
from orchestrator.planning.compatibility import (
    EdgeKind,
    SchemaT,
    classify,
    effective_reads,
)
from orchestrator.planning.graph import find_cycle, longest_path_layers


@dataclass(frozen=True, slots=True)
class EdgeFacts:
    """Everything known about one producer -> queue -> consumer pair."""

    producer: Component
    queue: str
    consumer: Component
    o: SchemaT | None
    n: SchemaT | None
    ro: frozenset[SchemaT] | None
    rn: frozenset[SchemaT] | None

    kind: EdgeKind


def edges(components: Iterable[Component]) -> list[EdgeFacts]:
    """Every producer -> queue -> consumer pair, in a deterministic order."""
    comps = sorted(components, key=lambda c: c.name)
    producers: dict[str, list[Component]] = defaultdict(list)
    consumers: dict[str, list[Component]] = defaultdict(list)
    reads: dict[str, tuple[dict[str, frozenset[SchemaT]], dict[str, frozenset[SchemaT]]]] = {}
    for comp in comps:
        for queue in sorted(comp.from_.writes.keys() | comp.to.writes.keys()):
            producers[queue].append(comp)
        queues = comp.from_.reads.keys() | comp.to.reads.keys()  # = read_queues(comp)
        if queues:
            for queue in sorted(queues):
                consumers[queue].append(comp)
            reads[comp.name] = (
                effective_reads(comp, comp.from_, queues),
                effective_reads(comp, comp.to, queues),
            )
    out: list[EdgeFacts] = []
    for queue in sorted(producers):
        readers = [
            (consumer, reads[consumer.name][0].get(queue), reads[consumer.name][1].get(queue))
            for consumer in consumers.get(queue, ())
        ]
        for producer in producers[queue]:
            o, n = producer.from_.writes.get(queue), producer.to.writes.get(queue)
            for consumer, ro, rn in readers:
                out.append(
                    EdgeFacts(producer, queue, consumer, o, n, ro, rn, classify(o, n, ro, rn))
                )
    return out


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while planning.

    Planning allocates tens of thousands of small acyclic objects; at 10,000 components that
    triggers full collections over the whole manifest, which cost as much as the planning itself
    and made the time grow faster than the graph (measured in tests/bench/bench_planner.py).
    Nothing planned here forms a cycle, so reference counting frees it all the same.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def plan_release(manifest: Manifest) -> Plan:
    """Plan a release, or raise InfeasibleReleaseError explaining every unsafe edge.

    A manifest with ``from: live`` components is refused (an InputError naming each) until
    ``planning.live_from.fill_from_live`` filled them: what they read and write is unknown."""
    if manifest.live_from:
        raise InputError(
            [
                Issue(
                    f"components.{name}.from",
                    "`from: live` is filled from the live alias and the ledger's last release "
                    "when the release starts: `rollout start` and `rollout dry-run` fill it; "
                    "to plan without the account, give the mapping `from: {version: ..., "
                    "reads: ..., writes: ...}`",
                )
                for name in manifest.live_from
            ]
        )
    with _collector_paused():
        return _plan(manifest)


def _plan(manifest: Manifest) -> Plan:
    components = manifest.resolved
    is_unchanged = {name: comp.unchanged for name, comp in components.items()}
    changed = sorted(name for name, same in is_unchanged.items() if not same)
    unchanged = sorted(name for name, same in is_unchanged.items() if same)

    problems: list[Issue] = []
    constraints: dict[tuple[str, str, str], Constraint] = {}
    drains: dict[tuple[str, SchemaT], tuple[set[str], set[str]]] = {}
    edge_records: list[Edge] = []

    for edge in edges(components.values()):
        kind = edge.kind
        p, c = edge.producer, edge.consumer
        edge_records.append(
            Edge(producer=p.name, queue=edge.queue, consumer=c.name, kind=kind.value)
        )
        if kind is EdgeKind.NONE:
            continue
        if kind is EdgeKind.INFEASIBLE:
            problems.append(Issue(_fix_path(edge), explain_infeasible(edge)))
            continue
        if p.name == c.name:
            problems.append(Issue(_fix_path(edge), explain_self_edge(edge, kind)))
            continue
        if is_unchanged[p.name] or is_unchanged[c.name]:
            continue  # the unchanged side never moves, so the order is met by construction
        if kind is EdgeKind.CONSUMER_FIRST:
            key = (c.name, p.name, edge.queue)
            constraints[key] = Constraint.model_construct(
                before=c.name,
                after=p.name,
                queue=edge.queue,
                kind="consumer-first",
                reason=_consumer_first_reason(edge),
            )
        else:
            key = (p.name, c.name, edge.queue)
            constraints[key] = Constraint.model_construct(
                before=p.name,
                after=c.name,
                queue=edge.queue,
                kind="producer-first-drain",
                reason=_producer_first_reason(edge),
            )
            assert edge.o is not None  # row 3 needs an old schema that the new consumer rejects
            drain_after, drain_before = drains.setdefault((edge.queue, edge.o), (set(), set()))
            drain_after.add(p.name)
            drain_before.add(c.name)

    successors: dict[str, set[str]] = {name: set() for name in changed}
    for before, after, _queue in constraints:
        successors[before].add(after)

    layers = longest_path_layers(changed, successors)
    if layers is None:
        cycle = find_cycle(changed, successors)
        problems.append(Issue(f"components.{cycle[0]}", _explain_cycle(cycle, constraints)))
    if problems:
        raise InfeasibleReleaseError(problems)
    assert layers is not None

    return Plan.model_construct(
        release=manifest.release,
        waves=layers,
        constraints=[constraints[key] for key in sorted(constraints)],
        drains=[
            Drain(queue=queue, schema_=schema, after=sorted(after), before=sorted(before))
            for (queue, schema), (after, before) in sorted(
                drains.items(), key=lambda item: (item[0][0], schema_sort_key(item[0][1]))
            )
        ],
        unchanged=unchanged,
        edges=edge_records,
    )


# -- explanations --------------------------------------------------------------------------------


def fmt_reads(reads: frozenset[SchemaT] | None) -> str:
    if reads is None:
        return "does not read it"
    if not reads:
        return "reads [] (it does not list the queue, but the alias delivers it)"
    return "reads [" + ", ".join(str(s) for s in sorted(reads, key=schema_sort_key)) + "]"


def fmt_write(schema: SchemaT | None) -> str:
    return "does not write it" if schema is None else f"writes schema {schema}"


def _v(version: VersionSpec) -> str:
    return version.version if version.version is not None else "(live)"


def describe_edge(edge: EdgeFacts) -> str:
    p, c, q = edge.producer, edge.consumer, edge.queue
    return (
        f"{p.name} -> {q} -> {c.name}: {p.name}@{_v(p.from_)} {fmt_write(edge.o)}, "
        f"{p.name}@{_v(p.to)} {fmt_write(edge.n)}; {c.name}@{_v(c.from_)} {fmt_reads(edge.ro)}, "
        f"{c.name}@{_v(c.to)} {fmt_reads(edge.rn)}"
    )


def _fix_path(edge: EdgeFacts) -> str:
    """Where a fix usually goes: what the consumer's new version reads on the queue."""
    side = "to" if edge.rn is not None else "from"
    return f"components.{edge.consumer.name}.{side}.reads.{edge.queue}"


def _both(edge: EdgeFacts) -> str:
    schemas = sorted({s for s in (edge.o, edge.n) if s is not None}, key=schema_sort_key)
    return "[" + ", ".join(str(s) for s in schemas) + "]"


def explain_infeasible(edge: EdgeFacts) -> str:
    c, q = edge.consumer, edge.queue
    why: list[str] = []
    if not _ok(edge.rn, edge.o) and not _ok(edge.ro, edge.n):
        why.append(
            f"{c.name}@{_v(c.to)} cannot read schema {edge.o} (still in {q} until drained) and "
            f"{c.name}@{_v(c.from_)} cannot read schema {edge.n} (written as soon as "
            f"{edge.producer.name} shifts), so neither order is safe"
        )
    elif not _ok(edge.rn, edge.n):
        why.append(
            f"{c.name}@{_v(c.to)} cannot read schema {edge.n} that the producer's new "
            "version writes"
        )
    else:
        why.append(
            f"{c.name}@{_v(c.from_)} cannot read what is in {q} now (schema {edge.o}), "
            "so the live system is already incompatible on this edge"
        )
    hint = ""
    if edge.ro == frozenset() or edge.rn == frozenset():
        hint = (
            f". A version of {c.name} that does not list {q} still receives it, because the "
            f"event source mapping targets the alias (delivery: alias); if {c.name}'s mapping of "
            f"{q} is per version or created/removed outside the release, declare "
            "`delivery: per-version`"
        )
    return (
        f"no safe order for {describe_edge(edge)}. {why[0]}. Fix (expand/contract): release an "
        f"intermediate {c.name} version that reads {q} {_both(edge)} first (or together with "
        f"{edge.producer.name}), and drop the old schema in a later release{hint}"
    )


def _ok(reads: frozenset[SchemaT] | None, schema: SchemaT | None) -> bool:
    return schema is None or reads is None or schema in reads


def explain_self_edge(edge: EdgeFacts, kind: EdgeKind) -> str:
    c, q = edge.consumer, edge.queue
    return (
        f"{c.name} reads and writes {q}, and while it shifts its old and new versions run side by "
        f"side and read each other's messages ({describe_edge(edge)}); that needs a "
        f"{kind.value} order of {c.name} with itself, which is impossible. Fix (expand/contract): "
        f"make both versions read {q} {_both(edge)}"
    )


def _consumer_first_reason(edge: EdgeFacts) -> str:
    p, c = edge.producer, edge.consumer
    return (
        f"{c.name}@{_v(c.from_)} {fmt_reads(edge.ro)} on {edge.queue} and cannot read schema "
        f"{edge.n} that {p.name}@{_v(p.to)} writes; {c.name}@{_v(c.to)} {fmt_reads(edge.rn)}: "
        f"{c.name} must be fully on {_v(c.to)} before {p.name} shifts"
    )


def _producer_first_reason(edge: EdgeFacts) -> str:
    p, c = edge.producer, edge.consumer
    return (
        f"{c.name}@{_v(c.to)} {fmt_reads(edge.rn)} on {edge.queue} and cannot read schema "
        f"{edge.o} that {p.name}@{_v(p.from_)} writes: {p.name} must be fully on {_v(p.to)} "
        f"and {edge.queue} drained of schema {edge.o} before {c.name} shifts"
    )


def _explain_cycle(cycle: list[str], constraints: dict[tuple[str, str, str], Constraint]) -> str:
    steps: list[str] = []
    for before, after in zip(cycle, cycle[1:] + cycle[:1], strict=True):
        reason = next(
            (con for (b, a, _q), con in sorted(constraints.items()) if b == before and a == after),
            None,
        )
        detail = f" ({reason.kind} on {reason.queue}: {reason.reason})" if reason else ""
        steps.append(f"{before} before {after}{detail}")
    ring = " -> ".join([*cycle, cycle[0]])
    return (
        f"the ordering constraints form a cycle {ring}: " + "; ".join(steps) + ". No order "
        "satisfies all of them. Fix (expand/contract): let one consumer on the cycle read both "
        "schemas of its queue, so that its edge needs no order"
    )
