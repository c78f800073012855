"""Rendering plans and errors for people (Rich) and for Markdown (Mermaid)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from orchestrator.errors import Issue
    from orchestrator.model.manifest import Manifest
    from orchestrator.model.plan import Plan


def _steps(steps: tuple[float, ...]) -> str:
    return " → ".join(f"{s:g}%" for s in steps)


def render_plan(console: Console, manifest: Manifest, plan: Plan) -> None:
    """The plan as an on-call engineer reads it: waves, what each waits for and why."""
    waits: dict[str, list[str]] = {}
    for con in plan.constraints:
        waits.setdefault(con.after, []).append(f"{con.before} ({con.kind}, {con.queue})")
    drains_before: dict[str, list[str]] = {}
    for drain in plan.drains:
        for name in drain.before:
            drains_before.setdefault(name, []).append(f"{drain.queue} of schema {drain.schema_}")

    console.print(
        f"[bold]Release {plan.release}[/]: {sum(len(w) for w in plan.waves)} component(s) to "
        f"shift in {len(plan.waves)} wave(s), {len(plan.unchanged)} unchanged"
    )
    table = Table(show_lines=False, header_style="bold")
    for column in ("wave", "component", "version", "steps / bake", "waits for", "drains first"):
        table.add_column(column)
    for index, wave in enumerate(plan.waves, start=1):
        for name in wave:
            comp = manifest.component(name)
            table.add_row(
                str(index),
                name,
                f"{comp.from_.version or '(live)'} → {comp.to.version}",
                f"{_steps(comp.strategy.steps)} / {comp.strategy.bake_seconds}s",
                "\n".join(waits.get(name, [])) or "-",
                "\n".join(drains_before.get(name, [])) or "-",
            )
    for name in plan.unchanged:
        comp = manifest.component(name)
        table.add_row("-", name, f"{comp.to.version or '(live)'} (unchanged)", "-", "-", "-")
    console.print(table)
    if plan.constraints:
        console.print("[bold]Why this order[/]")
        for con in plan.constraints:
            console.print(Text(f"  • {con.before} before {con.after} [{con.kind}]: {con.reason}"))
    if plan.drains:
        console.print("[bold]Drains[/] (read-only: the orchestrator never receives or purges)")
        for drain in plan.drains:
            console.print(
                Text(
                    f"  • {drain.queue}: no schema-{drain.schema_} message left after "
                    f"{', '.join(drain.after)} cut over, before {', '.join(drain.before)} shifts"
                )
            )


def render_issues(
    console: Console, title: str, issues: list[Issue], *, unplaced: str | None = "(document)"
) -> None:
    """Every issue with its path; one without a path is shown as ``unplaced`` (a document's
    problem), or with no path at all when ``unplaced`` is None (an environment problem)."""
    console.print(f"[bold red]{title}[/] ({len(issues)} problem{'s' if len(issues) != 1 else ''})")
    for issue in issues:
        where = issue.path or unplaced
        if where is None:
            console.print(Text.assemble("  ✗ ", issue.message))
        else:
            console.print(Text.assemble("  ✗ ", (where, "bold"), f": {issue.message}"))


_ESCAPES = {"_": "__", "-": "_h", ".": "_d"}


def _node_id(prefix: str, name: str) -> str:
    """A Mermaid node id for a component (``c_``) or queue (``q_``) name, one per name: ``_``,
    ``-`` and ``.`` become ``__``, ``_h`` and ``_d`` (any other character ``_uHEX_``), so
    ``a-b``, ``a_b`` and ``a.b`` stay three nodes (``c_a_hb``, ``c_a__b``, ``c_a_db``)."""
    return prefix + re.sub(
        r"[^A-Za-z0-9]",
        lambda m: _ESCAPES.get(m.group(), f"_u{ord(m.group()):x}_"),
        name,
    )


def render_mermaid(manifest: Manifest, plan: Plan) -> str:
    """A Mermaid flowchart: waves as subgraphs, queues as cylinders, constraints dotted."""
    lines = ["flowchart LR"]
    for index, wave in enumerate(plan.waves, start=1):
        lines.append(f'  subgraph wave{index}["wave {index}"]')
        for name in wave:
            comp = manifest.component(name)
            label = f"{name}<br/>{comp.from_.version or 'live'} → {comp.to.version}"
            lines.append(f'    {_node_id("c_", name)}["{label}"]')
        lines.append("  end")
    if plan.unchanged:
        lines.append('  subgraph unchanged["unchanged"]')
        for name in plan.unchanged:
            lines.append(f'    {_node_id("c_", name)}["{name}"]')
        lines.append("  end")
    for queue in sorted(manifest.queues):
        lines.append(f'  {_node_id("q_", queue)}[("{queue}")]')
    resolved = manifest.resolved
    for name in sorted(resolved):
        comp = resolved[name]
        for queue in sorted(set(comp.from_.writes) | set(comp.to.writes)):
            old, new = comp.from_.writes.get(queue), comp.to.writes.get(queue)
            label = str(new) if old == new else f"{old if old is not None else '-'}→{new}"
            lines.append(f'  {_node_id("c_", name)} -->|"{label}"| {_node_id("q_", queue)}')
        for queue in sorted(set(comp.from_.reads) | set(comp.to.reads)):
            reads = comp.to.reads.get(queue) or comp.from_.reads.get(queue) or []
            label = "reads " + ",".join(str(s) for s in reads)
            lines.append(f'  {_node_id("q_", queue)} -->|"{label}"| {_node_id("c_", name)}')
    for con in plan.constraints:
        lines.append(
            f'  {_node_id("c_", con.before)} -.->|"{con.kind}"| {_node_id("c_", con.after)}'
        )
    return "\n".join(lines) + "\n"
