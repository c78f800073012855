"""Looking back at releases: `rollout report RELEASE [--html FILE]` (one release as a picture) and
`rollout history` (past releases from the ledger). Both only read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from orchestrator.cli.base import (
    EngineOpt,
    FormatOpt,
    ReleaseArg,
    TextOrJson,
    app,
    emit_json,
    guarded,
    stdout,
)
from orchestrator.cli.html_option import HtmlOpt, check_html_target, html_notice, write_html
from orchestrator.errors import EnvironmentProblemError, InputError, Issue, ReleaseNotFoundError

if TYPE_CHECKING:
    from orchestrator.release.history import ReleaseSummary


@app.command("report")
def report_command(
    release: ReleaseArg,
    html: HtmlOpt = None,
    engine: EngineOpt = None,
    fmt: FormatOpt = TextOrJson.text,
) -> None:
    """Draw one release from its ledger as a self-contained HTML page (`--html FILE`).

    The page has a timeline per component of the alias weights, the bake windows and each
    verdict (hover for its figures), the drains, the freeze and the roll-forward rounds, where
    every alias ended, and the plan as a graph; nothing in it is fetched from anywhere.

    Works on a running release too (the picture so far, status RUNNING). Without `--html`,
    prints what the page would show (`--format json`: the whole document). Exit 0 when it is
    written, 1 when the stored plan does not load (`rollout status` shows what is known), 2 for
    an unknown release or a FILE that cannot be written, 3 when the table cannot be read.

    Examples:

    * `rollout report 2026-11-28.1 --html release.html`
    * `rollout report 2026-11-28.1 --html - > release.html`
    * `rollout report 2026-11-28.1 -f json | jq '.rounds'`
    * `rollout dry-run examples/seed.yaml --html release.html` (the same page after a dry run)
    """

    def run() -> int:
        from orchestrator.cli.connect import connect
        from orchestrator.cli.html_report import render_html
        from orchestrator.operations import check_release_id, known_releases
        from orchestrator.release.history import release_picture

        check_release_id(release)
        check_html_target(html)
        conn = connect(engine)
        try:
            picture = release_picture(conn.ports.records, release)
        except ReleaseNotFoundError:
            known = known_releases(conn.sfn, conn.state_machine_arn)
            hint = f" (known releases: {', '.join(known)})" if known else ""
            raise InputError(
                [
                    Issue(
                        "RELEASE",
                        f"no plan is stored for release {release!r}{hint}: give the id of a "
                        "started release (`rollout history` lists them)",
                    )
                ]
            ) from None
        if html is not None:
            size = write_html(html, render_html(picture, source=f"the ledger at {conn.where}"))
            if fmt == "json" and str(html) != "-":
                emit_json({"release": release, "status": picture["status"], "html": str(html)})
            else:
                html_notice(html, size, picture["status"])
        elif fmt == "json":
            emit_json(picture)
        else:
            render_picture_text(picture)
        return 0

    raise typer.Exit(guarded(fmt, run))


def render_picture_text(picture: dict[str, Any]) -> None:
    stdout.print(
        f"[bold]release {picture['release']}[/]: {picture['status']} "
        f"(started {picture['started'] or '-'}, finished {picture['finished'] or '-'}, "
        f"{len(picture['rounds'])} round(s))",
        highlight=False,
    )
    table = Table(header_style="bold")
    for column in ("wave", "component", "versions", "moves", "verdicts", "ended on", "status"):
        table.add_column(column)
    for comp in picture["components"]:
        chain = [comp["from"], comp["to"], *comp["hotfixes"]]
        versions = " -> ".join(dict.fromkeys(chain))
        final = comp.get("final") or {}
        weights = ", ".join(f"{v}: {w:g}%" for v, w in (final.get("weights") or {}).items())
        failed = sum(1 for v in comp["verdicts"] if v.get("phase") != "PASSED")
        table.add_row(
            str(comp.get("wave") or "-"),
            comp["name"],
            versions,
            str(len(comp["actions"])),
            f"{len(comp['verdicts'])}" + (f" ({failed} not passed)" if failed else ""),
            weights or "-",
            str(comp["status"]),
        )
    stdout.print(table)
    for round_ in picture["rounds"]:
        fix = round_.get("hotfix") or {}
        stdout.print(
            f"round {round_['round']} at {round_['at']}: {round_['component']}@"
            f"{round_['version']} broke {round_['broken']}"
            + (f"; hotfix {fix['component']}@{fix['version']}" if fix else ""),
            highlight=False,
        )
    stdout.print(f"`rollout report {picture['release']} --html FILE` draws it.", highlight=False)


@app.command("history")
def history_command(
    component: Annotated[
        str | None,
        typer.Option(
            "--component",
            "-c",
            help="Only the releases whose manifest names this component (its versions shown).",
        ),
    ] = None,
    limit: Annotated[
        int,
        typer.Option("--limit", "-n", min=1, max=1000, help="Show at most this many releases."),
    ] = 20,
    engine: EngineOpt = None,
    fmt: FormatOpt = TextOrJson.text,
) -> None:
    """List past releases from the ledger, the latest first.

    Per release: started and finished (the first alias move and the last verdict), status, each
    component's versions (from -> to -> hotfixes) and the roll-forward rounds. A release without
    a report yet is RUNNING.

    Reads the whole table once (a DynamoDB Scan: on-call's policy needs `dynamodb:Scan` on
    it). Exit 0, 2 for a component no stored release names, 3 when the table cannot be read.

    Examples:

    * `rollout history`
    * `rollout history --component enrich --limit 5`
    * `rollout history -f json | jq '.releases[] | select(.status == "HALTED")'`
    """

    def run() -> int:
        from orchestrator.cli.connect import connect
        from orchestrator.ports import ReleaseCatalog
        from orchestrator.release.history import history, known_components

        conn = connect(engine)
        records = conn.ports.records
        if not isinstance(records, ReleaseCatalog):
            raise EnvironmentProblemError(
                f"the record store at {conn.where} cannot list releases (no `releases` method)"
            )
        # an AccessDenied names dynamodb:Scan (exit 3): on-call's policy must grant it
        found = history(records, records, component=component, limit=None)
        if component is not None and not found:
            everything = history(records, records, limit=None)
            if everything:
                names = ", ".join(known_components(everything))
                raise InputError(
                    [
                        Issue(
                            "--component",
                            f"no stored release names component {component!r}: give one of {names}",
                        )
                    ]
                )
        shown = found[:limit]
        if fmt == "json":
            emit_json(
                {
                    "releases": [s.contract() for s in shown],
                    "count": len(shown),
                    "total": len(found),
                }
            )
        else:
            render_history(shown, len(found), component)
        return 0

    raise typer.Exit(guarded(fmt, run))


def render_history(shown: list[ReleaseSummary], total: int, component: str | None) -> None:
    if not shown:
        stdout.print("No release is stored yet (`rollout start MANIFEST` starts one).")
        return
    table = Table(header_style="bold", title=None)
    for column in ("release", "started", "finished", "status", "rounds", "components"):
        table.add_column(column, overflow="fold")
    for summary in shown:
        lines = [
            f"{c.name} {c.versions()}"
            for c in summary.components.values()
            if component is None or c.name == component
        ]
        if component is None:
            lines = [
                f"{c.name} {c.versions()}" for c in summary.components.values() if c.changed
            ] or ["(nothing changed)"]
        table.add_row(
            summary.release,
            summary.started or "-",
            summary.finished or "-",
            summary.status,
            str(summary.rounds),
            "\n".join(lines),
        )
    stdout.print(table)
    if total > len(shown):
        stdout.print(
            f"{len(shown)} of {total} releases: `--limit {total}` shows them all.",
            highlight=False,
        )
