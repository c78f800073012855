"""Who receives what in a dry run, and how often it fails (pure: no AWS, no moto).

A version is known by its spec in the manifest (``from``, ``to``), the scenario (``hotfixes``) or,
for a hotfix handed over by hand (``rollout hotfix``), the declarations ``ApplyHotfix`` received
(:meth:`DeliveryModel.learn_hotfix`); any other version is taken to behave as ``from``.

Delivery follows the component's ``delivery`` (DESIGN §4). ``alias`` (the default): an SQS event
source mapping targets the function or its alias, so every live version of a component receives
its share of every queue the component reads in *any* of its versions that has been live: ``from``,
``to``, and every hotfix version once it had weight in a simulated window (its mapping exists from
when it ships, and stays). ``per-version``: a version receives only the queues its own spec reads.

A delivery of a schema the receiving version does not declare reading always fails; otherwise the
scenario's ``error_rate`` and ``errors_on`` say how often it does (:meth:`DeliveryModel.failure`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from orchestrator.local.scenario import Scenario
from orchestrator.model.manifest import Component, Manifest, VersionSpec

__all__ = ["DeliveryModel", "Schema"]

Schema = int | str


class DeliveryModel:
    """The declarations and delivery rule of every component version of one release."""

    def __init__(
        self, manifest: Manifest, scenario: Scenario, lock: threading.RLock | None = None
    ) -> None:
        self.manifest = manifest
        self._queue_index = {queue: i for i, queue in enumerate(manifest.queues)}
        """Manifest order of the queues (``delivered`` sorts by it: O(k log k), not O(queues))."""
        self.scenario = scenario
        self.components: dict[str, Component] = manifest.resolved
        self._lock = lock if lock is not None else threading.RLock()
        """The simulator shares its own: nothing changes while it simulates a window."""
        self._from_versions: dict[str, str] = {}
        self._learned: dict[tuple[str, str], VersionSpec] = {}
        self._been_live: dict[str, set[str]] = {}  # component -> versions that had weight
        self._alias_queue_cache: dict[str, frozenset[str]] = {}

    def set_from_version(self, name: str, version: str) -> None:
        """The version the alias was on when the account was seeded (``from`` without one)."""
        with self._lock:
            self._from_versions[name] = version

    def spec_of(self, name: str, version: str) -> VersionSpec:
        """What ``version`` of component ``name`` reads and writes (unknown: as ``from``)."""
        comp = self.components[name]
        if version == comp.to.version:
            return comp.to
        if version == (comp.from_.version or self._from_versions.get(name)):
            return comp.from_
        for hotfix in self.scenario.hotfixes_for(name):
            if hotfix.version == version:
                return hotfix.as_version_spec()
        with self._lock:
            learned = self._learned.get((name, version))
        return comp.from_ if learned is None else learned

    def learn_hotfix(self, hotfix: Mapping[str, Any]) -> None:
        """Take the declarations of a hotfix handed to the release (``ApplyHotfix``'s input) for a
        version the manifest and the scenario do not know (``rollout hotfix`` of a version
        published by hand): it then receives what it says it reads."""
        name, version = hotfix.get("component"), hotfix.get("version")
        if not isinstance(name, str) or name not in self.components or version is None:
            return
        version = str(version)
        comp = self.components[name]
        known = {comp.from_.version, comp.to.version}
        known |= {h.version for h in self.scenario.hotfixes_for(name)}
        if version in known:
            return
        try:
            spec = VersionSpec.model_validate(
                {
                    "version": version,
                    "reads": hotfix.get("reads") or {},
                    "writes": hotfix.get("writes") or {},
                }
            )
        except ValueError:
            return  # ApplyHotfix refuses it with the reason; nothing to simulate
        with self._lock:
            self._learned[(name, version)] = spec
            self._alias_queue_cache.pop(name, None)

    def mark_live(self, weights: Mapping[str, Mapping[str, float]]) -> None:
        """Remember every version that has weight in a window (its alias mapping stays)."""
        with self._lock:
            for name, per in weights.items():
                seen = self._been_live.setdefault(name, set())
                if not seen.issuperset(per):
                    seen.update(per)
                    self._alias_queue_cache.pop(name, None)

    def delivered(self, name: str, version: str) -> list[str]:
        """The manifest queues whose messages reach ``name@version``, in manifest order."""
        comp = self.components[name]
        wanted: frozenset[str]
        if comp.delivery == "per-version":
            wanted = frozenset(self.spec_of(name, version).reads)
        else:
            wanted = self._alias_queues(name)
        index = self._queue_index
        return sorted((q for q in wanted if q in index), key=index.__getitem__)

    def _alias_queues(self, name: str) -> frozenset[str]:
        with self._lock:
            cached = self._alias_queue_cache.get(name)
            if cached is None:
                comp = self.components[name]
                specs = [comp.from_, comp.to]
                specs += [self.spec_of(name, v) for v in sorted(self._been_live.get(name, ()))]
                cached = frozenset(q for spec in specs for q in spec.reads)
                self._alias_queue_cache[name] = cached
            return cached

    def reads(self, name: str, version: str, queue: str, schema: Schema) -> bool:
        """Whether ``name@version`` declares reading ``schema`` on ``queue``."""
        return schema in self.spec_of(name, version).reads.get(queue, ())

    def writes(self, name: str, version: str) -> Mapping[str, Schema]:
        """queue -> the schema ``name@version`` writes there."""
        return self.spec_of(name, version).writes

    def error_rate(self, name: str, version: str) -> float:
        return self.scenario.behaviour(name, version).error_rate

    def failure(self, name: str, version: str, queue: str, schema: Schema) -> float:
        """Fraction of the messages of ``schema`` on ``queue`` that ``name@version`` fails on:
        all of them when it does not read that schema, else as the scenario says."""
        if not self.reads(name, version, queue, schema):
            return 1.0
        behaviour = self.scenario.behaviour(name, version)
        rate = behaviour.error_rate
        return rate + (1.0 - rate) * behaviour.schema_failure(queue, schema)
