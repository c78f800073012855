"""Rollback safety (DESIGN §4): may a component be pulled back to an older version right now?

Pulling component X back to version T is safe only if

1. T reads every schema that may still reach it: what its queues may hold now, and what every live
   version of every producer of those queues writes (X itself writing at T after the move), and
2. every live version of every other consumer of the queues T writes reads what T writes.

The live state is data the caller observed (alias weights) plus what may be in each queue (every
schema written there by a version that was live during the release, minus what was proven drained).
The workflow never moves an alias back unless ``rollback_safety`` says safe.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from orchestrator.model.manifest import Manifest, VersionSpec, schema_sort_key
from orchestrator.planning.compatibility import SchemaT


@dataclass(frozen=True)
class VersionIO:
    """What one version of a component reads and writes, per queue."""

    version: str
    reads: Mapping[str, frozenset[SchemaT]] = field(default_factory=dict)
    writes: Mapping[str, SchemaT] = field(default_factory=dict)

    @classmethod
    def of(cls, spec: VersionSpec, version: str | None = None) -> VersionIO:
        return cls(
            version=version or spec.version or "",
            reads={q: frozenset(s) for q, s in spec.reads.items()},
            writes=dict(spec.writes),
        )


@dataclass(frozen=True)
class LiveState:
    """Observed state: live versions per component and what each queue may hold.

    ``live`` maps component -> the versions receiving traffic (weight > 0) with what they read and
    write; ``queue_schemas`` maps queue -> schemas that may be in it now.
    """

    live: Mapping[str, tuple[VersionIO, ...]]
    queue_schemas: Mapping[str, frozenset[SchemaT]]

    def producers_of(self, queue: str) -> Iterable[tuple[str, VersionIO]]:
        for name, versions in self.live.items():
            for version in versions:
                if queue in version.writes:
                    yield name, version

    def consumers_of(self, queue: str) -> Iterable[tuple[str, VersionIO]]:
        for name, versions in self.live.items():
            for version in versions:
                if queue in version.reads:
                    yield name, version


@dataclass(frozen=True)
class SafetyVerdict:
    component: str
    target: str
    safe: bool
    reasons: tuple[str, ...] = ()

    def explain(self) -> str:
        if self.safe:
            return f"pulling {self.component} back to {self.target} is safe"
        return f"pulling {self.component} back to {self.target} is unsafe: " + "; ".join(
            self.reasons
        )


def _fmt(schemas: Iterable[SchemaT]) -> str:
    return "[" + ", ".join(str(s) for s in sorted(set(schemas), key=schema_sort_key)) + "]"


def rollback_safety(state: LiveState, component: str, target: VersionIO) -> SafetyVerdict:
    """Whether making ``target`` the only live version of ``component`` is safe now."""
    reasons: list[str] = []
    for queue, reads in sorted(target.reads.items()):
        incoming: dict[SchemaT, str] = {
            s: f"may be in {queue} already" for s in state.queue_schemas.get(queue, frozenset())
        }
        for name, version in state.producers_of(queue):
            if name == component:
                continue
            incoming.setdefault(version.writes[queue], f"{name}@{version.version} writes it")
        if queue in target.writes:
            incoming.setdefault(target.writes[queue], f"{component}@{target.version} writes it")
        unread = sorted((s for s in incoming if s not in reads), key=schema_sort_key)
        for schema in unread:
            reasons.append(
                f"{component}@{target.version} reads {queue} {_fmt(reads)} but schema {schema} "
                f"{incoming[schema]}"
            )
    for queue, schema in sorted(target.writes.items()):
        for name, version in state.consumers_of(queue):
            if name == component:
                continue
            if schema not in version.reads[queue]:
                reasons.append(
                    f"{name}@{version.version} reads {queue} {_fmt(version.reads[queue])} and "
                    f"cannot read schema {schema} that {component}@{target.version} writes"
                )
    return SafetyVerdict(component, target.version, not reasons, tuple(reasons))


def live_state(
    manifest: Manifest,
    weights: Mapping[str, Mapping[str, float]],
    *,
    queue_schemas: Mapping[str, Iterable[SchemaT]] | None = None,
    extra_versions: Mapping[str, Mapping[str, VersionSpec]] | None = None,
    ever_live: Mapping[str, Iterable[str]] | None = None,
    drained: Mapping[str, Iterable[SchemaT]] | None = None,
) -> LiveState:
    """Build a LiveState from alias weights (component -> version -> percent).

    Versions are described by the manifest's ``from``/``to`` or by ``extra_versions`` (hotfixes).
    Queue contents default to: every schema written by a version that is live now or was live during
    the release (``ever_live``), plus any ``queue_schemas`` given, minus ``drained`` schemas.
    """
    known: dict[str, dict[str, VersionIO]] = {}
    for name, comp in manifest.resolved.items():
        by_version = known.setdefault(name, {})
        for spec in (comp.from_, comp.to):
            if spec.version is not None:
                by_version.setdefault(spec.version, VersionIO.of(spec))
        for version, spec in (extra_versions or {}).get(name, {}).items():
            by_version[version] = VersionIO.of(spec, version)

    def describe(name: str, version: str) -> VersionIO:
        found = known.get(name, {}).get(version)
        if found is None:
            raise KeyError(f"no reads/writes known for {name}@{version}")
        return found

    live: dict[str, tuple[VersionIO, ...]] = {}
    for name, by_weight in weights.items():
        live[name] = tuple(describe(name, v) for v, w in sorted(by_weight.items()) if w > 0)
    contents: dict[str, set[SchemaT]] = {q: set(s) for q, s in (queue_schemas or {}).items()}

    def add_writes(name: str, versions: Iterable[str]) -> None:
        for version in versions:
            for queue, schema in describe(name, version).writes.items():
                contents.setdefault(queue, set()).add(schema)

    for name, versions in (ever_live or {}).items():
        add_writes(name, versions)
    for queue, schemas in (drained or {}).items():
        contents.get(queue, set()).difference_update(schemas)
    for name, live_versions in live.items():  # what live versions write is never drained
        add_writes(name, (v.version for v in live_versions))
    return LiveState(live=live, queue_schemas={q: frozenset(s) for q, s in contents.items()})
