"""Event-driven scheduling on the constraint DAG (pure).

A component may start shifting as soon as every constraint into it is satisfied: each
``before`` of a constraint whose ``after`` it is has been promoted (consumer-first and
producer-first edges alike; the drain a producer-first edge implies is awaited by the component's
own shift, since it can only start once those producers are cut over). Waves stay the plan's
human-readable summary; they are not barriers.

When more components are ready than ``max_concurrency`` allows, the one with the longest remaining
path goes first (critical-path list scheduling): its *rank* is its own nominal duration plus the
longest rank among its successors. Ties break by name, so the order is deterministic.

Everything here is O(V + E) over the plan and takes no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from orchestrator.model.plan import Plan

__all__ = [
    "Dag",
    "critical_path",
    "dag_of",
    "execution_name",
    "ranks",
]

MAX_EXECUTION_NAME = 80
"""Step Functions' limit on an execution name."""


@dataclass(frozen=True)
class Dag:
    """The components a plan shifts and the order constraints between them."""

    nodes: tuple[str, ...]
    """In plan order (wave by wave, names sorted within a wave)."""
    predecessors: Mapping[str, frozenset[str]]
    successors: Mapping[str, frozenset[str]]

    def ready(self, name: str, done: Callable[[str], bool]) -> bool:
        """Whether every predecessor of ``name`` is done (a root always is)."""
        return all(done(p) for p in self.predecessors.get(name, ()))

    def roots(self) -> list[str]:
        return [n for n in self.nodes if not self.predecessors.get(n)]


def dag_of(plan: Plan) -> Dag:
    """The constraint DAG of ``plan`` over the components it shifts."""
    nodes = tuple(name for wave in plan.waves for name in wave)
    members = set(nodes)
    preds: dict[str, set[str]] = {n: set() for n in nodes}
    succs: dict[str, set[str]] = {n: set() for n in nodes}
    for constraint in plan.constraints:
        if constraint.before in members and constraint.after in members:
            preds[constraint.after].add(constraint.before)
            succs[constraint.before].add(constraint.after)
    return Dag(
        nodes=nodes,
        predecessors={n: frozenset(p) for n, p in preds.items()},
        successors={n: frozenset(s) for n, s in succs.items()},
    )


def ranks(dag: Dag, duration: Callable[[str], float]) -> dict[str, float]:
    """Each component's longest remaining path: its duration plus its successors' longest rank.

    Plan order is a topological order (every constraint goes to a later wave), so one backwards
    pass suffices.
    """
    out: dict[str, float] = {}
    for name in reversed(dag.nodes):
        tail = max((out[s] for s in dag.successors.get(name, ())), default=0.0)
        out[name] = duration(name) + tail
    return out


def critical_path(dag: Dag, duration: Callable[[str], float]) -> tuple[float, list[str]]:
    """The length of the longest path through the DAG and the path itself (roots first)."""
    rank = ranks(dag, duration)
    if not rank:
        return 0.0, []
    start = max(dag.roots(), key=lambda n: (rank[n], _neg(n)))
    path = [start]
    while True:
        succs = dag.successors.get(path[-1], frozenset())
        if not succs:
            break
        path.append(max(succs, key=lambda n: (rank[n], _neg(n))))
    return rank[start], path


def _neg(name: str) -> tuple[int, ...]:
    """A key that sorts names in reverse, so ``max`` breaks ties by the smallest name."""
    return tuple(-ord(c) for c in name)


def priority_order(names: Iterable[str], rank: Mapping[str, float]) -> list[str]:
    """``names`` by descending rank, then by name."""
    return sorted(names, key=lambda n: (-rank.get(n, 0.0), n))


def execution_name(release: str, component: str, round_: int) -> str:
    """The child execution's name: deterministic per release, component and roll-forward round,
    so a retried start finds the same execution; at most 80 characters."""
    name = f"{release}--{component}--r{round_}"
    if len(name) <= MAX_EXECUTION_NAME:
        return name
    import hashlib

    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    keep = MAX_EXECUTION_NAME - len(digest) - len(f"--r{round_}") - 1
    return f"{name[:keep]}-{digest}--r{round_}"
