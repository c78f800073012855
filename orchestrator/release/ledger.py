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
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
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

    def readers_of(self, queue: str) -> tuple[str, ...]:
        """Every component that reads ``queue`` in a version this release knows (its ``from``,
        its ``to``, an accepted hotfix), sorted."""
        return self._readers.get(queue, ())

    def schemas_on(self, queue: str) -> tuple[str, ...]:
        """Every schema a known version writes or reads on ``queue``, as text, sorted."""
        return self._schemas.get(queue, ())

    @cached_property
    def _readers(self) -> dict[str, tuple[str, ...]]:
        return self._queue_index[0]

    @cached_property
    def _schemas(self) -> dict[str, tuple[str, ...]]:
        return self._queue_index[1]

    @cached_property
    def _queue_index(self) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
        # Built once per context (a context never changes: a new hotfix makes a new one), so that
        # the lookups of every look and drain poll cost O(answer), not O(components) each.
        readers: dict[str, set[str]] = {}
        schemas: dict[str, set[str]] = {}
        for name, comp in self.manifest.resolved.items():
            for spec in (comp.from_, comp.to, *self.known_versions(name).values()):
                for queue, read in spec.reads.items():
                    readers.setdefault(queue, set()).add(name)
                    schemas.setdefault(queue, set()).update(str(s) for s in read)
                for queue, written in spec.writes.items():
                    schemas.setdefault(queue, set()).add(str(written))
        return (
            {queue: tuple(sorted(names)) for queue, names in readers.items()},
            {queue: tuple(sorted(found)) for queue, found in schemas.items()},
        )

    def scaled(self, seconds: float) -> int:
        """A Wait duration under the run's time scale (ASL SecondsPath needs an integer)."""
        return round(seconds * self.options.time_scale)


_cache: dict[tuple[str, str], ReleaseContext] = {}
_cache_lock = threading.Lock()

CONTEXT_PART_BYTES = 300_000
"""The context (manifest, plan, options) is stored in parts of at most this many bytes of JSON:
a DynamoDB item holds 400 KB, and a release of thousands of components needs several."""
PART_KIND = "context-part#"


def write_context_document(records: RecordStore, release: str, item: dict[str, Any]) -> None:
    """Store the context document in parts (``context-part#<k>``), then its header
    (``context``: the part count and a digest, so readers can tell a new version from the one
    they cached without reading the parts)."""
    body = json.dumps(item, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]
    parts = [body[i : i + CONTEXT_PART_BYTES] for i in range(0, len(body), CONTEXT_PART_BYTES)]
    for index, chunk in enumerate(parts or [""]):
        records.put(release, f"{PART_KIND}{digest}#{index:05d}", {"chunk": chunk})
    previous = records.get(release, "context")
    records.put(release, "context", {"digest": digest, "parts": max(1, len(parts))})
    old = str((previous or {}).get("digest") or "")
    if old and old != digest:  # the superseded version's parts
        for kind, _ in records.list(release, f"{PART_KIND}{old}#"):
            records.delete(release, kind)


CONTEXT_READ_ATTEMPTS = 5
"""Reads of a context being rewritten at the same moment (each attempt sees a newer header)."""

MANIFEST_PART_KIND = "manifest-part#"
INLINE_INPUT_BYTES = 200_000
"""Above this size the manifest goes to the ledger and the execution input names it (Step
Functions refuses an input over 256 KiB)."""


def store_manifest(records: RecordStore, release: str, manifest_data: dict[str, Any]) -> str:
    """Store a manifest too large for the execution input, in parts; returns its digest (the
    input's ``manifest_ref``). Idempotent: the same manifest has the same digest."""
    body = json.dumps(manifest_data, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]
    parts = [body[i : i + CONTEXT_PART_BYTES] for i in range(0, len(body), CONTEXT_PART_BYTES)]
    for index, chunk in enumerate(parts):
        records.put(release, f"{MANIFEST_PART_KIND}{digest}#{index:05d}", {"chunk": chunk})
    records.put(release, f"{MANIFEST_PART_KIND}{digest}", {"parts": len(parts)})
    return digest


def load_manifest_ref(records: RecordStore, release: str, digest: str) -> dict[str, Any]:
    """The manifest ``store_manifest`` stored under ``digest``; ``ReleaseNotFoundError`` when
    it is not (all) there."""
    header = records.get(release, f"{MANIFEST_PART_KIND}{digest}")
    chunks = records.list(release, f"{MANIFEST_PART_KIND}{digest}#")
    if header is None or len(chunks) != int(str(header.get("parts", -1))):
        raise ReleaseNotFoundError(
            f"the execution input names manifest {digest} of release {release!r}, but the "
            "ledger does not hold it (all): start the release with `rollout start`, which "
            "stores it first"
        )
    body = "".join(str(item.get("chunk", "")) for _, item in chunks)
    if hashlib.sha256(body.encode("utf-8")).hexdigest()[:32] != digest:
        raise ReleaseNotFoundError(f"the stored manifest {digest} of {release!r} is corrupt")
    document: dict[str, Any] = json.loads(body)
    return document


def execution_input(
    records: RecordStore, manifest_data: dict[str, Any], options: dict[str, Any]
) -> str:
    """The execution input for a manifest: inline when it fits, else a ``manifest_ref`` to the
    copy stored in the ledger (``{"release", "digest"}``)."""
    inline = json.dumps({"manifest": manifest_data, "options": options})
    if len(inline.encode("utf-8")) <= INLINE_INPUT_BYTES:
        return inline
    release = str(manifest_data.get("release"))
    digest = store_manifest(records, release, manifest_data)
    return json.dumps({"manifest_ref": {"release": release, "digest": digest}, "options": options})


def _read_context(records: RecordStore, release: str) -> tuple[str, dict[str, Any]]:
    """``(digest, document)`` of the stored context; a context written whole (before parts)
    reads as it is."""
    header = records.get(release, "context")
    for _ in range(CONTEXT_READ_ATTEMPTS):
        if header is None:
            raise ReleaseNotFoundError(f"no plan is stored for release {release!r}")
        if "digest" not in header:
            return json.dumps(header, sort_keys=True, default=str), dict(header)
        digest = str(header["digest"])
        chunks = records.list(release, f"{PART_KIND}{digest}#")
        if len(chunks) == int(str(header.get("parts", 0))):
            body = "".join(str(item.get("chunk", "")) for _, item in chunks)
            document: dict[str, Any] = json.loads(body)
            return digest, document
        # A writer replaced this version between the two reads (its parts are written before
        # its header, the old parts deleted after): the header now names a complete one.
        again = records.get(release, "context")
        if again is not None and str(again.get("digest")) == digest:
            break
        header = again
    raise ReleaseNotFoundError(
        f"the stored plan of release {release!r} is incomplete: its header names parts that "
        "are not all stored; it is being rewritten, retry"
    )


def context_document(records: RecordStore, release: str) -> dict[str, Any]:
    """The stored context document (manifest, plan, options, resolved ``from``, hotfixes)."""
    return _read_context(records, release)[1]


def save_context(
    records: RecordStore,
    release: str,
    manifest_data: dict[str, Any],
    plan: Plan,
    options: RunOptions,
    resolved_from: dict[str, str],
) -> None:
    write_context_document(
        records,
        release,
        {
            "manifest": manifest_data,
            "plan": plan.model_dump(mode="json", by_alias=True),
            "options": options.model_dump(mode="json"),
            "resolved_from": resolved_from,
        },
    )


def load_context(records: RecordStore, release: str) -> ReleaseContext:
    header = records.get(release, "context")
    if header is None:
        raise ReleaseNotFoundError(f"no plan is stored for release {release!r}")
    if "digest" in header:
        # one small read per step: the parts only when this version is not cached yet
        key = (release, str(header["digest"]))
        with _cache_lock:
            cached = _cache.get(key)
        if cached is not None:
            return cached
        _, item = _read_context(records, release)
    else:
        item = dict(header)
        key = (release, json.dumps(item, sort_keys=True, default=str))
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
        resolved_from=dict(item.get("resolved_from") or {}),
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
    _, item = _read_context(records, release)
    hotfixes = dict(item.get("hotfixes") or {})
    hotfixes[component] = [*hotfixes.get(component, []), spec.model_dump(mode="json")]
    write_context_document(records, release, {**item, "hotfixes": hotfixes})


def replace_plan(records: RecordStore, release: str, plan: Plan) -> None:
    _, item = _read_context(records, release)
    write_context_document(
        records, release, {**item, "plan": plan.model_dump(mode="json", by_alias=True)}
    )


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


REPORT_FINAL_KIND = "report-final#"


def store_report(records: RecordStore, release: str, document: dict[str, Any]) -> None:
    """Store the final report so that no item grows with the release: one ``report-final#<c>``
    per component, the moves already are ``action#`` items, and the ``report`` header keeps the
    rest (status, failure, rounds, hotfixes, findings: bounded by the rounds, not the size)."""
    final = document.get("final") or {}
    for name, summary in final.items():
        records.put(release, f"{REPORT_FINAL_KIND}{name}", summary)
    header = {k: v for k, v in document.items() if k not in ("final", "actions")}
    header["components"] = len(final)
    header["actions_count"] = len(document.get("actions") or [])
    records.put(release, "report", header)


def load_report(records: RecordStore, release: str) -> dict[str, Any] | None:
    """The whole final report (as the Report step built it), or None before there is one."""
    header = records.get(release, "report")
    if header is None:
        return None
    if "final" in header:  # stored whole (before reports were stored in parts)
        return dict(header)
    document = {k: v for k, v in header.items() if k not in ("components", "actions_count")}
    document["final"] = {
        kind.removeprefix(REPORT_FINAL_KIND): item
        for kind, item in records.list(release, REPORT_FINAL_KIND)
    }
    document["actions"] = [a.model_dump(mode="json") for a in actions(records, release)]
    return document


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
