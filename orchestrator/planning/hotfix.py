"""What a hotfix must read and write to be accepted, and whether a given one is (pure).

A hotfix replaces the broken version of one component while the system is in a mixed state. During
its canary it runs beside the component's *base*: the live version that keeps the rest of the
component's traffic (``hotfix_base``, the rule ApplyHotfix shifts by); every other version of the
component goes to 0% on the first hotfix move. The hotfix is compatible when

1. on every queue that reaches it, it reads every schema that may be there: queued now, written by
   a live version of another component, by the base, by the hotfix itself, or by a producer version
   the rest of the plan (``pending``) will make live;
2. on every queue it writes, every live version of every other consumer, every consumer version the
   rest of the plan will make live, and the base read what it writes;
3. under ``alias`` delivery, a queue the hotfix starts reading reaches the base as well: the base
   must read every schema that may be there (it lists none of them if it does not read the queue);
4. the release with the hotfix as the component's new version is still feasible (DESIGN §4),
   planned from the versions the components stand on (``live_from``) when the caller gives them.

Delivery (DESIGN §4, ``compatibility.effective_reads``): under ``alias`` delivery (the default) the
event source mapping targets the alias, so a hotfix that does not list a queue its component reads
in another known version still receives it and reads nothing of it: it is refused if any schema may
reach that queue. Under ``per-version`` delivery it stops consuming the queue: messages wait for a
later version, nothing is misread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from orchestrator.errors import InfeasibleReleaseError, Issue
from orchestrator.model.manifest import Manifest, VersionSpec, schema_sort_key
from orchestrator.planning.compatibility import SchemaT, effective_reads, read_queues
from orchestrator.planning.planner import plan_release
from orchestrator.planning.safety import LiveState, VersionIO


def _fmt(schemas: Iterable[SchemaT]) -> str:
    return "[" + ", ".join(str(s) for s in sorted(set(schemas), key=schema_sort_key)) + "]"


@dataclass(frozen=True)
class Requirements:
    """What a hotfix of ``component`` must read (per queue) and may write (per queue)."""

    component: str
    reads: Mapping[str, frozenset[SchemaT]] = field(default_factory=dict)
    writes: Mapping[str, frozenset[SchemaT] | None] = field(default_factory=dict)
    """queue -> schemas every consumer reads (None: no consumer constrains it; empty: a consumer
    receives the queue and reads none of its schemas, so the hotfix must not write it)."""

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
            if allowed is None:
                parts.append(f"write {queue}: any")
            elif not allowed:
                parts.append(f"not write {queue} (a consumer receives it and reads none of it)")
            else:
                parts.append(f"write {queue} as one of {_fmt(allowed)}")
        return f"a hotfix of {self.component} must " + (", ".join(parts) or "exist")


# -- the hotfix's neighbours ---------------------------------------------------------------------


def hotfix_base(weights: Mapping[str, float], broken: str, new: str) -> str:
    """The version that keeps the rest of the component's traffic during the hotfix's canary.

    ``weights``: the component's alias now (version -> percent, only versions with weight > 0, in
    the alias's order: primary first); ``broken``: the version the hotfix replaces (the component
    record's version); ``new``: the hotfix's version. The rule ApplyHotfix shifts by:

    * the hotfix alone on the alias: the hotfix itself (nothing runs beside it);
    * the broken version beside others: the heaviest version that is neither broken nor the
      hotfix (the hotfix takes over the broken version's share), or the broken version if there is
      no other;
    * otherwise: the heaviest version that is not the hotfix (the broken version itself when it is
      the only one live).

    Ties go to the version listed first. Raises ValueError for an empty ``weights`` (where
    ApplyHotfix's own ``max`` raised it too).
    """
    if new in weights and len(weights) == 1:
        return new
    if broken in weights and len(weights) > 1 and broken != new:
        return max(
            (v for v in weights if v not in (broken, new)),
            key=weights.__getitem__,
            default=broken,
        )
    rest = [v for v in weights if v != new]
    if not rest:
        raise ValueError(f"no live version to keep traffic beside {new}: weights {dict(weights)}")
    return max(rest, key=weights.__getitem__)


def _beside(
    manifest: Manifest, state: LiveState, component: str, base: str | None, new: str
) -> tuple[VersionIO, ...] | None:
    """The versions of ``component`` that keep traffic beside the hotfix (None: base unknown).

    ``base`` None: derived by ``hotfix_base`` from the observed weights, the broken version being
    the component's ``to`` version in ``manifest`` (the record version: the hotfix replaces what
    the component shifts to). Without observed weights every live version but the hotfix counts.
    """
    live = state.live.get(component, ())
    if base is None:
        weights = {v: w for v, w in state.weights.get(component, {}).items() if w > 0}
        if not weights:
            return tuple(v for v in live if v.version != new)
        comp = manifest.component(component)
        base = hotfix_base(weights, comp.to.version or comp.from_.version or "", new)
    if base == new:
        return ()
    found = state.known.get(component, {}).get(base)
    if found is None:
        found = next((v for v in live if v.version == base), None)
    return None if found is None else (found,)


def _delivered(manifest: Manifest, state: LiveState, name: str) -> frozenset[str]:
    """Queues ``name``'s alias delivers (only meaningful under ``alias`` delivery)."""
    return read_queues(manifest.component(name)) | state.alias_queues.get(name, frozenset())


def _planned(manifest: Manifest, state: LiveState, name: str) -> VersionIO:
    """A pending component's target version with the delivery rule applied."""
    comp = manifest.component(name)
    reads = effective_reads(comp, comp.to, _delivered(manifest, state, name))
    return VersionIO(comp.to.version or "", reads, dict(comp.to.writes))


def _incoming(
    manifest: Manifest,
    state: LiveState,
    component: str,
    queue: str,
    pending: Sequence[str],
    beside: Sequence[VersionIO],
) -> dict[SchemaT, str]:
    """Every schema that may reach a reader of ``queue`` during the hotfix, with why.

    The most telling reason first: a writer running beside the hotfix, a live producer, a planned
    one, and only then what may be queued already.
    """
    found: dict[SchemaT, str] = {}
    for version in beside:
        if queue in version.writes:
            found.setdefault(
                version.writes[queue],
                f"{component}@{version.version} writes it (it keeps the rest of {component}'s "
                "traffic during the hotfix canary)",
            )
    for name, version in state.producers_of(queue):
        if name != component:
            found.setdefault(version.writes[queue], f"{name}@{version.version} writes it")
    for name in pending:
        planned = _planned(manifest, state, name)
        if queue in planned.writes:
            found.setdefault(
                planned.writes[queue], f"{name}@{planned.version} will write it (rest of the plan)"
            )
    for schema in sorted(state.queue_schemas.get(queue, frozenset()), key=schema_sort_key):
        found.setdefault(schema, f"may be in {queue} already")
    return found


def _readers(
    manifest: Manifest,
    state: LiveState,
    component: str,
    queue: str,
    pending: Sequence[str],
    beside: Sequence[VersionIO],
) -> list[tuple[str, frozenset[SchemaT], str]]:
    """Every version but the hotfix that receives ``queue`` during or after the hotfix.

    Each as (who, what it reads on ``queue``, a note on why it counts).
    """
    out = [
        (f"{name}@{version.version}", version.reads[queue], "")
        for name, version in state.consumers_of(queue)
        if name != component
    ]
    for name in pending:
        planned = _planned(manifest, state, name)
        if queue in planned.reads:
            out.append((f"{name}@{planned.version}", planned.reads[queue], " (rest of the plan)"))
    for version in beside:
        if queue in version.reads:
            out.append((f"{component}@{version.version}", version.reads[queue], _BASE))
    return out


_UNLISTED = " (it does not list the queue, but the alias delivers it)"
_BASE = " (it keeps the rest of {component}'s traffic during the hotfix canary)"


def _why(found: Mapping[SchemaT, str], schemas: Iterable[SchemaT]) -> str:
    return "; ".join(f"{s}: {found[s]}" for s in sorted(set(schemas), key=schema_sort_key))


def _others(pending: Iterable[str], component: str) -> list[str]:
    return sorted(set(pending) - {component})


# -- requirements and the check ------------------------------------------------------------------


def requirements(
    manifest: Manifest,
    state: LiveState,
    component: str,
    pending: Iterable[str],
    *,
    base: str | None = None,
) -> Requirements:
    """Derive the requirements from the live state and the rest of the plan (``pending``).

    ``base``: the version that keeps the rest of the component's traffic during the hotfix canary
    (None: ``hotfix_base`` of the observed weights, the broken version being the component's ``to``
    version; an unknown version, or no observed weights: every live version of the component).
    """
    others = _others(pending, component)
    comp = manifest.component(component)
    live_versions = state.live.get(component, ())
    beside = _beside(manifest, state, component, base, "")
    if beside is None:
        beside = live_versions
    read_queues_ = set(comp.to.reads) | {q for v in live_versions for q in v.reads}
    if comp.delivery == "alias":
        read_queues_ |= _delivered(manifest, state, component)
    write_queues = set(comp.to.writes) | {q for v in live_versions for q in v.writes}
    reads: dict[str, frozenset[SchemaT]] = {}
    for queue in sorted(read_queues_):
        reads[queue] = frozenset(_incoming(manifest, state, component, queue, others, beside))
    writes: dict[str, frozenset[SchemaT] | None] = {}
    for queue in sorted(write_queues):
        allowed: frozenset[SchemaT] | None = None
        for _, read_set, _ in _readers(manifest, state, component, queue, others, beside):
            allowed = read_set if allowed is None else allowed & read_set
        writes[queue] = allowed
    return Requirements(component, reads, writes)


def live_manifest(manifest: Manifest, live_from: Mapping[str, VersionSpec]) -> Manifest:
    """``manifest`` with each named component's ``from`` replaced by ``live_from[name]``.

    ``live_from``: component -> the version it stands on now (its last promoted version). A
    component that is unchanged in ``manifest`` (``from`` == ``to``, or no ``to``) never moves, so
    it stays as it is; a component whose new ``from`` is its ``to`` becomes unchanged. Components
    not named keep their ``from``. Raises KeyError for a component the manifest does not have.
    """
    data = manifest.model_dump(mode="json", by_alias=True, exclude_none=True)
    replaced = False
    for name, spec in sorted(live_from.items()):
        if name not in manifest.components:
            raise KeyError(f"{name!r} is not a component of release {manifest.release}")
        comp = manifest.component(name)
        if comp.unchanged or spec == comp.from_:
            continue
        data["components"][name]["from"] = spec.model_dump(mode="json", exclude_none=True)
        replaced = True
    return Manifest.model_validate(data) if replaced else manifest


def check_hotfix(
    manifest: Manifest,
    state: LiveState,
    component: str,
    spec: VersionSpec,
    pending: Iterable[str],
    *,
    base: str | None = None,
    live_from: Mapping[str, VersionSpec] | None = None,
) -> list[Issue]:
    """Every reason ``spec`` is not an acceptable hotfix for ``component`` (empty: accepted).

    ``base``: as for ``requirements`` (an explicit version the state does not describe is itself a
    reason to refuse). ``live_from``: component -> the version it stands on now; the feasibility
    check plans the rest of the release from those (``live_manifest``) instead of the manifest's
    ``from`` (None: from the manifest's ``from``).
    """
    path = f"hotfix.{component}@{spec.version}"
    others = _others(pending, component)
    comp = manifest.component(component)
    new = spec.version or ""
    issues: list[Issue] = []
    found = _beside(manifest, state, component, base, new)
    if found is None:
        issues.append(
            Issue(
                path,
                f"no reads/writes known for {component}@{base}, the version that keeps the rest "
                f"of {component}'s traffic during the hotfix canary",
            )
        )
        found = tuple(v for v in state.live.get(component, ()) if v.version != new)
    delivered = _delivered(manifest, state, component)
    queues = delivered | frozenset(spec.reads)
    beside = [
        VersionIO(v.version, effective_reads(comp, v.reads, queues), dict(v.writes)) for v in found
    ]
    alias = comp.delivery == "alias"

    for queue, read in sorted(effective_reads(comp, spec, queues).items()):
        incoming = _incoming(manifest, state, component, queue, others, beside)
        if queue in spec.writes:
            incoming.setdefault(spec.writes[queue], f"{component}@{new} itself writes it")
        missing = [s for s in incoming if s not in read]
        if not missing:
            continue
        if queue in spec.reads:
            head = f"reads {queue} {_fmt(read)}"
        else:
            head = (
                f"does not list {queue}, but {component} reads it in another version and its "
                f"delivery is alias (the event source mapping targets the alias), so {queue} "
                "reaches the hotfix, which reads none of it"
            )
        issues.append(
            Issue(
                f"{path}.reads.{queue}",
                f"{head}; schema(s) {_fmt(missing)} may reach it ({_why(incoming, missing)}): "
                f"read {queue} {_fmt(incoming)}",
            )
        )

    if alias:  # a queue the hotfix starts reading reaches the base through the alias too
        for version in beside:
            for queue in sorted(set(spec.reads) - delivered):
                read = version.reads[queue]
                incoming = _incoming(manifest, state, component, queue, others, beside)
                if queue in spec.writes:
                    incoming.setdefault(spec.writes[queue], f"{component}@{new} writes it")
                missing = [s for s in incoming if s not in read]
                if missing:
                    issues.append(
                        Issue(
                            f"{path}.reads.{queue}",
                            f"{component} starts reading {queue}, and with delivery alias "
                            f"{queue} then reaches {component}@{version.version} too, which "
                            f"keeps the rest of {component}'s traffic during the hotfix canary "
                            f"and reads {queue} {_fmt(read)}; schema(s) {_fmt(missing)} may "
                            f"reach it ({_why(incoming, missing)})",
                        )
                    )

    for queue, schema in sorted(spec.writes.items()):
        readers = _readers(manifest, state, component, queue, others, beside)
        unable = [(who, r, note) for who, r, note in readers if schema not in r]
        if not unable:
            continue
        allowed = frozenset.intersection(*(r for _, r, _ in readers))
        issues.append(
            Issue(
                f"{path}.writes.{queue}",
                f"writes schema {schema} to {queue} but its live or planned consumers read only "
                f"{_fmt(allowed)}: "
                + "; ".join(
                    f"{who} reads {queue} {_fmt(r)}{note.format(component=component)}"
                    + (_UNLISTED if not r else "")
                    for who, r, note in unable
                ),
            )
        )

    if not issues:
        replan = manifest if live_from is None else live_manifest(manifest, live_from)
        data = replan.model_dump(mode="json", by_alias=True, exclude_none=True)
        data["components"][component]["to"] = spec.model_dump(mode="json", exclude_none=True)
        try:
            plan_release(Manifest.model_validate(data))
        except InfeasibleReleaseError as exc:
            issues.extend(Issue(path, f"the rest of the plan: {i.message}") for i in exc.issues)
    return issues
