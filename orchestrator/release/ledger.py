"""The release ledger: what this release planned, did and saw, kept in the record store.

Records per release (``kind`` keys):

* ``context``: the manifest data, the plan and the run options (written once by ValidateAndPlan);
* ``component#<name>``: the alias state this release last left, status, verdicts, cutover time;
* ``action#<component>#<n>``: the component's n-th alias move (the report's ``actions``, sorted by
  time), written once even when a step is retried after its effect;
* ``drain#<wave>``: when the drain check of a wave started;
* ``flag#frozen`` / ``flag#abort``: roll-forward freeze and abort requests;
* ``rollforward``: the failure being handled, what a hotfix must satisfy, the rounds so far;
* ``hotfix-token``: the task token of a waiting release (never logged);
* ``report``: the final report.

The roll-forward path reads the live aliases and this ledger, never which Map iterations claim to
have finished (DESIGN §6).
"""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from orchestrator.errors import ReleaseNotFoundError
from orchestrator.model.load import manifest_from_data
from orchestrator.model.manifest import Component, Manifest, VersionSpec
from orchestrator.model.plan import Plan
from orchestrator.model.steps import AliasMove, ComponentRecord, RollForwardRecord, RunOptions

if TYPE_CHECKING:
    from orchestrator.ports import RecordStore


@dataclass(frozen=True)
class ReleaseContext:
    manifest: Manifest
    plan: Plan
    options: RunOptions
    resolved_from: dict[str, str]
    """component -> its alias version at the start (fills an omitted ``from.version``)."""
    original: Manifest
    """The manifest as started; ``manifest`` has accepted hotfixes as the components' ``to``."""
    hotfixes: dict[str, list[VersionSpec]]

    def component(self, name: str) -> Component:
        return self.manifest.component(name)

    def from_version(self, name: str) -> str:
        comp = self.manifest.component(name)
        return comp.from_.version or self.resolved_from[name]

    def to_version(self, name: str) -> str:
        comp = self.manifest.component(name)
        return comp.to.version or self.from_version(name)

    def known_versions(self, name: str) -> dict[str, VersionSpec]:
        """Every version of a component this release knows the reads/writes of."""
        comp = self.original.component(name)
        out = {self.from_version(name): comp.from_}
        if comp.to.version is not None:
            out[comp.to.version] = comp.to
        for spec in self.hotfixes.get(name, []):
            assert spec.version is not None
            out[spec.version] = spec
        return out

    def scaled(self, seconds: float) -> int:
        """A Wait duration under the run's time scale (ASL SecondsPath needs an integer)."""
        return round(seconds * self.options.time_scale)


_cache: dict[tuple[str, str], ReleaseContext] = {}
_cache_lock = threading.Lock()


def save_context(
    records: RecordStore,
    release: str,
    manifest_data: dict[str, Any],
    plan: Plan,
    options: RunOptions,
    resolved_from: dict[str, str],
) -> None:
    records.put(
        release,
        "context",
        {
            "manifest": manifest_data,
            "plan": plan.model_dump(mode="json", by_alias=True),
            "options": options.model_dump(mode="json"),
            "resolved_from": resolved_from,
        },
    )


def load_context(records: RecordStore, release: str) -> ReleaseContext:
    item = records.get(release, "context")
    if item is None:
        raise ReleaseNotFoundError(f"no plan is stored for release {release!r}")
    digest = json.dumps(item, sort_keys=True, default=str)
    key = (release, digest)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    manifest_data = item["manifest"]
    assert isinstance(manifest_data, dict)
    raw_hotfixes = item.get("hotfixes") or {}
    assert isinstance(raw_hotfixes, dict)
    hotfixes = {
        name: [VersionSpec.model_validate(spec) for spec in specs]
        for name, specs in raw_hotfixes.items()
    }
    effective = copy.deepcopy(manifest_data)
    for name, specs in hotfixes.items():
        effective["components"][name]["to"] = specs[-1].model_dump(mode="json", exclude_none=True)
    original = manifest_from_data(manifest_data)
    context = ReleaseContext(
        manifest=manifest_from_data(effective) if hotfixes else original,
        plan=Plan.model_validate(item["plan"]),
        options=RunOptions.model_validate(item["options"]),
        resolved_from=dict(item.get("resolved_from") or {}),  # type: ignore[call-overload]
        original=original,
        hotfixes=hotfixes,
    )
    with _cache_lock:
        if len(_cache) > 64:
            _cache.clear()
        _cache[key] = context
    return context


def add_hotfix(records: RecordStore, release: str, component: str, spec: VersionSpec) -> None:
    """Make ``spec`` the component's new version for the rest of the release."""
    item = records.get(release, "context")
    if item is None:
        raise ReleaseNotFoundError(f"no plan is stored for release {release!r}")
    hotfixes = dict(item.get("hotfixes") or {})  # type: ignore[call-overload]
    hotfixes[component] = [*hotfixes.get(component, []), spec.model_dump(mode="json")]
    records.put(release, "context", {**item, "hotfixes": hotfixes})


def replace_plan(records: RecordStore, release: str, plan: Plan) -> None:
    item = records.get(release, "context")
    if item is None:
        raise ReleaseNotFoundError(f"no plan is stored for release {release!r}")
    records.put(release, "context", {**item, "plan": plan.model_dump(mode="json", by_alias=True)})


def base_version(context: ReleaseContext, record: ComponentRecord) -> str:
    """The version a component stands on: the last one Promote confirmed, else ``from``.

    Every shift of the component starts from it (DESIGN §4: promotion is one-way).
    """
    return record.promoted[-1] if record.promoted else context.from_version(record.component)


def superseded_versions(context: ReleaseContext, record: ComponentRecord) -> set[str]:
    """Versions a later promotion replaced on this alias: they never get weight again."""
    history = [context.from_version(record.component), *record.promoted]
    return set(history[:-1]) - {history[-1]}


def get_component(records: RecordStore, release: str, name: str) -> ComponentRecord:
    item = records.get(release, f"component#{name}")
    if item is None:
        return ComponentRecord(component=name)
    return ComponentRecord.model_validate(item)


def put_component(records: RecordStore, release: str, record: ComponentRecord) -> None:
    records.put(release, f"component#{record.component}", record.model_dump(mode="json"))


def all_components(records: RecordStore, release: str) -> dict[str, ComponentRecord]:
    return {
        kind.removeprefix("component#"): ComponentRecord.model_validate(item)
        for kind, item in records.list(release, "component#")
    }


def append_action(records: RecordStore, release: str, move: AliasMove, index: int) -> None:
    """Record ``move`` as the ``index``-th move of its component, once.

    The key is deterministic (``action#<component>#<index>``) and written with ``put_new``, so a
    step retried after its effect (a lost reply, a throttled write after the move) never records
    a move twice, and a retry that finds the move done records it if it is missing.
    """
    item = {**move.model_dump(mode="json"), "seq": time.time_ns()}
    records.put_new(release, f"action#{move.component}#{index:06d}", item)


def actions(records: RecordStore, release: str) -> list[AliasMove]:
    """Every alias move of the release, in the order they happened."""
    items = [item for _, item in records.list(release, "action#")]
    items.sort(key=lambda item: (str(item.get("at", "")), int(str(item.get("seq", 0)))))
    return [AliasMove.model_validate(item) for item in items]


def get_rollforward(records: RecordStore, release: str) -> RollForwardRecord:
    item = records.get(release, "rollforward")
    return RollForwardRecord() if item is None else RollForwardRecord.model_validate(item)


def put_rollforward(records: RecordStore, release: str, record: RollForwardRecord) -> None:
    records.put(release, "rollforward", record.model_dump(mode="json"))


def set_flag(records: RecordStore, release: str, flag: str, reason: str, at: datetime) -> None:
    records.put(release, f"flag#{flag}", {"reason": reason, "at": at.isoformat()})


def flag(records: RecordStore, release: str, name: str) -> dict[str, object] | None:
    return records.get(release, f"flag#{name}")


def flags(records: RecordStore, release: str) -> dict[str, dict[str, object]]:
    """Every flag of the release in one query: ``{"abort": {...}, "frozen": {...}}``."""
    return {kind.removeprefix("flag#"): item for kind, item in records.list(release, "flag#")}


def clear_flag(records: RecordStore, release: str, name: str) -> None:
    records.delete(release, f"flag#{name}")
