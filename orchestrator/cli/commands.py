"""The commands that run and operate releases: dry-run, start, status, hotfix, abort, redrive."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from orchestrator.cli.base import (
    ManifestArg,
    TextOrJson,
    app,
    emit_json,
    guarded,
    stderr,
    stdout,
)
from orchestrator.errors import InputError, Issue, RolloutError
from orchestrator.model.load import load_manifest, parse_document
from orchestrator.model.manifest import PUBLISHED_VERSION, SCHEMA_TOKEN
from orchestrator.planning import plan_release

EXIT_BY_STATUS = {"SUCCEEDED": 0, "ROLLED_FORWARD": 0, "HALTED": 1, "FAILED": 1}

FormatOpt = Annotated[
    TextOrJson, typer.Option("--format", "-f", help="text for people, json for pipelines.")
]
EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="URL of an engine serving Step Functions and the emulated services "
        "(`rollout local serve`); default: AWS, with ROLLOUT_STATE_MACHINE_ARN.",
    ),
]
ReleaseArg = Annotated[
    str, typer.Argument(metavar="RELEASE", help="The release id (execution name).")
]


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


@app.command("dry-run")
def dry_run(
    manifest: ManifestArg,
    scenario: Annotated[
        Path | None,
        typer.Option(
            "--scenario",
            "-s",
            help="How the simulated account behaves (DESIGN §7a); default: healthy.",
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="`embedded` (moto's ASL interpreter, in-process), or the URL of a Step "
            "Functions endpoint (Step Functions Local) to run the state machine on; its "
            "LAMBDA_ENDPOINT must reach --lambda-port.",
        ),
    ] = "embedded",
    lambda_port: Annotated[
        int | None,
        typer.Option(
            "--lambda-port",
            help="With --engine URL: serve the step handlers (Lambda's Invoke API) on this port "
            "for the engine's LAMBDA_ENDPOINT.",
            show_default="8083",
        ),
    ] = None,
    lambda_host: Annotated[
        str,
        typer.Option(
            "--lambda-host",
            help="With --engine URL: interface the step handlers listen on (0.0.0.0 when the "
            "engine runs in a Docker container).",
        ),
    ] = "127.0.0.1",
    fmt: FormatOpt = TextOrJson.text,
    time_scale: Annotated[
        float,
        typer.Option("--time-scale", help="Multiply every Wait (bake, drain poll); 0 = none."),
    ] = 0.0,
    timeout: Annotated[
        float,
        typer.Option(
            help="Stop the release after this many real seconds (engine start and seeding not "
            "counted) and report where it stood: exit 1.",
        ),
    ] = 600.0,
    notifications: Annotated[
        bool, typer.Option("--notifications/--no-notifications", help="Print SNS reports.")
    ] = True,
) -> None:
    """Run the real state machine locally against a simulated AWS account.

    Seeds an emulated account from the manifest (functions and versions, aliases on `from`,
    queues and DLQs), makes it behave as the scenario says, runs the release with waits
    compressed, hands the scenario's hotfixes over when the release waits for one, and prints
    the final report. Exit 0 SUCCEEDED or ROLLED_FORWARD, 1 HALTED or FAILED, 2 bad input,
    3 when the engine at --engine URL does not answer or --lambda-port is taken.

    With `--engine URL` the state machine is created (or updated) and run on that Step Functions
    endpoint (AWS's Step Functions Local, see docs/step-functions-local.md); the simulated account
    and the step handlers stay in this process, the handlers answering its Lambda calls on
    `--lambda-port`.

    Examples:

    * `rollout dry-run examples/seed.yaml`
    * `rollout dry-run examples/seed.yaml --scenario examples/scenarios/seed-enrich-breaks.yaml`
    * `rollout dry-run examples/fanout.yaml -s examples/scenarios/fanout-drain.yaml -f json`
    * `rollout dry-run examples/seed.yaml --engine http://localhost:8084 --lambda-port 8083`
    """

    def run() -> int:
        from rich.console import Group
        from rich.spinner import Spinner

        from orchestrator.local.dry_run import DryRun, command_seconds, remote_engine
        from orchestrator.local.engine import local_extra_guard, require_local_extra
        from orchestrator.local.scenario import Scenario, load_scenario, scenario_warnings
        from orchestrator.planning.capacity import capacity_warnings

        began = time.monotonic()
        remote = remote_engine(engine, lambda_port, lambda_host)
        loaded = load_manifest(manifest)
        planned = plan_release(loaded)  # infeasible: exit 2 before anything starts
        data = parse_document(manifest.read_text(encoding="utf-8"), str(manifest))
        behaviour = load_scenario(scenario, loaded) if scenario else Scenario()
        for warning in scenario_warnings(behaviour, loaded):
            stderr.print(f"[yellow]![/] scenario {warning.path}: {warning.message}")
        require_local_extra("rollout dry-run")  # exit 3 without the `local` extra
        for issue in capacity_warnings(loaded, planned):
            stderr.print(f"[yellow]![/] {issue.path}: {issue.message}", highlight=False)
        live: Live | None = None
        if fmt == "text":
            live = Live(
                Spinner("dots", text="loading the embedded engine"),
                console=stderr,
                refresh_per_second=8,
                transient=True,
            )
            live.start()

        def stage(what: str) -> None:
            if live is not None:
                live.update(Spinner("dots", text=f"{what} ({time.monotonic() - began:.0f}s)"))

        def show(snapshot: dict[str, Any]) -> None:
            if live is None:
                return
            line = Spinner(
                "dots",
                text=f"release {loaded.release} running ({time.monotonic() - began:.0f}s)"
                + ("" if snapshot else ": planning"),
            )
            live.update(Group(line, progress_table(snapshot)) if snapshot else line)

        try:
            with (
                local_extra_guard("rollout dry-run"),
                DryRun(
                    loaded,
                    data,
                    behaviour,
                    time_scale=time_scale,
                    remote=remote,
                    on_stage=stage,
                ) as run_,
            ):
                if remote is not None and fmt == "text":
                    assert run_.deployment is not None
                    stderr.print(
                        f"state machine {run_.deployment.state_machine_arn} at {remote.url}; "
                        f"step handlers on http://{remote.lambda_host}:{remote.lambda_port}",
                        highlight=False,
                    )
                stage(f"starting release {loaded.release}")
                result = run_.run(timeout=timeout, on_progress=show, report_interruptions=True)
        finally:
            if live is not None:
                live.stop()
        if remote is not None and not result.lambda_invocations:
            stderr.print(
                f"[yellow]![/] the engine at {remote.url} never called the step handlers on port "
                f"{remote.lambda_port}: does its LAMBDA_ENDPOINT point there?"
                + (f" ({result.execution.error})" if result.execution.error else ""),
                highlight=False,
            )
        document = result.contract()
        document["command_wall_seconds"] = round(command_seconds(began), 3)
        if fmt == "json":
            emit_json(document)
        else:
            render_report(stdout, document)
            if notifications:
                for note in document["notifications"]:
                    stdout.print(f"[bold]SNS: {note['subject']}[/]")
                    stdout.print(note["message"], markup=False, highlight=False)
        return EXIT_BY_STATUS.get(result.status, 1)

    raise typer.Exit(guarded(fmt, run))


def engine_flags(engine: str | None) -> str:
    """The flags a copy-paste hint repeats to reach the same engine (`` --engine URL``)."""
    return f" --engine {engine}" if engine else ""


@app.command()
def start(
    manifest: ManifestArg,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the release to its end.")] = False,
    engine: EngineOpt = None,
    fmt: FormatOpt = TextOrJson.text,
    timeout: Annotated[
        float, typer.Option(help="With --wait: give up after this many seconds.")
    ] = 7 * 86400.0,
) -> None:
    """Start the release (execution name = release id; a repeat start is the same execution).

    Validates and plans locally first (exit 2, nothing started, on a bad manifest). Prints the
    execution ARN; with `--wait`, follows it and exits 0 SUCCEEDED/ROLLED_FORWARD, 1 otherwise,
    with the cause of a failed end. A second start of a running release starts nothing: it says
    "already started" (and follows it with `--wait`); a start of a release that has ended exits 1
    with its status: a release id runs once.

    Examples:

    * `rollout start release.yaml --wait --format json` (a pipeline)
    * `rollout start release.yaml --engine http://localhost:8083`
    """

    def run() -> int:
        from orchestrator.cli.connect import connect
        from orchestrator.operations import describe, describe_cause

        loaded = load_manifest(manifest)
        plan_release(loaded)
        data = parse_document(manifest.read_text(encoding="utf-8"), str(manifest))
        conn = connect(engine)
        hint = engine_flags(engine)
        release = loaded.release
        arn = conn.execution_arn(release)
        existing = describe(conn.sfn, arn)
        started = False
        if existing.status == "NOT_STARTED":
            payload = json.dumps({"manifest": data, "options": {}})
            try:
                arn = conn.sfn.start_execution(
                    stateMachineArn=conn.state_machine_arn, name=release, input=payload
                )["executionArn"]
                started = True
            except conn.sfn.exceptions.ExecutionAlreadyExists:
                existing = describe(conn.sfn, arn)
        if not started and existing.ended:
            return already_ran(conn, release, arn, existing, fmt, hint)
        if not wait:
            document = {
                "release": release,
                "execution_arn": arn,
                "started": started,
                "already_started": not started,
            }
            if fmt == "json":
                emit_json(document)
            else:
                stdout.print(
                    f"{'started' if started else 'already started'}: {arn}\n"
                    f"follow it with: rollout status {release}{hint}",
                    highlight=False,
                )
            return 0
        if not started and fmt == "text":
            stderr.print(f"already started: {arn}; following it", highlight=False)
        report = follow(conn, release, arn, timeout, fmt)
        document = {"release": release, "execution_arn": arn, **report}
        if fmt == "json":
            emit_json(document)
        else:
            render_report(stdout, document)
            if report.get("cause"):
                stdout.print(
                    Text.assemble(("Cause", "bold red"), ": ", describe_cause(report["cause"]))
                )
            stdout.print(f"see: rollout status {release}{hint}", highlight=False)
        return EXIT_BY_STATUS.get(str(report.get("status")), 1)

    raise typer.Exit(guarded(fmt, run))


def already_ran(conn: Any, release: str, arn: str, execution: Any, fmt: str, hint: str) -> int:
    """`start` of a release whose execution has ended: nothing is started, exit 1."""
    report: dict[str, Any] | None = None
    with contextlib.suppress(RolloutError, BotoCoreError, ClientError):
        report = conn.ports.records.get(release, "report")
    status = (report or {}).get("status") or execution.status
    message = (
        f"release {release} already ran ({status}): nothing was started. An execution name is "
        "used once; to release again, give the manifest a new `release:` id. Its result: "
        f"rollout status {release}{hint}"
    )
    if fmt == "json":
        emit_json(
            {
                "release": release,
                "execution_arn": arn,
                "started": False,
                "already_started": True,
                "status": status,
                "errors": [{"path": "release", "message": message}],
            }
        )
    else:
        stderr.print(message, highlight=False)
    return 1


def follow(conn: Any, release: str, arn: str, timeout: float, fmt: str) -> dict[str, Any]:
    """Poll the execution until it ends; live progress on stderr in text mode. The result is the
    release's report (or, when it stored none, its status), with ``cause``: why a release that
    did not complete ended, read from the report or the execution's history."""
    from orchestrator.local.runner import last_report
    from orchestrator.operations import describe, failure_cause, history, release_status

    deadline = time.monotonic() + timeout
    live = Live(console=stderr, refresh_per_second=4, transient=True) if fmt == "text" else None
    if live is not None:
        live.start()
    try:
        while True:
            described = conn.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                return {"status": "RUNNING", "note": f"still running after {timeout:g}s"}
            if live is not None:
                # progress is a nicety: a record not written yet, a table elsewhere (Step
                # Functions Local) or a failed read must never end the wait
                try:
                    status = release_status(conn.ports, release)
                    live.update(progress_table(status_snapshot(status)))
                except (RolloutError, BotoCoreError, ClientError):
                    pass
            time.sleep(1.0)
    finally:
        if live is not None:
            live.stop()
    execution = describe(conn.sfn, arn)
    events = history(conn.sfn, arn)
    report: dict[str, Any] | None = None
    if described.get("output"):
        with contextlib.suppress(ValueError):
            report = json.loads(described["output"])
    report = report or last_report(events)
    cause = failure_cause(execution, report, events)
    if report is None:  # it ended before it could report (e.g. at ValidateAndPlan)
        report = {
            "status": "SUCCEEDED" if execution.status == "SUCCEEDED" else "FAILED",
            "final": {},
            "actions": [],
            "error": execution.error,
        }
    return {**report, "cause": cause}


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
    return text


def wait_line(timing: dict[str, Any]) -> str:
    if timing.get("left") is None:
        return f"since {timing.get('since')}, time left unknown"
    return f"since {timing['since']}, {timing['left']} left (until {timing['deadline']})"


def render_status(document: dict[str, Any], hint: str) -> None:
    from orchestrator.operations import describe_cause

    release = document["release"]
    run_state = document.get("execution") or {}
    stdout.print(
        Text.assemble(
            (release, "bold"),
            f": execution {run_state.get('status', 'unknown')}",
            f" ({run_state['error']})" if run_state.get("error") else "",
            f"  {run_state.get('arn') or ''}",
        )
    )
    cause = document.get("cause")
    if cause:
        stdout.print(Text.assemble(("Cause", "bold red"), ": ", describe_cause(cause)))
    if document["components"]:
        stdout.print(progress_table(status_snapshot(document)))
    if document["queues"]:
        stdout.print("[bold]Queues[/]")
        for row in document["queues"]:
            stdout.print(queue_line(row), markup=False, highlight=False)
    waiting = document.get("waiting_for_hotfix")
    if waiting:
        needs = waiting.get("requirements") or {}
        stdout.print(
            Text.assemble(
                (f"Waiting for a hotfix of {waiting.get('broken')}", "bold yellow"),
                f" (broken by {waiting.get('trigger')}'s shift) {wait_line(waiting)}",
            )
        )
        for reason in waiting.get("reasons") or []:
            stdout.print(f"  - {reason}", markup=False, highlight=False)
        stdout.print(
            f"  must read: {needs.get('reads')}; may write: {needs.get('writes')}",
            markup=False,
            highlight=False,
        )
        reads = " ".join(
            f"--reads {q}={','.join(str(s) for s in schemas)}"
            for q, schemas in sorted((needs.get("reads") or {}).items())
        )
        stdout.print(
            f"  hand it over: rollout hotfix {release} --component {waiting.get('broken')} "
            f"--version <VERSION>{' ' + reads if reads else ''}{hint}",
            markup=False,
            highlight=False,
        )
    held = document.get("held")
    if held:
        stdout.print(
            Text.assemble(
                ("Held", "bold yellow"),
                f": the gate of {held.get('component')}@{held.get('version')} at "
                f"{held.get('step')}% could not judge ({held.get('why')}); nothing is broken. "
                f"{wait_line(held)}",
            )
        )
        for reason in held.get("reasons") or []:
            stdout.print(f"  - {reason}", markup=False, highlight=False)
        stdout.print(
            f"  continue: rollout resume {release}{hint}; stop: rollout abort {release}{hint}",
            markup=False,
            highlight=False,
        )
    if document.get("report"):
        stdout.print(f"final status: {document['report']['status']}")
    for problem in document.get("problems") or []:
        stdout.print(Text.assemble(("! ", "bold yellow"), problem))


@app.command()
def status(release: ReleaseArg, engine: EngineOpt = None, fmt: FormatOpt = TextOrJson.text) -> None:
    """Show a release: the execution's state (and the cause of a failed end); per component wave,
    live weights, status and last verdict; queues; and, when it waits for a hotfix or is held,
    what failed, what a hotfix must satisfy and the time left.

    Works on any stored release, whatever is wrong with what it stored: what cannot be loaded is
    listed as a problem (exit 0). A release id that is not stored exits 2 and lists the known
    ones.

    Example: `rollout status 2026-11-28.1`
    """

    def run() -> int:
        from orchestrator.cli.connect import connect
        from orchestrator.operations import check_release_id, release_status

        check_release_id(release)
        conn = connect(engine)
        document = release_status(
            conn.ports, release, sfn=conn.sfn, execution_arn=conn.execution_arn(release)
        )
        if fmt == "json":
            emit_json(document)
        else:
            render_status(document, engine_flags(engine))
        return 0

    raise typer.Exit(guarded(fmt, run))


def parse_schema(text: str) -> int | str | None:
    """A schema as the manifest takes it: ASCII digits are an integer, else a short token."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        return int(text)
    if SCHEMA_TOKEN.match(text):
        return text
    return None


def parse_pairs(values: list[str], option: str, *, many: bool) -> dict[str, Any]:
    """`orders=1,2` -> {"orders": [1, 2]} (or {"orders": 1} when ``many`` is False)."""
    from orchestrator.operations import SCHEMA_HELP

    out: dict[str, Any] = {}
    issues = []
    shape = "QUEUE=SCHEMA[,SCHEMA...]" if many else "QUEUE=SCHEMA"
    for value in values:
        queue, sep, schemas = value.partition("=")
        queue = queue.strip()
        if not sep or not queue or not schemas.strip():
            issues.append(Issue(option, f"{value!r}: expected {shape}, e.g. {option} orders=2"))
            continue
        parts = [s.strip() for s in schemas.split(",")]
        parsed = [parse_schema(s) for s in parts]
        bad = [p for p, s in zip(parts, parsed, strict=True) if s is None]
        if bad:
            issues.append(
                Issue(
                    option, f"{value!r}: {', '.join(map(repr, bad))} is not a schema: {SCHEMA_HELP}"
                )
            )
            continue
        if not many and len(parsed) != 1:
            issues.append(
                Issue(option, f"{value!r}: a version writes one schema per queue ({shape})")
            )
            continue
        if queue in out:
            issues.append(Issue(option, f"{queue!r} is given twice: one {option} per queue"))
            continue
        out[queue] = parsed if many else parsed[0]
    if issues:
        raise InputError(issues)
    return out


def check_version(version: str) -> str:
    text = version.strip()
    if not PUBLISHED_VERSION.match(text):
        raise InputError(
            [
                Issue(
                    "--version",
                    f"--version must be a published version number, such as 19 (what "
                    f"`aws lambda publish-version` printed), not {version!r}: $LATEST and "
                    "aliases are not versions",
                )
            ]
        )
    return text


def refuse_short_v(value: str | None) -> None:
    if value is not None:
        raise typer.BadParameter(
            "-v is not short for --version here (elsewhere -v is --verbose): write "
            f"--version {value}",
            param_hint="-v",
        )


@app.command()
def hotfix(
    release: ReleaseArg,
    component: Annotated[str, typer.Option("--component", "-c", help="The component to fix.")],
    version: Annotated[
        str, typer.Option("--version", help="Its published hotfix version number (e.g. 19).")
    ],
    reads: Annotated[
        list[str] | None,
        typer.Option(
            "--reads",
            metavar="QUEUE=SCHEMA[,SCHEMA...]",
            help="What it reads on one queue, e.g. orders=1,2 (repeat per queue); default: as "
            "the broken version.",
        ),
    ] = None,
    writes: Annotated[
        list[str] | None,
        typer.Option(
            "--writes",
            metavar="QUEUE=SCHEMA",
            help="The one schema it writes on one queue, e.g. enriched=1 (repeat per queue); "
            "default: as the broken version.",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Accept a hotfix of a component the failure does not name, or a version not "
            "newer than the one it replaces (the compatibility checks still apply; the report "
            "shows it).",
        ),
    ] = False,
    engine: EngineOpt = None,
    fmt: FormatOpt = TextOrJson.text,
    short_v: Annotated[
        str | None,
        typer.Option("-v", hidden=True, is_eager=True, callback=refuse_short_v),
    ] = None,
) -> None:
    """Hand a hotfix version to a release waiting for one.

    The hotfix is checked first against the stored release (its queues), the live mixed state and
    the rest of the plan; an incompatible one is refused here with the reason (exit 2) and
    nothing is sent. Only the component the failure names may be hotfixed, with a version newer
    than the one it replaces, unless --force. Exit 1 when the release is not waiting for a hotfix
    (it got one, ended, or is held: `rollout resume`).

    Example: `rollout hotfix 2026-11-28.1 --component enrich --version 19 --reads orders=1,2`
    """

    def run() -> int:
        from orchestrator.cli.connect import connect
        from orchestrator.model.steps import HotfixSpec
        from orchestrator.operations import (
            check_release_id,
            hand_over_hotfix,
            open_release,
            refuse_ended,
            usable,
        )

        check_release_id(release)
        number = check_version(version)
        given_reads = parse_pairs(reads, "--reads", many=True) if reads else None
        given_writes = parse_pairs(writes, "--writes", many=False) if writes else None
        conn = connect(engine)
        hint = engine_flags(engine)
        arn = conn.execution_arn(release)
        stored = open_release(conn.ports, release, sfn=conn.sfn, execution_arn=arn)
        refuse_ended(conn.ports, stored, "it is not waiting for a hotfix", hint)
        context = usable(stored, "hand a hotfix to", hint)
        if component not in context.manifest.components:
            known = ", ".join(sorted(context.manifest.components))
            raise InputError(
                [Issue("--component", f"{component!r} is not in release {release} ({known})")]
            )
        current = context.component(component).to
        spec = HotfixSpec(
            component=component,
            version=number,
            reads=given_reads if given_reads is not None else dict(current.reads),
            writes=given_writes if given_writes is not None else dict(current.writes),
            force=force,
        )
        document = hand_over_hotfix(
            conn.ports, conn.sfn, release, spec, execution_arn=arn, hint=hint
        )
        if fmt == "json":
            emit_json(document)
        else:
            stdout.print(
                f"handed {component}@{number} to release {release}; follow it with "
                f"`rollout status {release}{hint}`",
                highlight=False,
            )
        return 0

    raise typer.Exit(guarded(fmt, run))


@app.command()
def resume(release: ReleaseArg, engine: EngineOpt = None, fmt: FormatOpt = TextOrJson.text) -> None:
    """Continue a held release: its gate could not judge (too little traffic, or CloudWatch
    unreadable), so it stopped moving without blaming any version.

    The held step bakes again and is judged afresh; everything else continues where it stood.
    Exit 1 when the release is not held (or has ended).

    Example: `rollout resume 2026-11-28.1`
    """

    def run() -> int:
        from orchestrator.cli.connect import connect
        from orchestrator.operations import check_release_id, resume_release

        check_release_id(release)
        conn = connect(engine)
        hint = engine_flags(engine)
        document = resume_release(
            conn.ports, conn.sfn, release, execution_arn=conn.execution_arn(release), hint=hint
        )
        if fmt == "json":
            emit_json(document)
        else:
            stdout.print(
                f"resumed {release}; follow it with `rollout status {release}{hint}`",
                highlight=False,
            )
        return 0

    raise typer.Exit(guarded(fmt, run))


@app.command()
def abort(
    release: ReleaseArg,
    reason: Annotated[
        str, typer.Option("--reason", "-r", help="Why: goes into the report and the history.")
    ] = "aborted by an operator",
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Also stop the execution at once (StopExecution), then give back its leases "
            "and write its report here (see runbooks/stuck-execution.md).",
        ),
    ] = False,
    engine: EngineOpt = None,
    fmt: FormatOpt = TextOrJson.text,
) -> None:
    """Stop a release, leaving a consistent, reported state.

    No further forward alias moves; nothing is moved backwards; locks are released and the report
    says where every component stands. A release waiting for a hotfix (or held) ends at once; a
    shifting one at its next step. Works whatever the release stored. Exit 1 when the release has
    already ended.

    Example: `rollout abort 2026-11-28.1 --reason "bad data in orders"`
    """

    def run() -> int:
        from orchestrator.cli.connect import connect
        from orchestrator.operations import abort_release, check_release_id

        check_release_id(release)
        conn = connect(engine)
        hint = engine_flags(engine)
        document = abort_release(
            conn.ports,
            conn.sfn,
            release,
            reason,
            execution_arn=conn.execution_arn(release),
            force=force,
            hint=hint,
        )
        if fmt == "json":
            emit_json(document)
            return 0
        lines = [f"abort requested for {release}: {reason}"]
        if document["was_waiting"]:
            lines.append("its wait ended at once")
        if force:
            if document.get("stopped"):
                released = document.get("leases_released") or []
                lines.append(
                    f"execution stopped ({document.get('execution_status')}); leases given back: "
                    f"{', '.join(released) or 'none held'}; report "
                    f"{'written' if document.get('report_written') else 'already stored'}"
                )
            else:
                lines.append(str(document.get("cleanup") or "the execution did not stop yet"))
        lines.append(f"follow it with: rollout status {release}{hint}")
        stdout.print("\n".join(lines), markup=False, highlight=False)
        return 0

    raise typer.Exit(guarded(fmt, run))


@app.command()
def redrive(
    release: ReleaseArg,
    queue: Annotated[
        str, typer.Option("--queue", "-q", help="The manifest queue whose DLQ to redrive.")
    ],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Move the messages even though a live consumer may fail them again (the output "
            "says what was overridden).",
        ),
    ] = False,
    engine: EngineOpt = None,
    fmt: FormatOpt = TextOrJson.text,
) -> None:
    """After a hotfix, move a queue's dead-lettered messages back to it (SQS StartMessageMoveTask).

    Refused (exit 1) while the release waits for a hotfix, while a live consumer of the queue does
    not read every schema those messages may carry, and while a live consumer is the version that
    failed them during the release, unless --force.

    Example: `rollout redrive 2026-11-28.1 --queue orders`
    """

    def run() -> int:
        from orchestrator.cli.connect import connect
        from orchestrator.operations import check_release_id
        from orchestrator.operations import redrive as redrive_queue

        check_release_id(release)
        conn = connect(engine)
        hint = engine_flags(engine)
        document = redrive_queue(
            conn.ports,
            conn.mover,
            release,
            queue,
            force=force,
            sfn=conn.sfn,
            execution_arn=conn.execution_arn(release),
            hint=hint,
        )
        if fmt == "json":
            emit_json(document)
        else:
            if document["forced"]:
                stderr.print(
                    "[bold yellow]--force[/]: redriving although "
                    + "; ".join(document["overridden"]),
                    highlight=False,
                )
            stdout.print(
                f"moving {document['messages']} message(s) from {document['from']} back to "
                f"{document['to']}" + (" (forced)" if document["forced"] else ""),
                highlight=False,
            )
        return 0

    raise typer.Exit(guarded(fmt, run))


class DiscoverFormat(StrEnum):
    text = "text"
    json = "json"
    manifest = "manifest"


@app.command()
def discover(
    template: Annotated[
        Path,
        typer.Argument(metavar="TEMPLATE", help="A SAM or CloudFormation template (YAML/JSON)."),
    ],
    fmt: Annotated[
        DiscoverFormat,
        typer.Option(
            "--format",
            "-f",
            help="text: the graph for people; json: graph and skeleton; manifest: a manifest "
            "skeleton (YAML) to fill in.",
        ),
    ] = DiscoverFormat.text,
    release: Annotated[str, typer.Option(help="Release id for the skeleton.")] = "CHANGE-ME",
) -> None:
    """Find the Lambda -> SQS -> Lambda graph of a template, and a manifest skeleton.

    Produce edges need evidence the function may send (a send permission scoped to the queue, an
    SNS or EventBridge path); an environment variable alone is not an edge. Each edge says its
    evidence and confidence; what the template alone cannot prove is listed as a hint.

    Examples:

    * `rollout discover template.yaml`
    * `rollout discover template.yaml --format manifest > release.yaml`
    """

    def run() -> int:
        import yaml

        from orchestrator.discovery import (
            discover as find_graph,
        )
        from orchestrator.discovery import (
            graph_to_dict,
            load_template,
            to_manifest_skeleton,
        )

        graph = find_graph(load_template(template))
        document = graph_to_dict(graph)
        skeleton = to_manifest_skeleton(graph, release=release)
        if fmt == DiscoverFormat.json:
            emit_json({"graph": document, "manifest": skeleton})
        elif fmt == DiscoverFormat.manifest:
            sys.stdout.write(yaml.safe_dump(skeleton, sort_keys=False))
        else:
            stdout.print(f"[bold]{template}[/]")
            for key in ("functions", "queues", "produces", "consumes", "dlq"):
                values = document.get(key) or []
                stdout.print(f"[bold]{key}[/] ({len(values)}): " + ", ".join(map(str, values)))
            for hint in document.get("hints") or []:
                stdout.print(f"  hint: {hint}", markup=False)
            if document.get("unlinked"):
                stdout.print("not on a queue: " + ", ".join(document["unlinked"]))
        return 0

    raise typer.Exit(guarded("json" if fmt == DiscoverFormat.json else "text", run))
