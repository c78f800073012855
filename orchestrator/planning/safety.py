"""Rollback safety (DESIGN §4): may a component be pulled back to an older version right now?

Pulling component X back to version T is safe only if

1. T reads every schema that may still reach it: what its queues may hold now, and what every live
   version of every producer of those queues writes (X itself writing at T after the move), and
2. every live version of every other consumer of the queues T writes reads what T writes.

The live state is data the caller observed (alias weights) plus what may be in each queue (every
schema written there by a version that was live during the release, minus what was proven drained).
The workflow never moves an alias back unless ``rollback_safety`` says safe.

Delivery (DESIGN §4, ``compatibility.effective_reads``): under ``alias`` delivery (the default)
every version behind a component's alias receives every queue any known version of the component
reads (``from``, ``to``, hotfixes); a version that does not list such a queue reads an empty set of
it. The ``VersionIO`` values of a ``LiveState`` built by ``live_state`` carry those empty read sets,
so such a version is one of ``consumers_of`` the queue and accepts nothing there.
``rollback_safety`` applies the same rule to the target it is given (``LiveState.effective``), so
a caller may pass a plain ``VersionIO.of(spec)``. ``per-version`` delivery keeps the listed reads
only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from orchestrator.model.manifest import Component, Manifest, VersionSpec, schema_sort_key
from orchestrator.planning.compatibility import SchemaT, effective_reads, read_queues


@dataclass(frozen=True)
class VersionIO:
    """What one version of a component reads and writes, per queue."""

    version: str
    reads: Mapping[str, frozenset[SchemaT]] = field(default_factory=dict)
    writes: Mapping[str, SchemaT] = field(default_factory=dict)

    @classmethod
    def of(cls, spec: VersionSpec, version: str | None = None) -> VersionIO:
        """The version as it lists its reads (no delivery rule applied)."""
        return cls(
            version=version or spec.version or "",
            reads={q: frozenset(s) for q, s in spec.reads.items()},
            writes=dict(spec.writes),
        )

    @classmethod
    def of_component(
        cls,
        component: Component,
        spec: VersionSpec,
        version: str | None = None,
        *,
        queues: Iterable[str] = (),
    ) -> VersionIO:
        """The version with the component's delivery applied (``compatibility.effective_reads``).

        The queues the alias delivers are those the component's ``from`` and ``to`` read, plus
        ``queues`` (those of other known versions, such as hotfixes).
        """
        delivered = read_queues(component) | frozenset(queues)
        return cls(
            version=version or spec.version or "",
            reads=effective_reads(component, spec, delivered),
            writes=dict(spec.writes),
        )


@dataclass(frozen=True)
class LiveState:
    """Observed state: live versions per component and what each queue may hold.

    ``live`` maps component -> the versions receiving traffic (weight > 0) with what they read and
    write; ``queue_schemas`` maps queue -> schemas that may be in it now.

    Optional, filled by ``live_state``: ``weights`` (component -> version -> percent, as observed),
    ``known`` (component -> version -> VersionIO of every version the release knows, live or not)
    and ``alias_queues`` (component -> the queues its alias delivers to every version behind it;
    only components with ``alias`` delivery are present, ``per-version`` ones are absent). The
    VersionIO values in ``live`` and ``known`` already have the delivery rule applied.
    """

    live: Mapping[str, tuple[VersionIO, ...]]
    queue_schemas: Mapping[str, frozenset[SchemaT]]
    weights: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    known: Mapping[str, Mapping[str, VersionIO]] = field(default_factory=dict)
    alias_queues: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def effective(self, component: str, version: VersionIO, also: Iterable[str] = ()) -> VersionIO:
        """``version`` of ``component`` with the delivery rule applied.

        Under ``alias`` delivery it receives ``alias_queues[component]`` and ``also`` (queues a new
        version such as a hotfix adds to the alias), with an empty read set where it lists none.
        """
        queues = self.alias_queues.get(component)
        if queues is None:
            return version
        reads = effective_reads("alias", version.reads, queues | frozenset(also))
        if reads == version.reads:
            return version
        return VersionIO(version=version.version, reads=reads, writes=version.writes)

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


def _unlisted(reads: frozenset[SchemaT]) -> str:
    return " (it does not list the queue, but the alias delivers it)" if not reads else ""


def rollback_safety(state: LiveState, component: str, target: VersionIO) -> SafetyVerdict:
    """Whether making ``target`` the only live version of ``component`` is safe now.

    ``target`` gets the component's delivery rule (``LiveState.effective``): under ``alias``
    delivery a queue the component reads that ``target`` does not list reaches it with an empty
    read set, so any schema that may reach that queue makes the move unsafe.
    """
    target = state.effective(component, target)
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
                f"{component}@{target.version} reads {queue} {_fmt(reads)}{_unlisted(reads)} but "
                f"schema {schema} {incoming[schema]}"
            )
    for queue, schema in sorted(target.writes.items()):
        for name, version in state.consumers_of(queue):
            if name == component:
                continue
            if schema not in version.reads[queue]:
                reasons.append(
                    f"{name}@{version.version} reads {queue} {_fmt(version.reads[queue])}"
                    f"{_unlisted(version.reads[queue])} and cannot read schema {schema} that "
                    f"{component}@{target.version} writes"
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

    Every version gets its component's delivery rule: under ``alias`` delivery the queues its alias
    delivers are those any known version (``from``, ``to``, ``extra_versions``) reads.
    """
    known: dict[str, dict[str, VersionIO]] = {}
    alias_queues: dict[str, frozenset[str]] = {}
    for name, comp in manifest.resolved.items():
        specs: dict[str, VersionSpec] = {}
        for spec in (comp.from_, comp.to):
            if spec.version is not None:
                specs.setdefault(spec.version, spec)
        specs.update((extra_versions or {}).get(name, {}))
        queues = read_queues(comp, *specs.values())
        if comp.delivery == "alias":
            alias_queues[name] = queues
        known[name] = {
            version: VersionIO.of_component(comp, spec, version, queues=queues)
            for version, spec in specs.items()
        }

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
    return LiveState(
        live=live,
        queue_schemas={q: frozenset(s) for q, s in contents.items()},
        weights={name: dict(by_weight) for name, by_weight in weights.items()},
        known=known,
        alias_queues=alias_queues,
    )
