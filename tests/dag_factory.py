"""Manifests whose constraint DAG is given edge by edge (shared by scheduling tests)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tests.factories import manifest_data


def dag_manifest(
    nodes: Iterable[str],
    edges: Iterable[tuple[str, str]],
    *,
    bake: Mapping[str, int] | None = None,
    steps: Mapping[str, list[float]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Manifest data where every ``(u, v)`` edge is a consumer-first constraint "u before v":
    ``v`` starts writing schema 2 on queue ``u-v`` and ``u``'s new version reads 1 and 2 there.
    Every component shifts (from version 1 to 2); ``bake``/``steps`` set its strategy."""
    names = list(nodes)
    spec: dict[str, dict[str, Any]] = {
        n: {
            "from": {"version": "1", "reads": {}, "writes": {}},
            "to": {"version": "2", "reads": {}, "writes": {}},
        }
        for n in names
    }
    for u, v in edges:
        q = f"{u}-{v}"
        spec[v]["from"]["writes"][q] = 1
        spec[v]["to"]["writes"][q] = 2
        spec[u]["from"]["reads"][q] = [1]
        spec[u]["to"]["reads"][q] = [1, 2]
    for n in names:
        strategy: dict[str, Any] = {}
        if bake and n in bake:
            strategy["bake_seconds"] = bake[n]
        if steps and n in steps:
            strategy["steps"] = steps[n]
        if strategy:
            spec[n]["strategy"] = strategy
    return manifest_data(spec, **extra)
