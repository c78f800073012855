"""What `rollout watch` shows, derived from what a release stored: data in, rows out (pure).

:func:`build_view` turns the facts :func:`orchestrator.operations.watch_facts` read (the `rollout
status` document plus the ledger records a state is told from) into one JSON-able picture: the
release's state, a row per component (in the manifest's order), the queues, the roll-forward
round and what it waits for, and, once the execution has ended, its status and exit code.
`rollout watch --format json` streams these pictures; the live terminal view and the dry run's
progress render them (``watch_commands``). Nothing here reads a clock or a table:
``facts["now"]`` is the time.

A component is in one of :data:`STATES`:

* ``unchanged``: the plan does not shift it;
* ``waiting``: for its predecessors (``waiting_for`` names them) or for its start;
* ``queued``: ready, waiting for a concurrency slot (``max_concurrency``);
* ``starting``: its child execution started, nothing moved yet;
* ``draining``: the drain that guards it is not proven yet (``drain#<component>`` exists);
* ``baking``: at N% (``weight``), its bake ends at ``bake.ends_at`` (``bake.left``: m:ss);
* ``shifting``: at N%, its bake over: being judged or moved;
* ``promoted``, ``held``, ``pulled-back``, ``frozen``: as its ledger record says.

The release is in one of :data:`RELEASE_STATES`. A dry run's timestamps are simulated time: read
in-process (``facts["release_clock"]``) its clock is ``now``; read from outside, "now" is the
latest timestamp the release stored, and the view says the clock is ``simulated``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

STATES = (
    "unchanged",
    "waiting",
    "queued",
    "starting",
    "draining",
    "baking",
    "shifting",
    "promoted",
    "held",
    "pulled-back",
    "frozen",
)
"""Every state a component row can be in (see the module's docstring)."""

RELEASE_STATES = ("planning", "running", "waiting-for-hotfix", "held", "ended")
"""Every state of the release: ``planning`` until ValidateAndPlan stored the plan."""


class Progress(StrEnum):
    """How `rollout dry-run --progress` shows the release while it runs: ``live`` (this view,
    refreshed in place), ``plain`` (a line per change) or ``none``."""

    live = "live"
    plain = "plain"
    none = "none"


COMPLETED = frozenset({"SUCCEEDED", "ROLLED_FORWARD"})

READINGS = frozenset(
    {"at", "now", "seconds_left", "left", "detail", "visible", "in_flight", "delayed"}
    | {"oldest_age_seconds", "problems"}
)
"""Keys that are readings, not changes: they ride along in every picture, but a picture that
differs from the last only in them is not streamed again (:func:`change_key`)."""

FIGURES = ("invocations", "errors", "error_rate", "throttles")
"""A verdict's own figures shown beside its phase (the rest is under ``values``)."""


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def stamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clock_text(seconds: float) -> str:
    """A countdown for people: ``4:05``, ``1:02:03``."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:g}%"


def weights_text(weights: dict[str, float] | None) -> str:
    return ", ".join(f"{v}: {w:g}%" for v, w in sorted((weights or {}).items())) or "-"


# -- the picture ----------------------------------------------------------------------------------


def build_view(facts: dict[str, Any]) -> dict[str, Any]:
    """The picture of a release (see the module's docstring); a JSON-able dict."""
    status: dict[str, Any] = facts.get("status") or {}
    plan: dict[str, Any] | None = facts.get("plan")
    options: dict[str, Any] = facts.get("options") or {}
    records: dict[str, dict[str, Any]] = facts.get("records") or {}
    now, clock = _now(facts, options)
    execution = status.get("execution") or {}
    report = status.get("report") or None
    ended = _ended(execution, report)
    release_state = _release_state(status, plan, ended)
    context = _Context(
        facts=facts,
        plan=plan or {},
        options=options,
        records=records,
        now=now,
        release_state=release_state,
    )
    # the manifest's order: it stays put while waves are replanned after a roll-forward round
    rows = [
        _manual_gate(status, _component(context, name, row))
        for name, row in (status.get("components") or {}).items()
    ]
    final = str(report["status"]) if ended and report and report.get("status") else None
    exit_code = _exit_code(execution, final) if ended else None
    return {
        "release": facts.get("release") or status.get("release"),
        "at": stamp(now),
        "clock": clock,
        "state": release_state,
        "execution": execution.get("status"),
        "round": int((facts.get("scheduler") or {}).get("round") or 0),
        "components": rows,
        "queues": [_queue(q) for q in status.get("queues") or []],
        "rollforward": _rollforward(status, facts),
        "status": final or (None if not ended else _status_without_report(execution)),
        "exit_code": exit_code,
        "cause": status.get("cause"),
        "problems": list(status.get("problems") or []),
    }


def change_key(view: dict[str, Any]) -> str:
    """The picture without its readings (:data:`READINGS`): two pictures with the same key show
    the same state of the release."""
    return json.dumps(_without_readings(view), sort_keys=True, default=str)


def _without_readings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_readings(v) for k, v in value.items() if k not in READINGS}
    if isinstance(value, list):
        return [_without_readings(v) for v in value]
    return value


class _Context:
    def __init__(
        self,
        *,
        facts: dict[str, Any],
        plan: dict[str, Any],
        options: dict[str, Any],
        records: dict[str, dict[str, Any]],
        now: datetime,
        release_state: str,
    ) -> None:
        self.facts = facts
        self.plan = plan
        self.options = options
        self.records = records
        self.now = now
        self.release_state = release_state
        scheduler = facts.get("scheduler") or {}
        self.round = int(scheduler.get("round") or 0)
        self.waiting = list(scheduler.get("waiting") or [])
        self.started: dict[str, int] = dict(scheduler.get("started") or {})
        self.max_concurrency = scheduler.get("max_concurrency")
        self.drains: dict[str, dict[str, Any]] = dict(facts.get("drains") or {})
        self.drained = set(facts.get("drained") or [])
        self.queues = {q["queue"]: q for q in (facts.get("status") or {}).get("queues") or []}

    def done(self, name: str) -> bool:
        record = self.records.get(name) or {}
        target = (self.plan.get("to") or {}).get(name)
        return record.get("status") == "promoted" and record.get("version") == target

    def bake_seconds(self, name: str) -> float | None:
        strategy = (self.plan.get("strategy") or {}).get(name)
        if not strategy:
            return None
        nominal = float(strategy.get("bake_seconds") or 0)
        if self.options.get("dry_run"):
            return nominal  # a dry run's clock moves by the nominal bake, whatever the scale
        return nominal * float(self.options.get("time_scale", 1.0))


def _now(facts: dict[str, Any], options: dict[str, Any]) -> tuple[datetime, str]:
    now = parse_time(facts.get("now")) or datetime.now(UTC)
    if not options.get("dry_run") or facts.get("release_clock"):
        return now, "simulated" if options.get("dry_run") else "wall"
    latest = max(_stamps(facts.get("records") or {}), default=None)
    return (latest or now), "simulated"


def _stamps(records: dict[str, dict[str, Any]]) -> list[datetime]:
    found: list[datetime] = []
    for record in records.values():
        moments = [record.get(k) for k in ("shift_started_at", "shift_finished_at", "promoted_at")]
        moments.append((record.get("last_verdict") or {}).get("at"))
        moments.append((record.get("last_move") or {}).get("at"))
        found.extend(m for m in map(parse_time, moments) if m is not None)
    return found


def _ended(execution: dict[str, Any], report: dict[str, Any] | None) -> bool:
    state = execution.get("status")
    if state is None:  # no Step Functions view: the stored report says it ended
        return report is not None
    return state not in ("RUNNING", "NOT_STARTED")


def _release_state(status: dict[str, Any], plan: dict[str, Any] | None, ended: bool) -> str:
    if ended:
        return "ended"
    if status.get("waiting_for_hotfix"):
        return "waiting-for-hotfix"
    if status.get("held"):
        return "held"
    if plan is None:
        return "planning"
    return "running"


def _status_without_report(execution: dict[str, Any]) -> str:
    return "SUCCEEDED" if execution.get("status") == "SUCCEEDED" else "FAILED"


def _exit_code(execution: dict[str, Any], final: str | None) -> int:
    """0 completed, 1 did not (DESIGN §7); a release that reported success and then failed (its
    Report's output too large) did not complete."""
    state = execution.get("status")
    if final is None:
        return 0 if state == "SUCCEEDED" else 1
    if final in COMPLETED and state in (None, "SUCCEEDED"):
        return 0
    return 1


def _verdict(record: dict[str, Any]) -> dict[str, Any] | None:
    last = record.get("last_verdict")
    if not last:
        return None
    started = parse_time(record.get("shift_started_at"))
    at = parse_time(last.get("at"))
    values = dict(last.get("values") or {})
    mine = str(last.get("version")) == str(record.get("version"))
    return {
        "phase": last.get("phase"),
        "version": last.get("version"),
        "step": last.get("step"),
        "at": last.get("at"),
        "current": mine and (started is None or (at is not None and at >= started)),
        "early": bool(last.get("early")),
        "broken": last.get("broken"),
        "figures": {k: values[k] for k in FIGURES if k in values},
        "values": values,
        "reasons": list(last.get("reasons") or []),
        "evidence": [str(e["text"]) for e in last.get("evidence") or [] if e.get("text")],
    }


def _manual_gate(status: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """A component whose next move waits for `rollout approve`, or a paused release (issue 13
    item 3): said in the row's detail, with ``approval`` and ``paused``."""
    approval = next(
        (a for a in status.get("approvals") or [] if a.get("component") == out["component"]),
        None,
    )
    paused = status.get("paused")
    out["approval"] = approval
    out["paused"] = bool(paused) and out["state"] not in ("promoted", "unchanged")
    if approval is not None:
        left = f", {approval['left']} left" if approval.get("left") else ""
        out["detail"] = (
            f"waiting for approval to {percent(approval.get('step'))} at "
            f"{percent(approval.get('weight'))}{left} (rollout approve)"
        )
    if out["paused"]:
        out["detail"] = (out["detail"] + "; " if out["detail"] else "") + "paused (rollout resume)"
    return out


def _component(context: _Context, name: str, row: dict[str, Any]) -> dict[str, Any]:
    record = context.records.get(name) or {}
    target = row.get("target") or (context.plan.get("to") or {}).get(name)
    version = record.get("version") or target
    weights = row.get("weights") or record.get("expected") or {}
    out: dict[str, Any] = {
        "component": name,
        "wave": row.get("wave"),
        "state": "waiting",
        "detail": "",
        "version": version,
        "target": target,
        "weight": None,
        "weights": weights,
        "round": record.get("round"),
        "execution": record.get("execution"),
        "waiting_for": [],
        "drain": None,
        "bake": None,
        "verdict": _verdict(record),
    }
    status = record.get("status") or row.get("status")
    if row.get("status") == "unchanged" or (row.get("wave") is None and not record):
        out.update(state="unchanged", detail=f"not shifted (stays on {weights_text(weights)})")
        return out
    if status == "shifting":
        _shifting(context, name, record, out)
    elif status == "promoted" and record.get("version") == target:
        out.update(
            state="promoted",
            weight=float(_setting(record, out).get(str(version), 100.0)),
            detail=f"promoted {version}",
        )
    elif status in ("held", "pulled-back", "frozen"):
        why = out["verdict"]["phase"] if out["verdict"] else None
        step = out["verdict"]["step"] if out["verdict"] else None
        setting = _setting(record, out)
        words = {
            "held": f"held at {weights_text(setting)}: its gate could not judge",
            "pulled-back": f"pulled back to {weights_text(setting)}",
            "frozen": f"frozen at {weights_text(setting)}",
        }[status]
        if why is not None and status != "held":
            words += f" after {why} at {percent(step)}"
        out.update(state=status, weight=float(setting.get(str(version), 0.0)), detail=words)
    else:
        _not_started(context, name, record, out)
    return out


def _shifting(context: _Context, name: str, record: dict[str, Any], out: dict[str, Any]) -> None:
    version = str(out["version"])
    weight = float(_setting(record, out).get(version, 0.0))
    out["weight"] = weight
    verdict = out["verdict"]
    # a bake begins when the shift sets a weight (its first, a hotfix's, each step's) and again
    # after each verdict of it (a re-bake)
    moments = [
        parse_time(record.get("shift_started_at")),
        parse_time((record.get("last_move") or {}).get("at")),
    ]
    if verdict is not None and verdict["current"]:
        moments.append(parse_time(verdict.get("at")))
    known = [m for m in moments if m is not None]
    bake = context.bake_seconds(name)
    head = f"at {percent(weight)} of {version}"
    if known and bake is not None:
        begun = max(known)
        ends = begun + timedelta(seconds=bake)
        left = (ends - context.now).total_seconds()
        if left > 0:
            out["bake"] = {
                "seconds": bake,
                "started_at": stamp(begun),
                "ends_at": stamp(ends),
                "seconds_left": round(left, 1),
                "left": clock_text(left),
            }
            out.update(state="baking", detail=f"baking {head}, {clock_text(left)} left")
            return
    out.update(state="shifting", detail=f"shifting {head}")


def _setting(record: dict[str, Any], out: dict[str, Any]) -> dict[str, float]:
    """The weights this release last set (its ledger), else the live alias's."""
    expected: dict[str, float] = record.get("expected") or {}
    return expected or dict(out["weights"])


def _not_started(context: _Context, name: str, record: dict[str, Any], out: dict[str, Any]) -> None:
    drain = context.drains.get(name)
    guards = [d for d in context.plan.get("drains") or [] if name in (d.get("before") or [])]
    pending = [d for d in guards if f"{d['queue']}#{d['schema']}" not in context.drained]
    current = context.started.get(name) == context.round and name in context.started
    if drain is not None and pending and current:
        queues = []
        for d in pending:
            reading = context.queues.get(d["queue"]) or {}
            queues.append(
                {
                    "queue": d["queue"],
                    "schema": d["schema"],
                    "visible": reading.get("visible"),
                    "oldest_age_seconds": reading.get("oldest_age_seconds"),
                }
            )
        out["drain"] = {
            "since": drain.get("started_at"),
            "polls": drain.get("polls"),
            "queues": queues,
        }
        said = "; ".join(f"{q['queue']} of schema {q['schema']} ({_depth(q)})" for q in queues)
        out.update(state="draining", detail=f"draining {said}")
        return
    if current:
        out.update(state="starting", detail="its child execution started")
        return
    if name in context.waiting:
        cap = context.max_concurrency
        out.update(
            state="queued",
            detail="ready, waiting for a concurrency slot"
            + (f" (max_concurrency {cap})" if cap else ""),
        )
        return
    predecessors = (context.plan.get("predecessors") or {}).get(name) or []
    blocking = [p for p in predecessors if not context.done(p)]
    out["waiting_for"] = blocking
    if record.get("status") == "promoted":
        detail = f"promoted {record.get('version')}; waits for its shift to {out['target']}"
    elif blocking:
        detail = "waits for " + ", ".join(blocking)
    elif context.release_state == "ended":
        detail = "not shifted: the release ended"
    elif context.release_state in ("waiting-for-hotfix", "held"):
        detail = "waits for the release to go on"
    else:
        detail = "waits for its start"
    out.update(state="waiting", detail=detail)


def _depth(queue: dict[str, Any]) -> str:
    parts = []
    if queue.get("visible") is not None:
        parts.append(f"{queue['visible']} visible")
    if queue.get("oldest_age_seconds") is not None:
        parts.append(f"oldest {queue['oldest_age_seconds']:g}s")
    return ", ".join(parts) or "depth unknown"


def _queue(row: dict[str, Any]) -> dict[str, Any]:
    dlq = row.get("dlq") or None
    return {
        "queue": row.get("queue"),
        "visible": row.get("visible"),
        "in_flight": row.get("in_flight"),
        "delayed": row.get("delayed"),
        "oldest_age_seconds": row.get("oldest_age_seconds"),
        "dlq_messages": None if dlq is None else dlq.get("messages"),
        "error": row.get("error"),
    }


def _rollforward(status: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any] | None:
    """The roll-forward round and what it waits for: a hotfix (with what it must satisfy) or a
    resume (the hold), with the time left; None before anything failed."""
    waiting = status.get("waiting_for_hotfix")
    held = status.get("held")
    record = status.get("rollforward") or {}
    if not (waiting or held or record):
        return None
    out: dict[str, Any] = {
        "round": record.get("round") or (waiting or {}).get("round"),
        "kind": record.get("kind"),
        "waits_for": None,
        "component": None,
        "trigger": record.get("trigger"),
        "reasons": list(record.get("reasons") or []),
        "requirements": None,
        "deadline": None,
        "seconds_left": None,
        "left": None,
        "command": None,
    }
    release = facts.get("release") or status.get("release")
    timing = waiting or held
    if timing:
        out.update(
            deadline=timing.get("deadline"),
            seconds_left=timing.get("seconds_left"),
            left=timing.get("left"),
        )
    if waiting:
        broken = waiting.get("broken")
        out.update(
            waits_for="hotfix",
            component=broken,
            trigger=waiting.get("trigger"),
            reasons=list(waiting.get("reasons") or []),
            requirements=waiting.get("requirements"),
            command=f"rollout hotfix {release} --component {broken} --version <VERSION>",
        )
    elif held:
        out.update(
            waits_for="resume",
            component=held.get("component"),
            reasons=list(held.get("reasons") or []),
            command=f"rollout resume {release}",
        )
    return out


# -- one line per change, for logs ----------------------------------------------------------------


def component_line(row: dict[str, Any]) -> str:
    """One component for a log line: ``enrich: baking at 10% of 18, 4:05 left; PASSED at 10%``."""
    text = f"{row['component']}: {row['detail'] or row['state']}"
    verdict = row.get("verdict")
    if verdict and verdict.get("current") and row["state"] not in ("unchanged", "waiting"):
        text += f"; last verdict {verdict_text(verdict)}"
    return text


def verdict_text(verdict: dict[str, Any]) -> str:
    """``PASSED at 10% (59 invocations, 0 errors)``."""
    figures = verdict.get("figures") or {}
    shown = []
    if "invocations" in figures:
        shown.append(f"{figures['invocations']:g} invocations")
    if "errors" in figures:
        shown.append(f"{figures['errors']:g} errors")
    text = f"{verdict.get('phase')} at {percent(verdict.get('step'))}"
    if verdict.get("version"):
        text += f" of {verdict['version']}"
    return text + (f" ({', '.join(shown)})" if shown else "")


def release_line(view: dict[str, Any], *, timing: bool = True) -> str:
    """The release's state in one line: ``2026-11-28.1: waiting for a hotfix of enrich
    (roll-forward round 1), 23h 59m left`` (without the time left unless ``timing``)."""
    head = f"{view['release']}: "
    state = view["state"]
    rollforward = view.get("rollforward") or {}
    if state == "ended":
        return head + f"ended {view['status']} (exit {view['exit_code']})"
    if state == "waiting-for-hotfix":
        text = f"waiting for a hotfix of {rollforward.get('component')}"
    elif state == "held":
        text = f"held at {rollforward.get('component')}: waiting for `rollout resume`"
    elif state == "planning":
        return head + "planning"
    else:
        text = "running"
    if rollforward.get("round"):
        text += f" (roll-forward round {rollforward['round']})"
    if timing and rollforward.get("left") and state != "running":
        text += f", {rollforward['left']} left"
    return head + text


def changed_lines(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    """What changed from one picture to the next, as log lines (every line at first)."""
    lines: list[str] = []
    state = None
    if before is None or release_line(before, timing=False) != release_line(after, timing=False):
        state = release_line(after)
    if state is not None and after["state"] != "ended":
        lines.append(state)
    old = {r["component"]: r for r in (before or {}).get("components", [])}
    for row in after["components"]:
        previous = old.get(row["component"])
        if previous is None or _line_key(previous) != _line_key(row):
            lines.append(component_line(row))
    if state is not None and after["state"] == "ended":
        lines.append(state)  # the last word
    return lines


def _line_key(row: dict[str, Any]) -> str:
    """What a component's log line says, without its countdown and readings."""
    verdict = row.get("verdict") or {}
    drain = row.get("drain") or {}
    return json.dumps(
        [
            row["state"],
            row.get("version"),
            row.get("weight"),
            row.get("waiting_for"),
            [(q["queue"], q["schema"]) for q in drain.get("queues") or []],
            [verdict.get(k) for k in ("phase", "version", "step", "at", "current")],
        ],
        default=str,
    )
