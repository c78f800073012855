"""How release documents are shown to people: the dry-run progress table and report, the status
view (also `start --wait`'s live view). The one rendering place for `--format text`; JSON goes
through ``base.emit_json``."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from orchestrator.cli.base import (
    stdout,
)


def progress_table(snapshot: dict[str, Any]) -> Table:
    table = Table(title="release progress", header_style="bold")
    for column in ("wave", "component", "status", "weights", "last verdict"):
        table.add_column(column)
    for name, row in sorted(snapshot.items(), key=lambda i: (i[1]["wave"] or 99, i[0])):
        weights = ", ".join(f"{v}: {w:g}%" for v, w in sorted(row["weights"].items()))
        table.add_row(
            str(row["wave"] or "-"), name, row["status"], weights or "-", row["verdict"] or "-"
        )
    return table


def render_messages(console: Console, messages: dict[str, dict[str, int]]) -> None:
    """The dry run's per-queue message counts (DESIGN §7): real messages, and the deliveries of
    a schema the receiving version does not read (flagged: 0 unless a scenario breaks one)."""
    if not messages:
        return
    console.print("[bold]Messages per queue[/] (sent = consumed + queued + dead-lettered)")
    for name, counts in sorted(messages.items()):
        unreadable = int(counts.get("unreadable", 0))
        flag = f"[bold red]unreadable {unreadable}[/]" if unreadable else "unreadable 0"
        console.print(
            f"  {name:<16} sent {counts['sent']:<6} consumed {counts['consumed']:<6} "
            f"queued {counts['queued']:<6} dead-lettered {counts['dead_lettered']:<6} {flag}",
            highlight=False,
        )


def render_report(console: Console, document: dict[str, Any]) -> None:
    status = document.get("status", "?")
    color = {"SUCCEEDED": "green", "ROLLED_FORWARD": "green", "HALTED": "yellow"}.get(status, "red")
    console.print(f"[bold]Release {document.get('release')}[/]: [bold {color}]{status}[/]")
    table = Table(header_style="bold")
    for column in ("component", "wave", "status", "live weights", "verdicts"):
        table.add_column(column)
    for name, row in sorted(document.get("final", {}).items()):
        verdicts = document.get("verdicts", {}).get(name) or row.get("verdicts") or []
        table.add_row(
            name,
            str(row.get("wave") or "-"),
            row.get("status", ""),
            ", ".join(f"{v}: {w:g}%" for v, w in sorted(row.get("weights", {}).items())),
            " ".join(v["phase"][0] for v in verdicts) or "-",
        )
    console.print(table)
    actions = document.get("actions", [])
    if actions:
        console.print("[bold]Alias moves, in order[/]")
        for move in actions:
            weights = ", ".join(f"{v}: {w:g}%" for v, w in sorted(move["weights"].items()))
            console.print(f"  {move['component']:<16} {move['action']:<14} [{weights}]")
    failure = document.get("failure")
    if failure:
        console.print(
            f"[bold]Failure[/]: {failure.get('component')}@{failure.get('version')} at "
            f"{failure.get('step')}% broke {failure.get('broken')}"
        )
        for reason in failure.get("reasons", []):
            console.print(f"  - {reason}")
    for hotfix in document.get("hotfixes", []):
        console.print(f"[bold]Hotfix[/]: {hotfix['component']}@{hotfix['version']} shipped")
    render_messages(console, document.get("messages") or {})
    interrupted = document.get("interrupted")
    if interrupted:
        console.print(
            f"[bold red]Stopped[/] ({interrupted['reason']}, {interrupted['after_seconds']:g}s "
            f"after the release started): {interrupted['message']}",
            highlight=False,
        )
    if "events" in document:
        times = []
        if "wall_seconds" in document:
            times.append(f"release {document['wall_seconds']:g}s")
        if document.get("setup_seconds"):
            times.append(f"engine start and seeding {document['setup_seconds']:g}s")
        if "command_wall_seconds" in document:
            times.append(f"command {document['command_wall_seconds']:g}s")
        console.print(
            f"history events: {document['events']}, state transitions: {document['transitions']}"
            + (f", wall time: {', '.join(times)}" if times else "")
        )


def status_snapshot(status: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {
            "wave": row["wave"],
            "status": row["status"],
            "weights": row["weights"] or {},
            "verdict": (row["last_verdict"] or {}).get("phase"),
        }
        for name, row in status["components"].items()
    }


def queue_line(row: dict[str, Any]) -> str:
    """One queue of `status` for people, from its structured row."""
    if row.get("error"):
        return f"  {row['queue']}: could not be read ({row['error']})"
    text = f"  {row['queue']}: {row['visible']} visible, {row['in_flight']} in flight"
    if row.get("delayed"):
        text += f", {row['delayed']} delayed"
    if row.get("oldest_age_seconds") is not None:
        text += f", oldest {row['oldest_age_seconds']:g}s"
    if row.get("dlq"):
        text += f"; dead-letter queue {row['dlq']['messages']}"
    if row.get("schemas"):
        text += "; schemas " + ", ".join(schema_share(s) for s in row["schemas"])
    return text


def schema_share(row: dict[str, Any]) -> str:
    """``2: 75%`` (``, 3 failed`` / ``, 1 unreadable`` when some were): one schema of a queue's
    recent mix (``operations.schema_mixes``)."""
    text = f"{row['schema']}: {float(row['share']):.0%}"
    for key in ("failed", "unreadable"):
        if row.get(key):
            text += f" ({row[key]:g} {key})"
    return text


def wait_line(timing: dict[str, Any]) -> str:
    if timing.get("left") is None:
        return f"since {timing.get('since')}, time left unknown"
    line = f"since {timing['since']}, {timing['left']} left (until {timing['deadline']})"
    extensions = timing.get("extensions") or []
    if extensions:
        times = "time" if len(extensions) == 1 else "times"
        line += f"; extended {len(extensions)} {times}, last at {timing.get('extended_at')}"
    return line


def status_view(document: dict[str, Any], hint: str) -> Group:
    """What `rollout status` shows, as one renderable (also `start --wait`'s live view): the
    execution, the cause of a bad end, the components, queues, a hotfix wait or a hold with the
    commands that answer it."""
    from orchestrator.operations import describe_cause

    parts: list[RenderableType] = []

    release = document["release"]
    run_state = document.get("execution") or {}
    parts.append(
        Text.assemble(
            (release, "bold"),
            f": execution {run_state.get('status', 'unknown')}",
            f" ({run_state['error']})" if run_state.get("error") else "",
            f"  {run_state.get('arn') or ''}",
        )
    )
    cause = document.get("cause")
    if cause:
        parts.append(Text.assemble(("Cause", "bold red"), ": ", describe_cause(cause)))
    if document["components"]:
        parts.append(progress_table(status_snapshot(document)))
    if document["queues"]:
        parts.append(Text("Queues", style="bold"))
        for row in document["queues"]:
            parts.append(Text(queue_line(row)))
    waiting = document.get("waiting_for_hotfix")
    if waiting:
        needs = waiting.get("requirements") or {}
        parts.append(
            Text.assemble(
                (f"Waiting for a hotfix of {waiting.get('broken')}", "bold yellow"),
                f" (broken by {waiting.get('trigger')}'s shift) {wait_line(waiting)}",
            )
        )
        for reason in waiting.get("reasons") or []:
            parts.append(Text(f"  - {reason}"))
        parts.append(Text(f"  must read: {needs.get('reads')}; may write: {needs.get('writes')}"))
        reads = " ".join(
            f"--reads {q}={','.join(str(s) for s in schemas)}"
            for q, schemas in sorted((needs.get("reads") or {}).items())
        )
        parts.append(
            Text(
                f"  hand it over: rollout hotfix {release} --component {waiting.get('broken')} "
                f"--version <VERSION>{' ' + reads if reads else ''}{hint}"
            )
        )
        parts.append(Text(f"  more time: rollout hotfix {release} --extend 2h{hint}"))
    parts.extend(manual_gate_lines(document, hint))
    held = document.get("held")
    if held:
        parts.append(
            Text.assemble(
                ("Held", "bold yellow"),
                f": the gate of {held.get('component')}@{held.get('version')} at "
                f"{held.get('step')}% could not judge ({held.get('why')}); nothing is broken. "
                f"{wait_line(held)}",
            )
        )
        for reason in held.get("reasons") or []:
            parts.append(Text(f"  - {reason}"))
        parts.append(
            Text(f"  continue: rollout resume {release}{hint}; stop: rollout abort {release}{hint}")
        )
    if document.get("report"):
        parts.append(f"final status: {document['report']['status']}")
    for problem in document.get("problems") or []:
        parts.append(Text.assemble(("! ", "bold yellow"), problem))
    return Group(*parts)


def manual_gate_lines(document: dict[str, Any], hint: str) -> list[Text]:
    """A `rollout pause` in force, and each step waiting for `rollout approve`, with the commands
    that answer them."""
    release = document["release"]
    lines: list[Text] = []
    paused = document.get("paused")
    if paused:
        lines.append(
            Text.assemble(
                ("Paused", "bold yellow"),
                f" since {paused.get('since')} ({paused.get('reason')}): no forward move until "
                f"rollout resume {release}{hint}",
            )
        )
    for row in document.get("approvals") or []:
        left = f", {row['left']} left (until {row['deadline']})" if row.get("left") else ""
        lines.append(
            Text.assemble(
                ("Waiting for approval", "bold yellow"),
                f": {row['component']}@{row['version']} to {float(row['step']):g}% (at "
                f"{float(row.get('weight') or 0):g}% now) since {row.get('since')}{left}; "
                f"approve: rollout approve {release} --component {row['component']}{hint}",
            )
        )
    return lines


def render_status(document: dict[str, Any], hint: str) -> None:
    stdout.print(status_view(document, hint))
