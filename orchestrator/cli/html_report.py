"""One self-contained HTML picture of a release (`rollout report --html`, `dry-run --html`).

``render_html`` is a pure function from the picture document (``release.history.release_picture``)
to an HTML string: inline CSS and SVG, no script, no font, no image, nothing fetched, so the file
opens the same from a laptop, a ticket attachment or an air-gapped bastion.

What it draws:

* a timeline with one lane per component (``g.lane[data-component]``): the alias weights over
  time as stacked bands per version, each bake window as a bar ending in its verdict marker
  (``.verdict``, the figures in its ``<title>``, which browsers show on hover), every alias move
  (``.action``; a pull-back is orange), the drains, the freeze (``.freeze``), each roll-forward
  round with its hotfix (``.round``) and, at the right, where the alias ended;
* the plan as a graph: components in wave columns, producer -> queue -> consumer edges coloured
  by the order they impose, the constraints with their reasons;
* the rounds (failure, decisions, hotfix), every verdict in a table, the queues' message counts.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

PHASE_COLOURS = {
    "PASSED": "#1e8e3e",
    "FAILED": "#d93025",
    "INCONCLUSIVE": "#f29900",
    "ERROR": "#5f6368",
}
VERSION_COLOURS = ("#b0b8c1", "#1a73e8", "#9334e6", "#12a4af", "#e8710a", "#c5221f")
"""By position in a component's chain: from (grey), to (blue), then each hotfix."""
STATUS_COLOURS = {
    "SUCCEEDED": "#1e8e3e",
    "ROLLED_FORWARD": "#1a73e8",
    "HALTED": "#f29900",
    "FAILED": "#d93025",
    "RUNNING": "#5f6368",
}
EDGE_COLOURS = {
    "none": "#9aa0a6",
    "consumer-first": "#1a73e8",
    "producer-first-drain": "#9334e6",
    "infeasible": "#d93025",
}

WIDTH = 1100
LEFT = 170
RIGHT = 150
PLOT = WIDTH - LEFT - RIGHT
LANE = 78
BAND = 40
TOP = 40

CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px;
  color: #202124; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #e0e0e0; padding-bottom: 4px; }
.status { display: inline-block; padding: 2px 10px; border-radius: 12px; color: #fff;
  font-weight: 600; font-size: 13px; vertical-align: middle; }
.meta { color: #5f6368; margin: 6px 0 0; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { text-align: left; padding: 3px 10px; border-bottom: 1px solid #eee; vertical-align: top; }
th { font-weight: 600; color: #3c4043; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, monospace; }
svg { width: 100%; height: auto; max-width: 1100px; display: block; }
svg#plan { width: auto; max-width: 100%; }
#verdicts td:first-child { white-space: nowrap; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; fill: #3c4043; }
svg .name { font-weight: 600; font-size: 13px; fill: #202124; }
svg .small { font-size: 10.5px; fill: #5f6368; }
svg .axis line { stroke: #e8eaed; }
svg .verdict circle { stroke: #fff; stroke-width: 1.5; }
svg .verdict:hover circle, svg .action:hover path { stroke: #202124; stroke-width: 2; }
svg .bake rect { fill: #e8f0fe; stroke: #aecbfa; }
svg .freeze line { stroke: #d93025; stroke-width: 2; stroke-dasharray: 5 4; }
svg .round rect { fill: #fce8e6; opacity: .55; }
svg .drain rect { fill: #f3e8fd; stroke: #d7aefb; stroke-dasharray: 3 3; }
svg .edge path { fill: none; stroke-width: 2; }
svg .node rect { fill: #fff; stroke: #5f6368; rx: 6; }
svg .node.unchanged rect { stroke-dasharray: 4 3; fill: #f8f9fa; }
.legend span { display: inline-block; margin-right: 14px; font-size: 12.5px; color: #3c4043; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px;
  vertical-align: -1px; margin-right: 4px; }
ul.reasons { margin: 2px 0 6px 18px; padding: 0; }
.finding { color: #b06000; }
footer { margin-top: 28px; color: #80868b; font-size: 12px; }
"""


def e(value: object) -> str:
    """HTML-escaped text of ``value`` (attribute-safe)."""
    return html.escape("" if value is None else str(value), quote=True)


def _time(value: object) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if secs else f"{minutes} min"


def _pct(weight: object) -> str:
    value = float(weight)  # type: ignore[arg-type]
    return f"{value:g}%"


def _weights(weights: Mapping[str, Any]) -> str:
    return ", ".join(f"{v}: {_pct(w)}" for v, w in weights.items()) or "-"


def _figures(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={float(v):g}" for k, v in sorted(values.items()))


class _Scale:
    """Time -> x within the plot, over the release's span (a minute at least)."""

    def __init__(self, start: datetime, end: datetime) -> None:
        span = max((end - start).total_seconds(), 60.0)
        pad = span * 0.03
        self.start = start - timedelta(seconds=pad)
        self.end = end + timedelta(seconds=pad)
        self.seconds = (self.end - self.start).total_seconds()

    def x(self, moment: datetime | None) -> float:
        if moment is None:
            return LEFT + PLOT
        frac = (moment - self.start).total_seconds() / self.seconds
        return round(LEFT + max(0.0, min(1.0, frac)) * PLOT, 1)

    def ticks(self) -> list[datetime]:
        minutes = self.seconds / 60
        step = next(
            (s for s in (1, 2, 5, 10, 15, 30, 60, 120, 240, 480, 1440) if minutes / s <= 10), 2880
        )
        first = self.start.replace(second=0, microsecond=0)
        first -= timedelta(minutes=first.minute % step if step < 60 else first.minute)
        out: list[datetime] = []
        moment = first
        while moment <= self.end:
            if moment >= self.start:
                out.append(moment)
            moment += timedelta(minutes=step)
        return out


def _chain(comp: Mapping[str, Any]) -> list[str]:
    chain = [str(comp["from"])]
    for version in [str(comp["to"]), *map(str, comp.get("hotfixes", []))]:
        if version not in chain:
            chain.append(version)
    return chain


def _colour_of(chain: list[str], version: str) -> str:
    if version in chain:
        return VERSION_COLOURS[chain.index(version) % len(VERSION_COLOURS)]
    return VERSION_COLOURS[-1]


def _lane(
    comp: Mapping[str, Any], index: int, scale: _Scale, end: datetime, parts: list[str]
) -> None:
    name = str(comp["name"])
    top = TOP + index * LANE
    band_top = top + 22
    chain = _chain(comp)
    actions = [a for a in comp.get("actions", []) if _time(a.get("at"))]
    verdicts = sorted(
        (v for v in comp.get("verdicts", []) if _time(v.get("at"))), key=lambda v: str(v["at"])
    )
    parts.append(
        f'<g class="lane" data-component="{e(name)}" data-status="{e(comp.get("status"))}">'
    )
    parts.append(f'<text class="name" x="8" y="{band_top + 14}">{e(name)}</text>')
    versions = " → ".join(chain)
    wave = comp.get("wave")
    parts.append(
        f'<text class="small" x="8" y="{band_top + 30}">{e(versions)}'
        f"{'' if wave is None else f' · wave {wave}'}</text>"
    )
    parts.append(f'<rect x="{LEFT}" y="{band_top}" width="{PLOT}" height="{BAND}" fill="#f8f9fa"/>')
    # the alias weights: one segment per alias state, versions stacked newest at the bottom
    first = actions[0] if actions else None
    state: Mapping[str, Any] = (
        first.get("previous") or {chain[0]: 100.0} if first else _final_weights(comp, chain)
    )
    moments: list[tuple[datetime, Mapping[str, Any]]] = [(scale.start, state)]
    moments += [(_time(a["at"]) or scale.start, a.get("weights") or {}) for a in actions]
    for i, (since, weights) in enumerate(moments):
        until = moments[i + 1][0] if i + 1 < len(moments) else scale.end
        x0, x1 = scale.x(since), scale.x(until)
        if x1 <= x0:
            continue
        bottom: float = band_top + BAND
        order = sorted(weights, key=lambda v: -chain.index(v) if v in chain else -99)
        for version in order:
            height = BAND * float(weights[version]) / 100.0
            bottom -= height
            parts.append(
                f'<rect class="weight" data-version="{e(version)}" x="{x0}" '
                f'y="{round(bottom, 1)}" width="{round(x1 - x0, 1)}" height="{round(height, 1)}" '
                f'fill="{_colour_of(chain, version)}"><title>{e(name)} [{e(_weights(weights))}] '
                f"from {e(_hhmm(since))}</title></rect>"
            )
    # bake windows: from each forward move to the verdict that judged it
    used: set[int] = set()
    for action in actions:
        if action.get("action") == "pull-back" or action.get("step") is None:
            continue
        at = _time(action["at"])
        assert at is not None
        verdict = next(
            (
                (j, v)
                for j, v in enumerate(verdicts)
                if j not in used and (_time(v["at"]) or at) >= at
            ),
            None,
        )
        if verdict is None:
            until, label = end, "baking"
        else:
            used.add(verdict[0])
            until, label = _time(verdict[1]["at"]) or end, ""
        x0, x1 = scale.x(at), scale.x(until)
        parts.append(
            f'<g class="bake" data-step="{e(action.get("step"))}"><rect x="{x0}" y="{top + 6}" '
            f'width="{max(round(x1 - x0, 1), 1)}" height="12" rx="3"/>'
            f'<text class="small" x="{x0 + 9}" y="{top + 16}">{e(_pct(action["step"]))}'
            f"{' ' + label if label else ''}</text><title>bake at {e(_pct(action['step']))} "
            f"of {e(_new_version(action, chain))}: {e(_hhmm(at))} to {e(_hhmm(until))}</title></g>"
        )
    for action in actions:
        at = _time(action["at"])
        x = scale.x(at)
        kind = str(action.get("action"))
        colour = "#e8710a" if kind == "pull-back" else "#3c4043"
        y = band_top + BAND + 2
        parts.append(
            f'<g class="action" data-action="{e(kind)}" data-at="{e(action["at"])}">'
            f'<path d="M{x} {y} l-5 9 h10 z" fill="{colour}"/><title>{e(kind)} {e(name)} at '
            f"{e(action['at'])}: [{e(_weights(action.get('previous') or {}))}] → "
            f"[{e(_weights(action.get('weights') or {}))}]</title></g>"
        )
    for rank, verdict in enumerate(verdicts):
        x = scale.x(_time(verdict["at"]))
        phase = str(verdict.get("phase"))
        lines = [
            f"{phase}: {name}@{verdict.get('version')} at {_pct(verdict.get('step', 0))}, "
            f"{verdict.get('at')}"
        ]
        lines += [f"- {reason}" for reason in verdict.get("reasons", [])]
        if verdict.get("values"):
            lines.append(_figures(verdict["values"]))
        parts.append(
            f'<g class="verdict" data-phase="{e(phase)}" data-at="{e(verdict["at"])}" '
            f'data-order="{rank}" data-version="{e(verdict.get("version"))}">'
            f'<circle cx="{x}" cy="{top + 12}" r="6.5" '
            f'fill="{PHASE_COLOURS.get(phase, "#5f6368")}"/>'
            f"<title>{e(chr(10).join(lines))}</title></g>"
        )
    final = comp.get("final") or {}
    label = _weights(final.get("weights") or {}) if final else "-"
    parts.append(
        f'<text class="final" x="{LEFT + PLOT + 10}" y="{band_top + 16}">{e(label)}</text>'
        f'<text class="small" x="{LEFT + PLOT + 10}" y="{band_top + 31}">'
        f"{e(comp.get('status'))}</text>"
    )
    parts.append("</g>")


def _final_weights(comp: Mapping[str, Any], chain: list[str]) -> Mapping[str, Any]:
    final = comp.get("final") or {}
    weights = final.get("weights") if isinstance(final, Mapping) else None
    return weights or {chain[0]: 100.0}


def _new_version(action: Mapping[str, Any], chain: list[str]) -> str:
    weights = action.get("weights") or {}
    newest = sorted(weights, key=lambda v: chain.index(v) if v in chain else 99)
    return newest[-1] if newest else "?"


def timeline_svg(picture: Mapping[str, Any]) -> str:
    components: Sequence[Mapping[str, Any]] = picture.get("components", [])
    moments = [
        t
        for t in (
            *(_time(a.get("at")) for c in components for a in c.get("actions", [])),
            *(_time(v.get("at")) for c in components for v in c.get("verdicts", [])),
            *(_time(r.get("at")) for r in picture.get("rounds", [])),
            *(_time(d.get("started_at")) for d in picture.get("drains", [])),
            _time(picture.get("started")),
            _time(picture.get("finished")),
        )
        if t is not None
    ]
    if not moments:
        return '<p id="timeline-empty">Nothing moved yet: the release has no alias move.</p>'
    start, end = min(moments), max(moments)
    scale = _Scale(start, end)
    height = TOP + LANE * max(len(components), 1) + 10
    parts = [
        f'<svg id="timeline" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="timeline of release {e(picture.get("release"))}" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    parts.append('<g class="axis">')
    for tick in scale.ticks():
        x = scale.x(tick)
        parts.append(
            f'<line x1="{x}" y1="{TOP - 8}" x2="{x}" y2="{height - 6}"/>'
            f'<text class="small" x="{x}" y="{TOP - 14}" text-anchor="middle">{_hhmm(tick)}</text>'
        )
    parts.append(
        f'<text class="small" x="{LEFT + PLOT + 10}" y="{TOP - 14}">final (UTC times)</text></g>'
    )
    lanes = {str(c["name"]): i for i, c in enumerate(components)}
    for round_ in picture.get("rounds", []):
        at = _time(round_.get("at"))
        if at is None:
            continue
        until = _time(round_.get("resolved_at")) or scale.end
        x0, x1 = scale.x(at), scale.x(until)
        fix = round_.get("hotfix") or {}
        what = (
            f"hotfix {fix.get('component')}@{fix.get('version')}"
            if fix
            else f"{round_.get('kind')}: no hotfix"
        )
        parts.append(
            f'<g class="round" data-round="{e(round_.get("round"))}"><rect x="{x0}" '
            f'y="{TOP - 4}" width="{max(round(x1 - x0, 1), 2)}" height="{height - TOP}"/>'
            f'<text class="small" x="{x0 + 6}" y="{height - 8}">round {e(round_.get("round"))}: '
            f"{e(what)}</text><title>round {e(round_.get('round'))} ({e(round_.get('kind'))}): "
            f"{e(round_.get('component'))}@{e(round_.get('version'))} broke "
            f"{e(round_.get('broken'))}; {e(what)}</title></g>"
        )
    for drain in picture.get("drains", []):
        at = _time(drain.get("started_at"))
        wave = drain.get("wave")
        members = [c for c in components if c.get("name") == drain.get("component")] or [
            c for c in components if c.get("wave") == wave
        ]
        starts = [_time(a.get("at")) for c in members for a in c.get("actions", [])]
        later = [s for s in starts if s is not None and at is not None and s >= at]
        until = min(later) if later else scale.end
        queues = ", ".join(f"{q['queue']} of schema {q['schema']}" for q in drain.get("queues", []))
        for comp in members:
            top = TOP + lanes[str(comp["name"])] * LANE + 22
            x0, x1 = scale.x(at), scale.x(until)
            parts.append(
                f'<g class="drain" data-wave="{e(wave)}"><rect x="{x0}" y="{top}" '
                f'width="{max(round(x1 - x0, 1), 2)}" height="{BAND}"/><text class="small" '
                f'x="{x0 + 4}" y="{top + 24}">drain</text><title>{e(comp["name"])} waits for '
                f"{e(queues or 'its queues')} to drain before {e(drain.get('component', ''))} "
                f"({e(drain.get('polls'))} polls)</title></g>"
            )
    for index, comp in enumerate(components):
        _lane(comp, index, scale, scale.end, parts)
    for number, freeze in enumerate(picture.get("freezes", []), start=1):
        x = scale.x(_time(freeze.get("at")))
        parts.append(
            f'<g class="freeze" data-at="{e(freeze.get("at"))}"><line x1="{x}" y1="{TOP - 6}" '
            f'x2="{x}" y2="{height - 6}"/><text class="small" x="{x - 4}" y="{height - 8}" '
            f'text-anchor="end" fill="#d93025">freeze {number}</text><title>frozen at '
            f"{e(freeze.get('at'))}: {e(freeze.get('reason'))}</title></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def plan_svg(plan: Mapping[str, Any]) -> str:
    waves: list[list[str]] = [list(w) for w in plan.get("waves", [])]
    placed = {name for wave in waves for name in wave}
    edges = list(plan.get("edges", []))
    others = sorted(
        {n for edge in edges for n in (edge["producer"], edge["consumer"])} - placed
        | set(plan.get("unchanged", [])) - placed
    )
    columns = [*waves, others] if others else waves
    if not columns:
        return "<p>The plan is empty.</p>"
    col_width, row_height, box_w, box_h = 190, 56, 130, 30
    position: dict[str, tuple[float, float]] = {}
    for c, column in enumerate(columns):
        for r, name in enumerate(column):
            position[name] = (30 + c * col_width, 40 + r * row_height)
    width = 60 + len(columns) * col_width
    height = 110 + max(len(c) for c in columns) * row_height
    parts = [
        f'<svg id="plan" viewBox="0 -40 {width} {height}" width="{width}" role="img" '
        'aria-label="the plan" '
        'xmlns="http://www.w3.org/2000/svg"><defs>'
    ]
    for kind, colour in EDGE_COLOURS.items():
        parts.append(
            f'<marker id="arrow-{kind}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" '
            f'fill="{colour}"/></marker>'
        )
    parts.append("</defs>")
    for c, _column in enumerate(columns):
        title = f"wave {c + 1}" if c < len(waves) else "unchanged"
        parts.append(f'<text class="small" x="{30 + c * col_width}" y="-26">{title}</text>')
    column_of = {name: c for c, column in enumerate(columns) for name in column}
    for edge in edges:
        if edge["producer"] not in position or edge["consumer"] not in position:
            continue
        (x0, y0), (x1, y1) = position[edge["producer"]], position[edge["consumer"]]
        kind = str(edge.get("kind", "none"))
        span = column_of[edge["consumer"]] - column_of[edge["producer"]]
        if span == 1 or (span > 0 and y0 == y1 == 40 and span == 1):
            sx, sy, tx, ty = x0 + box_w, y0 + box_h / 2, x1 - 2, y1 + box_h / 2
            c1x, c1y, c2x, c2y = (sx + tx) / 2, sy, (sx + tx) / 2, ty
        elif span > 0:  # forward over other columns: an arc above the boxes
            lift = 24 + 14 * span
            sx, sy, tx, ty = x0 + box_w / 2, y0 - 2, x1 + box_w / 3, y1 - 2
            c1x, c1y, c2x, c2y = sx, sy - lift, tx, ty - lift
        else:  # backwards or in the same column: an arc below
            drop = 30 + 14 * abs(span)
            sx, sy, tx, ty = x0 + box_w / 2, y0 + box_h + 2, x1 + 2 * box_w / 3, y1 + box_h + 2
            c1x, c1y, c2x, c2y = sx, sy + drop, tx, ty + drop
        d = f"M{sx} {sy} C{c1x} {c1y} {c2x} {c2y} {tx} {ty}"
        # the label sits on the curve's midpoint (a cubic at t = 1/2)
        lx, ly = (sx + 3 * c1x + 3 * c2x + tx) / 8, (sy + 3 * c1y + 3 * c2y + ty) / 8
        colour = EDGE_COLOURS.get(kind, "#9aa0a6")
        parts.append(
            f'<g class="edge" data-kind="{e(kind)}" data-queue="{e(edge["queue"])}" '
            f'data-producer="{e(edge["producer"])}" data-consumer="{e(edge["consumer"])}">'
            f'<path d="{d}" stroke="{colour}" marker-end="url(#arrow-{e(kind)})"/>'
            f'<text class="small" x="{round(lx, 1)}" y="{round(ly - 4, 1)}" '
            f'text-anchor="middle">{e(edge["queue"])}</text><title>{e(edge["producer"])} → '
            f"{e(edge['queue'])} → {e(edge['consumer'])}: {e(kind)}</title></g>"
        )
    unchanged = set(plan.get("unchanged", []))
    for name, (x, y) in position.items():
        klass = "node unchanged" if name in unchanged else "node"
        parts.append(
            f'<g class="{klass}" data-component="{e(name)}"><rect x="{x}" y="{y}" '
            f'width="{box_w}" height="{box_h}"/><text x="{x + box_w / 2}" y="{y + 19}" '
            f'text-anchor="middle">{e(name)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _legend(components: Sequence[Mapping[str, Any]]) -> str:
    items = [
        f'<span><i class="swatch" style="background:{VERSION_COLOURS[0]}"></i>from version</span>',
        f'<span><i class="swatch" style="background:{VERSION_COLOURS[1]}"></i>to version</span>',
    ]
    if any(c.get("hotfixes") for c in components):
        items.append(
            f'<span><i class="swatch" style="background:{VERSION_COLOURS[2]}"></i>hotfix</span>'
        )
    items += [
        f'<span><i class="swatch" style="background:{colour};border-radius:50%"></i>'
        f"{phase.lower()}</span>"
        for phase, colour in PHASE_COLOURS.items()
    ]
    items += [
        '<span><i class="swatch" style="background:#e8f0fe;border:1px solid #aecbfa"></i>'
        "bake</span>",
        '<span><i class="swatch" style="background:#fce8e6"></i>roll-forward round</span>',
        '<span><i class="swatch" style="background:#d93025;width:3px"></i>freeze</span>',
        "<span>▲ alias move (orange: pull-back)</span>",
    ]
    return f'<p class="legend">{"".join(items)}</p>'


def _components_table(components: Sequence[Mapping[str, Any]]) -> str:
    rows = [
        '<table id="components"><tr><th>component</th><th>function:alias</th><th>wave</th>'
        "<th>versions</th><th>moves</th><th>verdicts</th><th>ended on</th><th>status</th></tr>"
    ]
    for comp in components:
        final = comp.get("final") or {}
        rows.append(
            f"<tr><td>{e(comp['name'])}</td><td><code>{e(comp.get('function'))}:"
            f"{e(comp.get('alias'))}</code></td><td>{e(comp.get('wave') or '-')}</td>"
            f"<td>{e(' → '.join(_chain(comp)))}</td>"
            f'<td class="num">{len(comp.get("actions", []))}</td>'
            f'<td class="num">{len(comp.get("verdicts", []))}</td>'
            f"<td>{e(_weights(final.get('weights') or {}) if final else '-')}</td>"
            f"<td>{e(comp.get('status'))}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _constraints(plan: Mapping[str, Any]) -> str:
    out: list[str] = []
    constraints = plan.get("constraints", [])
    if constraints:
        out.append(
            '<table id="constraints"><tr><th>before</th><th>after</th><th>queue</th>'
            "<th>kind</th><th>why</th></tr>"
        )
        out += [
            f"<tr><td>{e(c['before'])}</td><td>{e(c['after'])}</td><td>{e(c['queue'])}</td>"
            f"<td>{e(c['kind'])}</td><td>{e(c.get('reason'))}</td></tr>"
            for c in constraints
        ]
        out.append("</table>")
    else:
        out.append("<p>No ordering constraint: every mix of versions is safe.</p>")
    for drain in plan.get("drains", []):
        out.append(
            f"<p>Drain: <code>{e(drain['queue'])}</code> of schema {e(drain['schema'])} after "
            f"{e(', '.join(drain['after']))} and before {e(', '.join(drain['before']))}.</p>"
        )
    return "".join(out)


def _rounds(picture: Mapping[str, Any]) -> str:
    rounds = picture.get("rounds", [])
    if not rounds:
        return "<p>No roll-forward round: no gate failed.</p>"
    out: list[str] = []
    for round_ in rounds:
        fix = round_.get("hotfix")
        out.append(
            f'<div class="round-text" data-round="{e(round_.get("round"))}"><p><b>Round '
            f"{e(round_.get('round'))}</b> ({e(round_.get('kind'))}) at {e(round_.get('at'))}: "
            f"{e(round_.get('component'))}@{e(round_.get('version'))} at "
            f"{e(_pct(round_.get('step') or 0))} broke <b>{e(round_.get('broken'))}</b>.</p>"
            '<ul class="reasons">'
            + "".join(f"<li>{e(r)}</li>" for r in round_.get("reasons", []))
            + "</ul>"
            + (
                f"<p>Hotfix {e(fix.get('component'))}@{e(fix.get('version'))} accepted at "
                f"{e(fix.get('at'))}"
                + (
                    f", promoted at {e(round_.get('resolved_at'))}"
                    if round_.get("resolved_at")
                    else ", not promoted"
                )
                + ".</p>"
                if fix
                else "<p>No hotfix was applied.</p>"
            )
            + "</div>"
        )
    decisions = picture.get("decisions", [])
    if decisions:
        out.append('<p>What the last freeze did:</p><ul class="reasons">')
        out += [
            f"<li><b>{e(d.get('component'))}</b> {e(d.get('action'))} "
            f"[{e(_weights(d.get('weights') or {}))}]: {e('; '.join(d.get('reasons', [])))}</li>"
            for d in decisions
        ]
        out.append("</ul>")
    return "".join(out)


def _verdicts_table(components: Sequence[Mapping[str, Any]]) -> str:
    rows = [
        (str(v.get("at")), str(c["name"]), v)
        for c in components
        for v in c.get("verdicts", [])
        if v.get("at")
    ]
    rows.sort(key=lambda r: (r[0], r[1]))
    if not rows:
        return "<p>No verdict yet.</p>"
    out = [
        '<table id="verdicts"><tr><th>at</th><th>component</th><th>version</th><th>step</th>'
        "<th>verdict</th><th>figures and reasons</th></tr>"
    ]
    for at, name, verdict in rows:
        phase = str(verdict.get("phase"))
        reasons = "".join(f"<br>{e(r)}" for r in verdict.get("reasons", []))
        out.append(
            f"<tr><td>{e(at)}</td><td>{e(name)}</td><td>{e(verdict.get('version'))}</td>"
            f'<td class="num">{e(_pct(verdict.get("step") or 0))}</td>'
            f'<td style="color:{PHASE_COLOURS.get(phase, "#5f6368")}">{e(phase)}</td>'
            f"<td><code>{e(_figures(verdict.get('values') or {}))}</code>{reasons}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def _messages(messages: Mapping[str, Mapping[str, Any]] | None) -> str:
    if not messages:
        return ""
    keys = ("sent", "consumed", "queued", "dead_lettered", "unreadable")
    out = [
        '<h2>Messages (simulated)</h2><table id="messages"><tr><th>queue</th>'
        + "".join(f"<th>{k.replace('_', ' ')}</th>" for k in keys)
        + "</tr>"
    ]
    for queue, counts in sorted(messages.items()):
        out.append(
            f"<tr><td>{e(queue)}</td>"
            + "".join(f'<td class="num">{e(counts.get(k, 0))}</td>' for k in keys)
            + "</tr>"
        )
    out.append("</table>")
    return "".join(out)


def render_html(
    picture: Mapping[str, Any],
    *,
    messages: Mapping[str, Mapping[str, Any]] | None = None,
    source: str = "the release ledger",
) -> str:
    """The whole HTML document of one release (see the module docstring)."""
    release = str(picture.get("release"))
    status = str(picture.get("status"))
    components: Sequence[Mapping[str, Any]] = picture.get("components", [])
    started, finished = _time(picture.get("started")), _time(picture.get("finished"))
    meta = [f"started {e(picture.get('started') or '-')}"]
    if finished is not None:
        meta.append(f"finished {e(picture.get('finished'))}")
        if started is not None:
            meta.append(f"took {_duration((finished - started).total_seconds())}")
    rounds = picture.get("rounds", [])
    meta.append(f"{len(rounds)} roll-forward round{'s' if len(rounds) != 1 else ''}")
    notes = ""
    if picture.get("error"):
        error = picture["error"]
        notes += (
            f'<p class="finding">Error: {e(error.get("Error"))}: {e(error.get("Cause"))}</p>'
            if isinstance(error, Mapping)
            else f'<p class="finding">Error: {e(error)}</p>'
        )
    notes += "".join(f'<p class="finding">{e(f)}</p>' for f in picture.get("findings", []))
    body = [
        f"<h1>Release {e(release)} "
        f'<span class="status" id="status" style="background:'
        f'{STATUS_COLOURS.get(status, "#5f6368")}">{e(status)}</span></h1>',
        f'<p class="meta">{" · ".join(meta)}</p>',
        notes,
        "<h2>Timeline</h2>",
        _legend(components),
        timeline_svg(picture),
        "<h2>Components</h2>",
        _components_table(components),
        "<h2>Plan</h2>",
        plan_svg(picture.get("plan", {})),
        _constraints(picture.get("plan", {})),
        "<h2>Roll-forward</h2>",
        _rounds(picture),
        "<h2>Verdicts</h2>",
        _verdicts_table(components),
        _messages(messages),
        f"<footer>Drawn by <code>rollout</code> from {e(source)}. Hover a marker for its "
        "figures. Times are UTC.</footer>",
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # nothing may be fetched: no script, no remote style, font or image
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>rollout {e(release)}: {e(status)}</title><style>{CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
