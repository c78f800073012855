"""Small builders shared by the test layers."""

from __future__ import annotations

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
