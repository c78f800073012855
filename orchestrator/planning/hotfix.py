"""What a hotfix must read and write to be accepted, and whether a given one is (pure).

A hotfix replaces the broken version of one component while the system is in a mixed state. It is
compatible when

1. on every queue it reads, it reads every schema that may be there now (queued, or written by a
   live producer version) and every schema the rest of the plan will make producers write, and
2. on every queue it writes, every live consumer version and every consumer version the rest of the
   plan will make live reads what it writes, and
3. the release with the hotfix as the component's new version is still feasible (DESIGN §4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from orchestrator.errors import InfeasibleReleaseError, Issue
from orchestrator.model.manifest import Manifest, VersionSpec, schema_sort_key
from orchestrator.planning.compatibility import SchemaT
from orchestrator.planning.planner import plan_release
from orchestrator.planning.safety import LiveState


def _fmt(schemas: Iterable[SchemaT]) -> str:
    return "[" + ", ".join(str(s) for s in sorted(set(schemas), key=schema_sort_key)) + "]"


@dataclass(frozen=True)
class Requirements:
    """What a hotfix of ``component`` must read (per queue) and may write (per queue)."""

    component: str
    reads: Mapping[str, frozenset[SchemaT]] = field(default_factory=dict)
    writes: Mapping[str, frozenset[SchemaT] | None] = field(default_factory=dict)
    """queue -> schemas every consumer reads (None: no consumer constrains it)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "component": self.component,
            "reads": {q: sorted(s, key=schema_sort_key) for q, s in self.reads.items()},
            "writes": {
                q: None if s is None else sorted(s, key=schema_sort_key)
                for q, s in self.writes.items()
            },
        }

    def explain(self) -> str:
        parts = [f"read {q} {_fmt(s)}" for q, s in sorted(self.reads.items())]
        for queue, allowed in sorted(self.writes.items()):
            parts.append(
                f"write {queue} as one of {_fmt(allowed)}" if allowed else f"write {queue}: any"
            )
        return f"a hotfix of {self.component} must " + (", ".join(parts) or "exist")


def requirements(
    manifest: Manifest, state: LiveState, component: str, pending: Iterable[str]
) -> Requirements:
    """Derive the requirements from the live state and the rest of the plan (``pending``)."""
    pending_set = set(pending)
    comp = manifest.component(component)
    live_versions = state.live.get(component, ())
    read_queues = set(comp.to.reads) | {q for v in live_versions for q in v.reads}
    write_queues = set(comp.to.writes) | {q for v in live_versions for q in v.writes}
    reads: dict[str, frozenset[SchemaT]] = {}
    for queue in sorted(read_queues):
        schemas = set(state.queue_schemas.get(queue, frozenset()))
        for name, version in state.producers_of(queue):
            if name != component:
                schemas.add(version.writes[queue])
        for name in pending_set - {component}:
            planned = manifest.component(name).to.writes.get(queue)
            if planned is not None:
                schemas.add(planned)
        reads[queue] = frozenset(schemas)
    writes: dict[str, frozenset[SchemaT] | None] = {}
    for queue in sorted(write_queues):
        allowed: set[SchemaT] | None = None
        readers = [v.reads[queue] for n, v in state.consumers_of(queue) if n != component]
        readers += [
            frozenset(manifest.component(n).to.reads[queue])
            for n in pending_set - {component}
            if queue in manifest.component(n).to.reads
        ]
        for read_set in readers:
            allowed = set(read_set) if allowed is None else allowed & read_set
        writes[queue] = None if allowed is None else frozenset(allowed)
    return Requirements(component, reads, writes)


def check_hotfix(
    manifest: Manifest,
    state: LiveState,
    component: str,
    spec: VersionSpec,
    pending: Iterable[str],
) -> list[Issue]:
    """Every reason ``spec`` is not an acceptable hotfix for ``component`` (empty: accepted)."""
    base = f"hotfix.{component}@{spec.version}"
    need = requirements(manifest, state, component, pending)
    issues: list[Issue] = []
    for queue, schemas in need.reads.items():
        read = spec.read_set(queue)
        if read is None:
            continue  # it stops consuming the queue: messages wait, nothing is misread
        missing = schemas - read
        if missing:
            issues.append(
                Issue(
                    f"{base}.reads.{queue}",
                    f"reads {queue} {_fmt(read)} but schema(s) {_fmt(missing)} may reach it "
                    f"(in the queue or written by live or planned producers): read {_fmt(schemas)}",
                )
            )
    for queue, schema in spec.writes.items():
        allowed = need.writes.get(queue)
        if allowed is not None and schema not in allowed:
            issues.append(
                Issue(
                    f"{base}.writes.{queue}",
                    f"writes schema {schema} to {queue} but its live or planned consumers read "
                    f"only {_fmt(allowed)}",
                )
            )
    if not issues:
        data = manifest.model_dump(mode="json", by_alias=True, exclude_none=True)
        data["components"][component]["to"] = spec.model_dump(mode="json", exclude_none=True)
        try:
            plan_release(Manifest.model_validate(data))
        except InfeasibleReleaseError as exc:
            issues.extend(Issue(base, f"the rest of the plan: {i.message}") for i in exc.issues)
    return issues
