"""The commands that run and operate releases: dry-run, start, status, hotfix, abort, redrive."""

from __future__ import annotations

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

from orchestrator.cli.app import (
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
    if "events" in document:
        console.print(
            f"history events: {document['events']}, state transitions: {document['transitions']}"
            + (f", wall time: {document['wall_seconds']}s" if "wall_seconds" in document else "")
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
    timeout: Annotated[float, typer.Option(help="Give up after this many real seconds.")] = 600.0,
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
        from orchestrator.local.dry_run import DryRun, remote_engine
        from orchestrator.local.scenario import Scenario, load_scenario, scenario_warnings

        remote = remote_engine(engine, lambda_port, lambda_host)
        loaded = load_manifest(manifest)
        plan_release(loaded)  # infeasible: exit 2 before anything starts
        data = parse_document(manifest.read_text(encoding="utf-8"), str(manifest))
        behaviour = load_scenario(scenario, loaded) if scenario else Scenario()
        for warning in scenario_warnings(behaviour, loaded):
            stderr.print(f"[yellow]![/] scenario {warning.path}: {warning.message}")
        live: Live | None = None
        if fmt == "text":
            live = Live(console=stderr, refresh_per_second=8, transient=True)
            live.start()

        def show(snapshot: dict[str, Any]) -> None:
            if live is not None and snapshot:
                live.update(progress_table(snapshot))

        try:
            with DryRun(loaded, data, behaviour, time_scale=time_scale, remote=remote) as run_:
                if remote is not None and fmt == "text":
                    assert run_.deployment is not None
                    stderr.print(
                        f"state machine {run_.deployment.state_machine_arn} at {remote.url}; "
                        f"step handlers on http://{remote.lambda_host}:{remote.lambda_port}",
                        highlight=False,
                    )
                result = run_.run(timeout=timeout, on_progress=show)
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
    execution ARN; with `--wait`, follows it and exits 0 SUCCEEDED/ROLLED_FORWARD, 1 otherwise.

    Examples:

    * `rollout start release.yaml --wait --format json` (a pipeline)
    * `rollout start release.yaml --engine http://localhost:8083`
    """

    def run() -> int:
        from orchestrator.cli.connect import connect

        loaded = load_manifest(manifest)
        plan_release(loaded)
        data = parse_document(manifest.read_text(encoding="utf-8"), str(manifest))
        conn = connect(engine)
        payload = json.dumps({"manifest": data, "options": {}})
        try:
            arn = conn.sfn.start_execution(
                stateMachineArn=conn.state_machine_arn, name=loaded.release, input=payload
            )["executionArn"]
            repeated = False
        except conn.sfn.exceptions.ExecutionAlreadyExists:
            arn, repeated = conn.execution_arn(loaded.release), True
        if repeated:
            state = execution_state(conn, loaded.release)
            if state["status"] != "RUNNING":
                stderr.print(
                    f"release {loaded.release} already ran ({state['status']}): an execution name "
                    "is used once, so this is its result. To release again, give the manifest a "
                    "new `release:` id."
                )
        if not wait:
            document = {
                "release": loaded.release,
                "execution_arn": arn,
                "already_started": repeated,
            }
            if fmt == "json":
                emit_json(document)
            else:
                stdout.print(
                    f"{'already started' if repeated else 'started'}: {arn}\n"
                    f"follow it with: rollout status {loaded.release}"
                )
            return 0
        report = follow(conn, loaded.release, arn, timeout, fmt)
        document = {"release": loaded.release, "execution_arn": arn, **report}
        if fmt == "json":
            emit_json(document)
        else:
            render_report(stdout, document)
        return EXIT_BY_STATUS.get(str(report.get("status")), 1)

    raise typer.Exit(guarded(fmt, run))


def follow(conn: Any, release: str, arn: str, timeout: float, fmt: str) -> dict[str, Any]:
    """Poll the execution until it ends; live progress on stderr in text mode."""
    from orchestrator.local.runner import last_report
    from orchestrator.operations import release_status

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
    if described.get("output"):
        report: dict[str, Any] = json.loads(described["output"])
        return report
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = conn.sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    return last_report(events) or {
        "status": "FAILED",
        "error": described.get("error"),
        "cause": described.get("cause"),
    }


def status_snapshot(status: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {
            "wave": row["wave"],
            "status": row["status"],
            "weights": row["weights"],
            "verdict": (row["last_verdict"] or {}).get("phase"),
        }
        for name, row in status["components"].items()
    }


@app.command()
def status(release: ReleaseArg, engine: EngineOpt = None, fmt: FormatOpt = TextOrJson.text) -> None:
    """Show a release: per component wave, live weights, status and last verdict; queues; and,
    when it waits for a hotfix, what failed, what a hotfix must satisfy and the time left.

    Example: `rollout status 2026-11-28.1`
    """

    def run() -> int:
        from orchestrator.cli.connect import connect
        from orchestrator.operations import release_status

        conn = connect(engine)
        document = release_status(conn.ports, release)
        document["execution"] = execution_state(conn, release)
        if fmt == "json":
            emit_json(document)
            return 0
        run_state = document["execution"]
        stdout.print(
            f"[bold]{release}[/]: execution {run_state['status']}"
            + (f" ({run_state['error']})" if run_state.get("error") else "")
            + f"  {run_state['arn']}"
        )
        stdout.print(progress_table(status_snapshot(document)))
        stdout.print("[bold]Queues[/]")
        for line in document["queues"]:
            stdout.print(line, markup=False)
        waiting = document.get("waiting_for_hotfix")
        if waiting:
            needs = waiting.get("requirements") or {}
            stdout.print(
                f"[bold yellow]Waiting for a hotfix of {waiting.get('broken')}[/] "
                f"(broken by {waiting.get('trigger')}'s shift) since {waiting['since']}, "
                f"{waiting['seconds_left']:.0f}s left"
            )
            for reason in waiting.get("reasons") or []:
                stdout.print(f"  - {reason}", markup=False)
            stdout.print(f"  must read: {needs.get('reads')}; may write: {needs.get('writes')}")
        if document.get("report"):
            stdout.print(f"final status: {document['report']['status']}")
        return 0

    raise typer.Exit(guarded(fmt, run))


def execution_state(conn: Any, release: str) -> dict[str, Any]:
    """The Step Functions view of a release: status, and error/cause when it ended badly."""
    arn = conn.execution_arn(release)
    try:
        described = conn.sfn.describe_execution(executionArn=arn)
    except conn.sfn.exceptions.ExecutionDoesNotExist:
        return {"arn": arn, "status": "NOT_STARTED"}
    return {
        "arn": arn,
        "status": described["status"],
        "error": described.get("error"),
        "cause": described.get("cause"),
        "started": str(described.get("startDate", "")),
        "stopped": str(described.get("stopDate", "") or ""),
    }


def parse_pairs(values: list[str], option: str, *, many: bool) -> dict[str, Any]:
    """`orders=1,2` -> {"orders": [1, 2]} (or {"orders": 1} when ``many`` is False)."""
    out: dict[str, Any] = {}
    issues = []
    for value in values:
        queue, sep, schemas = value.partition("=")
        if not sep or not queue or not schemas:
            issues.append(Issue(option, f"{value!r}: expected QUEUE=SCHEMA[,SCHEMA...]"))
            continue
        parsed = [int(s) if s.strip().isdigit() else s.strip() for s in schemas.split(",")]
        if not many and len(parsed) != 1:
            issues.append(Issue(option, f"{value!r}: a version writes one schema per queue"))
            continue
        out[queue] = parsed if many else parsed[0]
    if issues:
        raise InputError(issues)
    return out


@app.command()
def hotfix(
    release: ReleaseArg,
    component: Annotated[str, typer.Option("--component", "-c", help="The component to fix.")],
    version: Annotated[str, typer.Option("--version", "-v", help="Its published hotfix version.")],
    reads: Annotated[
        list[str] | None,
        typer.Option(
            "--reads", help="QUEUE=SCHEMA,SCHEMA (repeat); default: as the broken version."
        ),
    ] = None,
    writes: Annotated[
        list[str] | None,
        typer.Option("--writes", help="QUEUE=SCHEMA (repeat); default: as the broken version."),
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
) -> None:
    """Hand a hotfix version to a release waiting for one.

    The hotfix is checked first against the live mixed state and the rest of the plan; an
    incompatible one is refused here with the planner's reason (exit 2) and nothing is sent. Only
    the component the failure names may be hotfixed, with a version newer than the one it
    replaces, unless --force.

    Example: `rollout hotfix 2026-11-28.1 --component enrich --version 19 --reads orders=1,2`
    """

    def run() -> int:
        from orchestrator.cli.connect import connect
        from orchestrator.model.steps import HotfixSpec
        from orchestrator.operations import hand_over_hotfix
        from orchestrator.steps import ledger

        conn = connect(engine)
        context = ledger.load_context(conn.ports.records, release)
        if component not in context.manifest.components:
            raise InputError([Issue("--component", f"{component!r} is not in release {release}")])
        current = context.component(component).to
        spec = HotfixSpec(
            component=component,
            version=version,
            reads=parse_pairs(reads, "--reads", many=True) if reads else dict(current.reads),
            writes=parse_pairs(writes, "--writes", many=False) if writes else dict(current.writes),
            force=force,
        )
        document = hand_over_hotfix(conn.ports, conn.sfn, release, spec)
        if fmt == "json":
            emit_json(document)
        else:
            stdout.print(
                f"handed {component}@{version} to release {release}; follow it with "
                f"`rollout status {release}`"
            )
        return 0

    raise typer.Exit(guarded(fmt, run))


@app.command()
def resume(release: ReleaseArg, engine: EngineOpt = None, fmt: FormatOpt = TextOrJson.text) -> None:
    """Continue a held release: its gate could not judge (too little traffic, or CloudWatch
    unreadable), so it stopped moving without blaming any version.

    The held step bakes again and is judged afresh; everything else continues where it stood.
    Exit 1 when the release is not held.

    Example: `rollout resume 2026-11-28.1`
    """

    def run() -> int:
        from orchestrator.cli.connect import connect
        from orchestrator.operations import resume_release

        conn = connect(engine)
        document = resume_release(conn.ports, conn.sfn, release)
        if fmt == "json":
            emit_json(document)
        else:
            stdout.print(f"resumed {release}; follow it with `rollout status {release}`")
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
        typer.Option("--force", help="Also StopExecution at once (no cleanup: see the runbook)."),
    ] = False,
    engine: EngineOpt = None,
    fmt: FormatOpt = TextOrJson.text,
) -> None:
    """Stop a release, leaving a consistent, reported state.

    No further forward alias moves; nothing is moved backwards; locks are released and the report
    says where every component stands. A release waiting for a hotfix ends at once; a shifting one
    at its next step.

    Example: `rollout abort 2026-11-28.1 --reason "bad data in orders"`
    """

    def run() -> int:
        from orchestrator.cli.connect import connect
        from orchestrator.operations import abort_release

        conn = connect(engine)
        document = abort_release(conn.ports, conn.sfn, release, reason)
        if force:
            conn.sfn.stop_execution(
                executionArn=conn.execution_arn(release), error="ReleaseAborted", cause=reason
            )
            document["stopped"] = True
        if fmt == "json":
            emit_json(document)
        else:
            stdout.print(f"abort requested for {release}: {reason}")
        return 0

    raise typer.Exit(guarded(fmt, run))


@app.command()
def redrive(
    release: ReleaseArg,
    queue: Annotated[
        str, typer.Option("--queue", "-q", help="The manifest queue whose DLQ to redrive.")
    ],
    engine: EngineOpt = None,
    fmt: FormatOpt = TextOrJson.text,
) -> None:
    """After a hotfix, move a queue's dead-lettered messages back to it (SQS StartMessageMoveTask).

    Refused while any live consumer of the queue cannot read a schema those messages may carry.

    Example: `rollout redrive 2026-11-28.1 --queue orders`
    """

    def run() -> int:
        from orchestrator.cli.connect import connect
        from orchestrator.operations import redrive as redrive_queue

        conn = connect(engine)
        document = redrive_queue(conn.ports, conn.mover, release, queue)
        if fmt == "json":
            emit_json(document)
        else:
            stdout.print(
                f"moving {document['messages']} message(s) from {document['from']} back to "
                f"{document['to']}"
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
