"""Small builders shared by the test layers."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.model.load import manifest_from_data
from orchestrator.model.manifest import Manifest


def queue(name: str) -> dict[str, str]:
    return {"url": f"https://sqs.eu-west-2.amazonaws.com/111122223333/{name}"}


def manifest_data(components: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Manifest data whose queues are every queue the components name."""
    names: set[str] = set()
    for spec in components.values():
        for side in ("from", "to"):
            version = spec.get(side) or {}
            names.update(version.get("reads", {}), version.get("writes", {}))
    data: dict[str, Any] = {
        "release": "r1",
        "queues": {q: queue(q) for q in sorted(names)},
        "components": {name: {"function": name, **spec} for name, spec in components.items()},
    }
    data.update(extra)
    return data


def make_manifest(components: dict[str, Any], **extra: Any) -> Manifest:
    return manifest_from_data(manifest_data(components, **extra))


class MemoryRecords:
    """An in-memory ``RecordStore`` for tests of pure step logic."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, object]] = {}

    def put(self, release: str, kind: str, item: Mapping[str, object]) -> None:
        self.items[(release, kind)] = json.loads(json.dumps(dict(item), default=str))

    def put_new(self, release: str, kind: str, item: Mapping[str, object]) -> bool:
        if (release, kind) in self.items:
            return False
        self.put(release, kind, item)
        return True

    def get(self, release: str, kind: str) -> dict[str, object] | None:
        found = self.items.get((release, kind))
        return None if found is None else dict(found)

    def delete(self, release: str, kind: str) -> None:
        self.items.pop((release, kind), None)

    def list(
        self, release: str, prefix: str, limit: int | None = None
    ) -> list[tuple[str, dict[str, object]]]:
        return sorted(
            (kind, dict(item))
            for (rel, kind), item in self.items.items()
            if rel == release and kind.startswith(prefix)
        )[:limit]

    def count(self, release: str, prefix: str) -> int:
        return len(self.kinds(release, prefix))

    def kinds(self, release: str, prefix: str, limit: int | None = None) -> Sequence[str]:
        return [kind for kind, _ in self.list(release, prefix, limit)]
