"""The live routing of every component's alias in the emulated account (moto's ``GetAlias``).

Reading every alias on every simulated window is most of a large dry run's time, so the routing
is cached between alias moves when the runner reports them (:meth:`AliasWeights.watch`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.errors import ResourceMissingError
from orchestrator.local.traffic_model import EPSILON
from orchestrator.model.manifest import Component

__all__ = ["AliasWeights", "routing_fractions"]


def routing_fractions(alias: Mapping[str, Any]) -> dict[str, float]:
    """A ``GetAlias`` answer as version -> fraction of traffic (0..1), weightless ones left out."""
    extra = {
        str(v): float(w)
        for v, w in (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights", {}).items()
        if float(w) > 0
    }
    weights = dict(extra)
    primary = max(0.0, 1.0 - sum(extra.values()))
    if primary > EPSILON:
        primary_version = str(alias["FunctionVersion"])
        weights[primary_version] = weights.get(primary_version, 0.0) + primary
    return weights


class AliasWeights:
    """Every component's alias routing; ``lam`` returns the (shared) Lambda client."""

    def __init__(
        self,
        components: Mapping[str, Component],
        lam: Callable[[], Any],
        lock: threading.RLock | None = None,
    ) -> None:
        self._components = components
        self._lam = lam
        self._lock = lock if lock is not None else threading.RLock()
        """The simulator shares its own: no move lands while it simulates a window."""
        self._cache: dict[str, dict[str, float]] | None = None
        self._moves_reported = False

    def invalidate(self) -> None:
        """Forget the cached routing (call after any alias move)."""
        with self._lock:
            self._cache = None

    def live(self) -> dict[str, dict[str, float]]:
        """component -> version -> fraction of traffic (0..1)."""
        with self._lock:
            if self._cache is not None and self._moves_reported:
                return {name: dict(w) for name, w in self._cache.items()}
        weights = self._read()
        with self._lock:
            self._cache = weights
        return {name: dict(w) for name, w in weights.items()}

    def watch(self) -> Callable[[str, str, Mapping[str, float] | None], None]:
        """Opt into the cache; returns the callback to call after every alias move."""
        with self._lock:
            self._moves_reported = True
        return self.moved

    def moved(self, function: str, alias: str, weights: Mapping[str, float] | None) -> None:
        """An alias moved to ``weights`` (percent; None when unknown: the cache is dropped)."""
        with self._lock:
            if self._cache is None:
                return
            names = [
                n
                for n, c in self._components.items()
                if c.function_name == function.rsplit(":", 1)[-1] and c.alias == alias
            ]
            if weights is None or not names:
                self._cache = None
                return
            for name in names:
                self._cache[name] = {v: w / 100.0 for v, w in weights.items() if w > 0}

    def _read(self) -> dict[str, dict[str, float]]:
        lam = self._lam()
        out: dict[str, dict[str, float]] = {}
        for name, comp in self._components.items():
            try:
                alias = lam.get_alias(FunctionName=comp.function_name, Name=comp.alias)
            except ClientError as exc:
                if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                    raise ResourceMissingError(
                        f"alias {comp.function_name}:{comp.alias} does not exist: "
                        "call seed_account() first",
                        resource=f"{comp.function_name}:{comp.alias}",
                    ) from None
                raise
            out[name] = routing_fractions(alias)
        return out
