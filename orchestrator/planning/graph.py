"""Ordering graph helpers: longest-path layering (waves) and cycle finding. Pure, O(V + E)."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence, Set


def longest_path_layers(
    nodes: Sequence[str], successors: Mapping[str, Set[str]]
) -> list[list[str]] | None:
    """Layer ``nodes`` so every edge goes to a strictly later layer, each node as early as it can.

    Returns the layers with names sorted, or None when the graph has a cycle.
    """
    indegree = dict.fromkeys(nodes, 0)
    for node in nodes:
        for succ in successors.get(node, ()):
            indegree[succ] += 1
    layer = dict.fromkeys(nodes, 0)
    ready = deque(node for node in nodes if indegree[node] == 0)
    seen = 0
    while ready:
        node = ready.popleft()
        seen += 1
        for succ in successors.get(node, ()):
            layer[succ] = max(layer[succ], layer[node] + 1)
            indegree[succ] -= 1
            if indegree[succ] == 0:
                ready.append(succ)
    if seen != len(nodes):
        return None
    count = max(layer.values(), default=-1) + 1
    layers: list[list[str]] = [[] for _ in range(count)]
    for node in nodes:
        layers[layer[node]].append(node)
    return [sorted(names) for names in layers]


def find_cycle(nodes: Sequence[str], successors: Mapping[str, Set[str]]) -> list[str]:
    """One cycle of the graph, as ``[a, b, c]`` meaning a -> b -> c -> a; deterministic.

    Strips the nodes that cannot be on a cycle (no predecessor left), then walks predecessors from
    the smallest remaining node until a node repeats.
    """
    predecessors: dict[str, set[str]] = {node: set() for node in nodes}
    for node in nodes:
        for succ in successors.get(node, ()):
            predecessors[succ].add(node)
    indegree = {node: len(preds) for node, preds in predecessors.items()}
    queue = deque(node for node in nodes if indegree[node] == 0)
    removed: set[str] = set()
    while queue:
        node = queue.popleft()
        removed.add(node)
        for succ in successors.get(node, ()):
            indegree[succ] -= 1
            if indegree[succ] == 0:
                queue.append(succ)
    remaining = sorted(set(nodes) - removed)
    if not remaining:
        raise ValueError("the graph has no cycle")
    path: list[str] = []
    position: dict[str, int] = {}
    node = remaining[0]
    while node not in position:
        position[node] = len(path)
        path.append(node)
        node = min(p for p in predecessors[node] if p not in removed)
    cycle = path[position[node] :]
    cycle.reverse()  # we walked predecessors; report in edge direction
    start = cycle.index(min(cycle))
    return cycle[start:] + cycle[:start]
