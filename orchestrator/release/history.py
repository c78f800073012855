"""Past releases, read back from the ledger: the summaries of ``rollout history`` and the whole
story of one release that ``rollout report --html`` draws.

Nothing here writes. Everything comes from the records the steps already keep (``context``,
``report``, ``rollforward``, ``component#*``, ``action#*``, ``drain#*``, ``flag#*``; see
``ledger``); a figure the Report step's document lacks (the freeze, the rounds' windows, the
drains, the original plan) is derived from those records, so the steps stay as they are.

Times are ISO 8601 UTC strings (``...Z``): both shapes are JSON documents (``--format json``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from orchestrator.errors import ReleaseNotFoundError, ReleaseStateError, RolloutError
from orchestrator.model.plan import Plan
from orchestrator.planning import plan_release
from orchestrator.release import ledger

if TYPE_CHECKING:
    from orchestrator.ports import RecordStore, ReleaseCatalog

SUMMARY_KINDS = ("context", "report", "rollforward")
"""The record kinds one history line is built from (one Scan reads them for every release)."""

RUNNING = "RUNNING"
"""Status of a release with a plan and no report yet (running, waiting, or its Report failed)."""


def iso(value: object) -> str | None:
    """``value`` (a datetime or an ISO string) as ``YYYY-MM-DDTHH:MM:SSZ``; None if it is none."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# -- history ----------------------------------------------------------------------------------


@dataclass
class ComponentLine:
    """One component of a past release: where it started, what it aimed at, where it ended."""

    name: str
    from_version: str
    to_version: str
    hotfixes: list[str] = field(default_factory=list)
    final: str | None = None
    """The version its alias ended on (the report's ``final``); None before a report."""
    status: str = ""

    @property
    def changed(self) -> bool:
        return self.to_version != self.from_version or bool(self.hotfixes)

    def versions(self) -> str:
        """``17 -> 18 -> 19`` (from, to, hotfixes), or ``5`` when unchanged."""
        chain = [self.from_version]
        for version in [self.to_version, *self.hotfixes]:
            if version != chain[-1]:
                chain.append(version)
        text = " -> ".join(chain)
        if self.final is not None and self.final != chain[-1]:
            text += f" (ended on {self.final})"
        return text

    def contract(self) -> dict[str, Any]:
        return {
            "from": self.from_version,
            "to": self.to_version,
            "hotfixes": self.hotfixes,
            "final": self.final,
            "status": self.status,
        }


@dataclass
class ReleaseSummary:
    """One line of ``rollout history``."""

    release: str
    status: str
    started: str | None
    finished: str | None
    rounds: int
    components: dict[str, ComponentLine]

    def contract(self) -> dict[str, Any]:
        """The ``--format json`` shape of one release."""
        return {
            "release": self.release,
            "status": self.status,
            "started": self.started,
            "finished": self.finished,
            "rounds": self.rounds,
            "components": {name: c.contract() for name, c in self.components.items()},
        }


def _component_lines(
    context: Mapping[str, Any], report: Mapping[str, Any]
) -> dict[str, ComponentLine]:
    manifest = _dict(context.get("manifest"))
    resolved_from = _dict(context.get("resolved_from"))
    hotfixes = _dict(context.get("hotfixes"))
    final = _dict(report.get("final"))
    lines: dict[str, ComponentLine] = {}
    for name, spec in sorted(_dict(manifest.get("components")).items()):
        spec = _dict(spec)
        start = str(_dict(spec.get("from")).get("version") or resolved_from.get(name) or "?")
        target = str(_dict(spec.get("to")).get("version") or start)
        ended = _dict(final.get(name))
        lines[name] = ComponentLine(
            name=name,
            from_version=start,
            to_version=target,
            hotfixes=[str(h.get("version")) for h in _dicts(hotfixes.get(name))],
            final=str(ended["version"]) if "version" in ended else None,
            status=str(ended.get("status", "")),
        )
    return lines


def _times(report: Mapping[str, Any], actions: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every moment the ledger knows of a release: its moves and its verdicts."""
    moments = [iso(a.get("at")) for a in actions]
    for comp in _dict(report.get("final")).values():
        moments += [iso(v.get("at")) for v in _dicts(_dict(comp).get("verdicts"))]
    for round_ in _dicts(report.get("rounds")):
        moments.append(iso(_dict(round_.get("failure")).get("at")))
    return sorted(m for m in moments if m is not None)


def summarize(
    release: str,
    context: Mapping[str, Any],
    report: Mapping[str, Any] | None,
    rollforward: Mapping[str, Any] | None,
    actions: Sequence[Mapping[str, Any]] = (),
) -> ReleaseSummary:
    """One history line from a release's records. ``actions``: its ``action#*`` items, needed
    only before it reported (a report holds its actions)."""
    done = report or {}
    moves: list[Mapping[str, Any]] = [*(_dicts(done.get("actions")) or actions)]
    moments = _times(done, moves)
    rounds = _dicts(done.get("rounds")) or _dicts((rollforward or {}).get("rounds"))
    return ReleaseSummary(
        release=release,
        status=str(done.get("status") or RUNNING),
        started=moments[0] if moments else None,
        finished=moments[-1] if report is not None and moments else None,
        rounds=len(rounds),
        components=_component_lines(context, done),
    )


def _scan(
    catalog: ReleaseCatalog, kinds: Sequence[str]
) -> Iterator[tuple[str, str, dict[str, object]]]:
    cursor: str | None = None
    while True:
        page, cursor = catalog.releases(kinds, cursor=cursor)
        yield from page
        if cursor is None:
            return


def history(
    catalog: ReleaseCatalog,
    records: RecordStore,
    *,
    component: str | None = None,
    limit: int | None = 20,
) -> list[ReleaseSummary]:
    """Past (and running) releases, the latest first; with ``component``, only the releases
    whose manifest names it. One Scan for every release's plan, report and roll-forward record,
    then one Query of the moves of each release that has no report yet (it is still running)."""
    found: dict[str, dict[str, dict[str, object]]] = {}
    for release, kind, item in _scan(catalog, SUMMARY_KINDS):
        found.setdefault(release, {})[kind] = item
    summaries: list[ReleaseSummary] = []
    for release, items in found.items():
        context = items.get("context")
        if context is None:  # a report without a plan: not a release this orchestrator ran
            continue
        if "digest" in context:  # stored in parts: read the document
            context = ledger.context_document(records, release)
        header = items.get("report")
        if header is not None and "final" not in header:  # stored per component
            items["report"] = ledger.load_report(records, release) or header
        components = _dict(_dict(context.get("manifest")).get("components"))
        if component is not None and component not in components:
            continue
        actions: list[dict[str, object]] = []
        if "report" not in items:
            actions = [item for _, item in records.list(release, "action#")]
        summaries.append(
            summarize(release, context, items.get("report"), items.get("rollforward"), actions)
        )
    summaries.sort(key=lambda s: (s.started or "", s.release), reverse=True)
    # a release that has not moved anything yet is the newest of all
    summaries.sort(key=lambda s: s.started is not None)
    return summaries if limit is None else summaries[:limit]


def known_components(summaries: Iterable[ReleaseSummary]) -> list[str]:
    return sorted({name for s in summaries for name in s.components})


# -- the picture of one release -----------------------------------------------------------------


def _original_plan(context: ledger.ReleaseContext) -> Plan:
    """The plan as the release started (the stored one is replanned after each round)."""
    try:
        return plan_release(context.original)
    except RolloutError:
        return context.plan


def release_picture(
    records: RecordStore, release: str, report: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Everything ``rollout report --html`` draws, from the ledger of ``release``.

    ``report``: the Report step's document when the caller has it (a dry run); otherwise the
    stored ``report`` record, and for a release that has none yet the picture so far (status
    ``RUNNING``). Raises ``ReleaseNotFoundError`` when no plan is stored for ``release``.
    """
    if records.get(release, "context") is None:
        raise ReleaseNotFoundError(f"no plan is stored for release {release!r}")
    try:
        context = ledger.load_context(records, release)
    except (ValueError, KeyError, TypeError, AssertionError) as exc:  # pydantic's is a ValueError
        raise ReleaseStateError(
            f"the stored plan of release {release} does not load ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200]}), so it cannot be drawn: `rollout status {release}` "
            "shows what is known"
        ) from None
    stored = report if report is not None else ledger.load_report(records, release)
    done: dict[str, Any] = dict(stored or {})
    plan = _original_plan(context)
    component_records = ledger.all_components(records, release)
    rollforward = ledger.get_rollforward(records, release)
    actions = _dicts(done.get("actions")) or [
        a.model_dump(mode="json") for a in ledger.actions(records, release)
    ]
    final = _dict(done.get("final"))

    order = [name for wave in plan.waves for name in wave]
    order += sorted(n for n in context.manifest.components if n not in order)
    components: list[dict[str, Any]] = []
    for name in order:
        comp = context.original.component(name)
        record = component_records.get(name)
        ended = _dict(final.get(name))
        verdicts = _dicts(ended.get("verdicts")) or (
            [v.model_dump(mode="json") for v in record.verdicts] if record else []
        )
        wave = plan.wave_of(name)
        components.append(
            {
                "name": name,
                "function": comp.function_name,
                "alias": comp.alias,
                "from": context.from_version(name),
                "to": comp.to.version or context.from_version(name),
                "hotfixes": [str(s.version) for s in context.hotfixes.get(name, [])],
                "wave": None if wave is None else wave + 1,
                "status": str(ended.get("status") or (record.status if record else "pending")),
                "final": {
                    "version": ended.get("version"),
                    "weights": _dict(ended.get("weights")),
                }
                if ended
                else None,
                "actions": [
                    {**a, "at": iso(a.get("at"))} for a in actions if a.get("component") == name
                ],
                "verdicts": [{**v, "at": iso(v.get("at"))} for v in verdicts],
                "promoted": list(record.promoted) if record else [],
            }
        )

    rounds_log = _dicts(done.get("rounds")) or rollforward.rounds
    applied = _dicts(done.get("hotfixes")) or rollforward.applied
    rounds: list[dict[str, Any]] = []
    for index, round_ in enumerate(rounds_log):
        failure = _dict(round_.get("failure"))
        number = int(round_.get("round") or index + 1)
        fix = applied[index] if index < len(applied) else None
        rounds.append(
            {
                "round": number,
                "kind": round_.get("kind"),
                "at": iso(failure.get("at")),
                "component": failure.get("component"),
                "version": failure.get("version"),
                "step": failure.get("step"),
                "broken": failure.get("broken"),
                "reasons": failure.get("reasons", []),
                "hotfix": None if fix is None else {**fix, "at": iso(fix.get("at"))},
                "resolved_at": _resolved_at(fix, components),
            }
        )
    frozen = ledger.flag(records, release, "frozen")
    freezes = [{"at": r["at"], "reason": "; ".join(r["reasons"])} for r in rounds if r["at"]]
    if frozen is not None and iso(frozen.get("at")) not in {f["at"] for f in freezes}:
        freezes.append({"at": iso(frozen.get("at")), "reason": str(frozen.get("reason", ""))})
    drains = []
    for kind, item in records.list(release, "drain#"):
        component = kind.removeprefix("drain#")
        wave = plan.wave_of(component)
        drains.append(
            {
                "component": component,
                "wave": None if wave is None else wave + 1,
                "started_at": iso(item.get("started_at")),
                "polls": item.get("polls"),
                "queues": [
                    {"queue": d.queue, "schema": d.schema_}
                    for d in plan.drains
                    if component in d.before
                ],
            }
        )
    moments = sorted(
        m
        for m in [
            *(a["at"] for c in components for a in c["actions"]),
            *(v["at"] for c in components for v in c["verdicts"]),
            *(r["at"] for r in rounds),
            *(d["started_at"] for d in drains),
            *(f["at"] for f in freezes),
        ]
        if m
    )
    return {
        "release": release,
        "status": str(done.get("status") or RUNNING),
        "started": moments[0] if moments else None,
        "finished": moments[-1] if stored is not None and moments else None,
        "components": components,
        "plan": plan.contract(),
        "drains": drains,
        "rounds": rounds,
        "freezes": freezes,
        "decisions": rollforward.decisions,
        "failure": done.get("failure"),
        "error": done.get("error"),
        "findings": done.get("findings", []),
    }


def _resolved_at(
    fix: Mapping[str, Any] | None, components: Sequence[Mapping[str, Any]]
) -> str | None:
    """When a round's hotfix passed its last step (its 100% verdict), or None."""
    if fix is None:
        return None
    for comp in components:
        if comp["name"] != fix.get("component"):
            continue
        passed = [
            v["at"]
            for v in comp["verdicts"]
            if str(v.get("version")) == str(fix.get("version"))
            and v.get("phase") == "PASSED"
            and float(v.get("step") or 0) >= 100
            and v.get("at")
        ]
        return max(passed) if passed else None
    return None
