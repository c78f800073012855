"""The commands that run releases: `rollout dry-run` (the real state machine, locally) and
`rollout start` (on AWS or an engine, optionally followed to its end)."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.text import Text

from orchestrator.cli.base import (
    EXIT_BY_STATUS,
    EngineOpt,
    FormatOpt,
    ManifestArg,
    TextOrJson,
    app,
    emit_json,
    engine_flags,
    guarded,
    live_display,
    stderr,
    stdout,
)
from orchestrator.cli.html_option import (
    HtmlOpt,
    check_html_target,
    html_notice,
    picture_or_none,
    write_html,
)
from orchestrator.cli.views import (
    render_report,
    status_view,
)
from orchestrator.cli.watch_view import Progress
from orchestrator.errors import RolloutError
from orchestrator.model.load import load_manifest, parse_document
from orchestrator.planning import plan_release
from orchestrator.release import ledger


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
    html: HtmlOpt = None,
    progress: Annotated[
        Progress | None,
        typer.Option(
            "--progress",
            help="How the release is shown while it runs, on stderr: `live` (the `rollout "
            "watch` view, refreshed in place), `plain` (a line per change, for logs) or `none`.",
            show_default="live on a terminal, plain otherwise",
        ),
    ] = None,
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
    * `rollout dry-run examples/seed.yaml -s examples/scenarios/seed-enrich-breaks.yaml --html
      release.html` (the release as a picture, as `rollout report --html` draws it)
    * `rollout dry-run examples/seed.yaml --progress plain 2> progress.log`
    """

    def run() -> int:
        from orchestrator.aws.wiring import build_ports
        from orchestrator.cli.watch_commands import DryRunProgress, default_progress
        from orchestrator.local.dry_run import DryRun, command_seconds, remote_engine
        from orchestrator.local.engine import local_extra_guard, require_local_extra
        from orchestrator.local.runner import TABLE_NAME
        from orchestrator.local.scenario import Scenario, load_scenario, scenario_warnings
        from orchestrator.operations import watch_facts
        from orchestrator.planning.capacity import capacity_warnings

        began = time.monotonic()
        check_html_target(html, stdout_free=False)
        remote = remote_engine(engine, lambda_port, lambda_host)
        loaded = load_manifest(manifest)
        data = parse_document(manifest.read_text(encoding="utf-8"), str(manifest))
        filled: list[Any] = []
        if loaded.live_from:  # `from: live`: the scenario's simulated account says what is live
            from orchestrator.errors import ScenarioError
            from orchestrator.local.live_alias import fill_from_scenario, live_section
            from orchestrator.model.load import manifest_from_data, read_document

            live = {}
            if scenario is not None:
                text = read_document(scenario, "scenario", ScenarioError)
                live = live_section(parse_document(text, f"scenario {scenario}"))
            data, filled = fill_from_scenario(data, loaded, live)
            loaded = manifest_from_data(data)
        planned = plan_release(loaded)  # infeasible: exit 2 before anything starts
        behaviour = load_scenario(scenario, loaded) if scenario else Scenario()
        for warning in scenario_warnings(behaviour, loaded):
            stderr.print(f"[yellow]![/] scenario {warning.path}: {warning.message}")
        require_local_extra("rollout dry-run")  # exit 3 without the `local` extra
        for issue in capacity_warnings(loaded, planned):
            stderr.print(f"[yellow]![/] {issue.path}: {issue.message}", highlight=False)
        shown = DryRunProgress(progress or default_progress(stderr), stderr)
        shown.began = began
        shown.start()
        try:
            with (
                local_extra_guard("rollout dry-run"),
                DryRun(
                    loaded,
                    data,
                    behaviour,
                    time_scale=time_scale,
                    remote=remote,
                    on_stage=shown.stage,
                ) as run_,
            ):
                if remote is not None and fmt == "text":
                    assert run_.deployment is not None
                    stderr.print(
                        f"state machine {run_.deployment.state_machine_arn} at {remote.url}; "
                        f"step handlers on http://{remote.lambda_host}:{remote.lambda_port}",
                        highlight=False,
                    )
                shown.stage(f"starting release {loaded.release}")
                arn = run_.start()
                # the `rollout watch` picture, read in-process on the run's simulated clock
                # through clients of its own (the run's figures count only the release's calls)
                ports = build_ports(
                    run_.engine.client, table_name=TABLE_NAME, topic_arn="", clock=run_.clock
                )
                assert run_.deployment is not None
                sfn = run_.deployment.sfn
                shown.read = lambda: watch_facts(
                    ports, loaded.release, sfn=sfn, execution_arn=arn, release_clock=True
                )
                result = run_.finish(
                    arn, timeout=timeout, on_progress=shown.poll, report_interruptions=True
                )
                shown.poll(final=True)
                picture = None
                if html is not None and run_.deployment is not None:
                    records = run_.deployment.ports.records
                    picture = picture_or_none(records, loaded.release, result.report)
        finally:
            shown.stop()
        if remote is not None and not result.lambda_invocations:
            stderr.print(
                f"[yellow]![/] the engine at {remote.url} never called the step handlers on port "
                f"{remote.lambda_port}: does its LAMBDA_ENDPOINT point there?"
                + (f" ({result.execution.error})" if result.execution.error else ""),
                highlight=False,
            )
        document = result.contract()
        document["command_wall_seconds"] = round(command_seconds(began), 3)
        if filled:
            document["from_live"] = {fill.component: fill.contract() for fill in filled}
        if html is not None and picture is not None:
            from orchestrator.cli.html_report import render_html

            picture["status"] = result.status  # the dry run's verdict on the run (DESIGN §7)
            page = render_html(picture, messages=result.messages, source="a dry run")
            html_notice(html, write_html(html, page), result.status)
            document["html"] = str(html)
        if fmt == "json":
            emit_json(document)
        else:
            for fill in filled:
                stdout.print(fill.line(), highlight=False)
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
        data = parse_document(manifest.read_text(encoding="utf-8"), str(manifest))
        filled: list[Any] = []
        if loaded.live_from:  # `from: live`: read the aliases and the ledger first (exit 2)
            conn = connect(engine)
            loaded, data, filled = fill_live(conn, loaded, data)
        plan_release(loaded)
        conn = connect(engine) if not filled else conn
        hint = engine_flags(engine)
        if filled and fmt == "text":
            for fill in filled:
                stdout.print(fill.line(), highlight=False)
        from_live = {fill.component: fill.contract() for fill in filled}
        release = loaded.release
        arn = conn.execution_arn(release)
        existing = describe(conn.sfn, arn)
        started = False
        if existing.status == "NOT_STARTED":
            payload = ledger.execution_input(conn.ports.records, data, {})
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
                **({"from_live": from_live} if from_live else {}),
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
        report = follow(conn, release, arn, timeout, fmt, hint)
        document = {"release": release, "execution_arn": arn, **report}
        if from_live:
            document["from_live"] = from_live
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


def fill_live(conn: Any, loaded: Any, data: Any) -> tuple[Any, dict[str, Any], list[Any]]:
    """Fill every ``from: live`` from the account (the aliases, the ledger's last release):
    the filled manifest, its document (the execution input) and how each was filled."""
    from orchestrator.errors import EnvironmentProblemError
    from orchestrator.model.load import manifest_from_data
    from orchestrator.ports import ReleaseCatalog
    from orchestrator.release.live_from import fill_from_account

    records = conn.ports.records
    if not isinstance(records, ReleaseCatalog):
        raise EnvironmentProblemError(
            f"the record store at {conn.where} cannot list releases (no `releases` method): "
            "`from: live` needs the ledger's history"
        )
    filled_data, filled = fill_from_account(
        data, loaded, conn.ports.alias_reads, records, conn.ports.records
    )
    return manifest_from_data(filled_data), filled_data, filled


def already_ran(conn: Any, release: str, arn: str, execution: Any, fmt: str, hint: str) -> int:
    """`start` of a release whose execution has ended: nothing is started, exit 1."""
    report: dict[str, Any] | None = None
    with contextlib.suppress(RolloutError, BotoCoreError, ClientError):
        report = ledger.load_report(conn.ports.records, release)
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


def follow(
    conn: Any, release: str, arn: str, timeout: float, fmt: str, hint: str = ""
) -> dict[str, Any]:
    """Poll the execution until it ends; in text mode a live view on stderr: what `rollout
    status` shows, so a hotfix wait or a hold appears with the commands that answer it (``hint``:
    the flags that reach the same engine). The result is the
    release's report (or, when it stored none, its status), with ``cause``: why a release that
    did not complete ended, read from the report or the execution's history."""
    from orchestrator.local.runner import last_report
    from orchestrator.operations import describe, failure_cause, history, release_status

    deadline = time.monotonic() + timeout
    live = live_display(stderr, transient=True) if fmt == "text" else None
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
                    status = release_status(conn.ports, release, sfn=conn.sfn, execution_arn=arn)
                    live.update(status_view(status, hint))
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
    if report is not None and "final" not in report:
        # the Report task returns a summary: the whole report is in the ledger
        with contextlib.suppress(RolloutError, BotoCoreError, ClientError):
            report = ledger.load_report(conn.ports.records, release) or report
    cause = failure_cause(execution, report, events)
    if report is None:  # it ended before it could report (e.g. at ValidateAndPlan)
        report = {
            "status": "SUCCEEDED" if execution.status == "SUCCEEDED" else "FAILED",
            "final": {},
            "actions": [],
            "error": execution.error,
        }
    return {**report, "cause": cause}
