"""`rollout watch RELEASE`: a release, live, until it ends; and the same view for `rollout dry-run
--progress`.

The picture is :func:`orchestrator.cli.watch_view.build_view` of what
:func:`orchestrator.operations.watch_facts` reads; this module only polls, renders (Rich) and
streams (``--format json``: one JSON object per line, per change).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from orchestrator.cli.base import (
    EngineOpt,
    ReleaseArg,
    TextOrJson,
    app,
    engine_flags,
    guarded,
    live_display,
    stderr,
    stdout,
)
from orchestrator.cli.watch_view import (
    Progress,
    build_view,
    change_key,
    changed_lines,
    release_line,
    verdict_text,
    weights_text,
)
from orchestrator.errors import EnvironmentProblemError, InputError, Issue, RolloutError

MIN_INTERVAL = 0.1
MAX_INTERVAL = 60.0
GIVE_UP_SECONDS = 60.0
"""Reads that keep failing for this long end the watch (exit 3); a failure now and then does not."""

STATE_STYLE = {
    "promoted": "green",
    "baking": "cyan",
    "shifting": "cyan",
    "draining": "magenta",
    "held": "yellow",
    "pulled-back": "red",
    "frozen": "red",
    "unchanged": "dim",
}

Read = Callable[[], dict[str, Any]]
"""Reads the facts once (``operations.watch_facts``)."""


def default_progress(console: Console) -> Progress:
    """Live on a terminal, one line per change otherwise (a CI log)."""
    return Progress.live if console.is_terminal else Progress.plain


def check_interval(interval: float) -> None:
    if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        raise InputError(
            [
                Issue(
                    "--interval",
                    f"{interval:g}: give the seconds between two reads of the release, from "
                    f"{MIN_INTERVAL:g} to {MAX_INTERVAL:g} (e.g. --interval 2)",
                )
            ]
        )


# -- rendering (thin: the view model decided everything) ------------------------------------------


def components_table(view: dict[str, Any]) -> Table:
    table = Table(header_style="bold", expand=False)
    for column in ("component", "wave", "state", "weights", "verdict", "detail"):
        table.add_column(column)
    for row in view["components"]:
        verdict = row.get("verdict")
        shown = verdict_text(verdict) if verdict and verdict.get("current") else "-"
        table.add_row(
            row["component"],
            str(row["wave"] or "-"),
            Text(row["state"], style=STATE_STYLE.get(row["state"], "")),
            weights_text(row["weights"]),
            shown,
            row["detail"],
        )
    return table


def queue_text(row: dict[str, Any]) -> str:
    if row.get("error"):
        return f"  {row['queue']}: could not be read ({row['error']})"
    text = f"  {row['queue']}: {row['visible']} visible, {row['in_flight']} in flight"
    if row.get("oldest_age_seconds") is not None:
        text += f", oldest {row['oldest_age_seconds']:g}s"
    if row.get("dlq_messages") is not None:
        text += f"; dead-letter queue {row['dlq_messages']}"
    return text


def render_view(view: dict[str, Any], hint: str = "") -> Group:
    """One picture for people: the release's state, a row per component, the queues, the
    roll-forward round and what it waits for (with the command that answers it)."""
    style = {"ended": "bold", "waiting-for-hotfix": "bold yellow", "held": "bold yellow"}
    parts: list[RenderableType] = [
        Text.assemble(
            (release_line(view), style.get(view["state"], "bold")),
            f"  execution {view['execution'] or 'unknown'}",
            ("  (simulated time)" if view["clock"] == "simulated" else "", "dim"),
        )
    ]
    if view["components"]:
        parts.append(components_table(view))
    if view["queues"]:
        parts.append(Text("Queues", style="bold"))
        parts.extend(Text(queue_text(q)) for q in view["queues"])
    rollforward = view.get("rollforward")
    if rollforward and view["state"] != "ended":
        waits = {"hotfix": "waits for a hotfix", "resume": "waits for `rollout resume`"}
        head = f"Roll-forward round {rollforward.get('round') or '-'}"
        if rollforward.get("waits_for"):
            head += f": {waits[rollforward['waits_for']]} of {rollforward.get('component')}"
            if rollforward.get("left"):
                head += f", {rollforward['left']} left"
        parts.append(Text(head, style="bold yellow"))
        for reason in rollforward.get("reasons") or []:
            parts.append(Text(f"  - {reason}"))
        needs = rollforward.get("requirements") or {}
        if needs:
            parts.append(
                Text(f"  must read: {needs.get('reads')}; may write: {needs.get('writes')}")
            )
        if rollforward.get("command"):
            parts.append(Text(f"  answer it: {rollforward['command']}{hint}"))
    if view.get("cause"):
        from orchestrator.operations import describe_cause

        parts.append(Text.assemble(("Cause", "bold red"), ": ", describe_cause(view["cause"])))
    for problem in view.get("problems") or []:
        parts.append(Text.assemble(("! ", "bold yellow"), problem))
    return Group(*parts)


# -- following a release --------------------------------------------------------------------------


def follow_views(
    read: Read,
    on_view: Callable[[dict[str, Any], bool], None],
    *,
    interval: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Read, build the picture, tell ``on_view(view, changed)``, until the release has ended;
    returns the last picture. The first read's errors are the command's (a release that is not
    stored: exit 2; an unreachable engine: exit 3); later ones are skipped (the picture says so)
    until they have lasted :data:`GIVE_UP_SECONDS`."""
    last_key: str | None = None
    view: dict[str, Any] | None = None
    failing_since: float | None = None
    while True:
        try:
            fresh = build_view(read())
            failing_since = None
        except (RolloutError, BotoCoreError, ClientError) as exc:
            if view is None:
                raise
            failing_since = failing_since if failing_since is not None else clock()
            if clock() - failing_since > GIVE_UP_SECONDS:
                raise EnvironmentProblemError(
                    f"the release could not be read for {GIVE_UP_SECONDS:g}s: {exc}"
                ) from None
            fresh = {**view, "problems": [f"the last read failed (retrying): {exc}"]}
        key = change_key(fresh)
        on_view(fresh, key != last_key)
        last_key, view = key, fresh
        if view["exit_code"] is not None:
            return view
        sleep(interval)


def emit_line(view: dict[str, Any]) -> None:
    """One picture as one line of JSON (JSON Lines), flushed at once."""
    sys.stdout.write(json.dumps(view, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()


@app.command()
def watch(
    release: ReleaseArg,
    engine: EngineOpt = None,
    fmt: Annotated[
        TextOrJson,
        typer.Option(
            "--format",
            "-f",
            help="text: a live view on a terminal, a line per change otherwise; json: one JSON "
            "object per line, per change (JSON Lines).",
        ),
    ] = TextOrJson.text,
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            help=f"Seconds between two reads of the release ({MIN_INTERVAL:g} to "
            f"{MAX_INTERVAL:g}).",
        ),
    ] = 1.0,
) -> None:
    """Watch a release live until it ends; exit with its exit code.

    Refreshes from the ledger and the execution: per component its state (waiting for its
    predecessors, queued for a slot, draining, baking at N% with the time left, shifting,
    promoted, held, pulled back, frozen), the live weights, the current verdict with its
    figures; the queues' depths and oldest messages; the roll-forward round and what it waits
    for (a hotfix, or `rollout resume`), with the command that answers it.

    Ends when the execution ends: exit 0 SUCCEEDED or ROLLED_FORWARD, 1 HALTED, FAILED or
    aborted (DESIGN §7); 2 when no such release is stored; 3 when the engine or AWS cannot be
    read. Ctrl-C stops watching, not the release.

    With `--format json` every change is one JSON object on its own line: `state` (`planning`,
    `running`, `waiting-for-hotfix`, `held`, `ended`), `components` (rows with `state`,
    `weight`, `weights`, `bake`, `verdict`, `waiting_for`, `drain`), `queues`, `rollforward`,
    and at the end `status` and `exit_code`. Readings (queue depths, ages, the time left) ride
    along but do not make a change on their own.

    Examples:

    * `rollout watch 2026-11-28.1`
    * `rollout watch 2026-11-28.1 --engine http://localhost:4566 --format json | jq .state`
    """

    def run() -> int:
        from orchestrator.cli.connect import connect
        from orchestrator.operations import check_release_id, watch_facts

        check_release_id(release)
        check_interval(interval)
        conn = connect(engine)
        arn = conn.execution_arn(release)
        hint = engine_flags(engine)

        def read() -> dict[str, Any]:
            return watch_facts(conn.ports, release, sfn=conn.sfn, execution_arn=arn)

        if fmt == "json":
            last = follow_views(
                read, lambda view, changed: emit_line(view) if changed else None, interval=interval
            )
        elif stdout.is_terminal:
            last = _live(read, interval, hint)
        else:
            last = _plain(read, interval, stdout)
        return int(last["exit_code"])

    try:
        code = guarded(fmt, run)
    except KeyboardInterrupt:
        stderr.print(f"stopped watching {release}: the release goes on", highlight=False)
        code = 130
    raise typer.Exit(code)


def _live(read: Read, interval: float, hint: str) -> dict[str, Any]:
    with live_display(stdout, transient=False) as live:

        def show(view: dict[str, Any], _changed: bool) -> None:
            live.update(render_view(view, hint))

        last = follow_views(read, show, interval=interval)
    _final(stdout, last)
    return last


def _plain(read: Read, interval: float, console: Console) -> dict[str, Any]:
    before: list[dict[str, Any]] = []

    def show(view: dict[str, Any], changed: bool) -> None:
        if changed:
            for line in changed_lines(before[-1] if before else None, view):
                console.print(f"{view['at']} {line}", highlight=False, markup=False)
            before[:] = [view]

    last = follow_views(read, show, interval=interval)
    if last.get("cause"):
        from orchestrator.operations import describe_cause

        console.print(f"Cause: {describe_cause(last['cause'])}", highlight=False, markup=False)
    return last


def _final(console: Console, view: dict[str, Any]) -> None:
    from orchestrator.operations import describe_cause

    console.print(Text(release_line(view), style="bold"))
    if view.get("cause"):
        console.print(Text.assemble(("Cause", "bold red"), ": ", describe_cause(view["cause"])))


# -- the dry run's progress -----------------------------------------------------------------------


class DryRunProgress:
    """What `rollout dry-run --progress` shows while it runs: the setup stages, then the same
    picture as `rollout watch` (``live``: a Rich Live view on stderr; ``plain``: a line per
    change; ``none``: nothing). ``read`` is set once the release has started; pictures are
    built at most every ``every`` seconds, so watching costs the run little."""

    def __init__(self, mode: Progress, console: Console, *, every: float = 0.5) -> None:
        self.mode = mode
        self.console = console
        self.every = every
        self.began = time.monotonic()
        self.read: Read | None = None
        self._live: Live | None = None
        self._last_read = 0.0
        self._view: dict[str, Any] | None = None
        self._header = ""

    def start(self) -> None:
        if self.mode is Progress.live:
            from rich.spinner import Spinner

            self._live = live_display(
                self.console,
                Spinner("dots", text="loading the embedded engine"),
                refresh_per_second=8,
                transient=True,
            )
            self._live.start()

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.began:.0f}s"

    def stage(self, what: str) -> None:
        if self.mode is Progress.live and self._live is not None:
            from rich.spinner import Spinner

            self._live.update(Spinner("dots", text=f"{what} ({self.elapsed()})"))
        elif self.mode is Progress.plain:
            self.console.print(f"[{self.elapsed()}] {what}", highlight=False, markup=False)

    def poll(self, _snapshot: dict[str, Any] | None = None, *, final: bool = False) -> None:
        """The dry run's ``on_progress``: a fresh picture now and then (and at the end)."""
        if self.mode is Progress.none or self.read is None:
            return
        now = time.monotonic()
        if not final and now - self._last_read < self.every:
            return
        try:
            view = build_view(self.read())
        except (RolloutError, BotoCoreError, ClientError):
            return  # progress is a nicety: a failed read never ends the run
        finally:
            self._last_read = time.monotonic()
        if self.mode is Progress.live and self._live is not None:
            from rich.spinner import Spinner

            line = Spinner("dots", text=f"release {view['release']} running ({self.elapsed()})")
            self._live.update(Group(line, render_view(view)))
        elif self.mode is Progress.plain:
            for text in changed_lines(self._view, view):
                self.console.print(f"[{self.elapsed()}] {text}", highlight=False, markup=False)
        self._view = view
