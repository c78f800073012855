"""The on-call commands on a running release: status, hotfix, resume, approve, pause, abort,
redrive."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from orchestrator.cli.base import (
    EngineOpt,
    FormatOpt,
    ReleaseArg,
    TextOrJson,
    app,
    emit_json,
    engine_flags,
    guarded,
    stderr,
    stdout,
)
from orchestrator.cli.views import (
    render_status,
)
from orchestrator.errors import InputError, Issue
from orchestrator.model.manifest import PUBLISHED_VERSION, SCHEMA_TOKEN


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
    component: Annotated[
        str | None, typer.Option("--component", "-c", help="The component to fix.")
    ] = None,
    version: Annotated[
        str | None,
        typer.Option("--version", help="Its published hotfix version number (e.g. 19)."),
    ] = None,
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
    extend: Annotated[
        str | None,
        typer.Option(
            "--extend",
            metavar="DURATION",
            help="Instead of a hotfix: keep the wait open at least this much longer (2h, 90m, "
            "1h30m; a heartbeat on the waiting task token), up to its timeout.",
        ),
    ] = None,
    engine: EngineOpt = None,
    fmt: FormatOpt = TextOrJson.text,
    short_v: Annotated[
        str | None,
        typer.Option("-v", hidden=True, is_eager=True, callback=refuse_short_v),
    ] = None,
) -> None:
    """Hand a hotfix version to a release waiting for one (--component and --version), or give
    the people writing it more time (--extend 2h).

    The hotfix is checked first against the stored release (its queues), the live mixed state and
    the rest of the plan; an incompatible one is refused here with the reason (exit 2) and
    nothing is sent. Only the component the failure names may be hotfixed, with a version newer
    than the one it replaces, unless --force. Exit 1 when the release is not waiting for a hotfix
    (it got one, ended, or is held: `rollout resume`).

    --extend sends a heartbeat on the waiting task token: the wait (hotfix_timeout_seconds
    without news) starts again from now, and the release's leases are renewed; `rollout status`
    shows the new deadline. Exit 2 for a duration longer than one heartbeat keeps the wait open,
    exit 1 when the wait's own timeout ends it sooner (nothing is sent).

    Example: `rollout hotfix 2026-11-28.1 --component enrich --version 19 --reads orders=1,2`,
    `rollout hotfix 2026-11-28.1 --extend 2h`
    """

    def run_extend(text: str) -> int:
        from orchestrator.cli.connect import connect
        from orchestrator.operations import extend_wait, parse_duration

        given = [
            name
            for name, value in (
                ("--component", component),
                ("--version", version),
                ("--reads", reads),
                ("--writes", writes),
                ("--force", force or None),
            )
            if value
        ]
        if given:
            raise InputError(
                [
                    Issue(
                        given[0],
                        "--extend only extends the wait: hand the hotfix over in a separate "
                        f"`rollout hotfix {release} --component C --version V` (drop {given[0]})",
                    )
                ]
            )
        seconds = parse_duration(text)
        conn = connect(engine)
        hint = engine_flags(engine)
        document = extend_wait(
            conn.ports,
            conn.sfn,
            release,
            seconds,
            execution_arn=conn.execution_arn(release),
            hint=hint,
        )
        if fmt == "json":
            emit_json(document)
        else:
            stdout.print(
                f"extended the wait of release {release}: it now ends at {document['deadline']} "
                f"({document['left']} left) unless a hotfix or an abort comes first; follow it "
                f"with `rollout status {release}{hint}`",
                highlight=False,
            )
        return 0

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
        if extend is not None:
            return run_extend(extend)
        if component is None or version is None:
            missing = "--component" if component is None else "--version"
            raise InputError(
                [
                    Issue(
                        missing,
                        "give --component C --version V to hand over a hotfix (or --extend "
                        "DURATION to wait longer for one)",
                    )
                ]
            )
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
    """Continue a paused or held release.

    Paused (`rollout pause`): forward moves go on at each component's next step. Held (a gate
    could not judge: too little traffic or CloudWatch unreadable; or a manual approval or a
    pause did not end in time): the held step bakes again and is judged afresh, and an approval
    that timed out is asked for again (`rollout approve`). Exit 1 when the release is neither
    (or has ended).

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
            what = " and ".join(
                w
                for w, on in (("unpaused", document["unpaused"]), ("resumed", document["held"]))
                if on
            )
            stdout.print(
                f"{what or 'resumed'} {release}; follow it with `rollout status {release}{hint}`",
                highlight=False,
            )
        return 0

    raise typer.Exit(guarded(fmt, run))


@app.command()
def approve(
    release: ReleaseArg,
    component: Annotated[
        str | None,
        typer.Option(
            "--component",
            "-c",
            help="Approve only this component's waiting step (default: every waiting one).",
        ),
    ] = None,
    by: Annotated[
        str, typer.Option("--by", help="Who approves: goes into the ledger with the approval.")
    ] = "an operator",
    engine: EngineOpt = None,
    fmt: FormatOpt = TextOrJson.text,
) -> None:
    """Approve a manual approval step (`strategy.approve_before`, or a `{pause: true}` step).

    The component's child execution waits before the step's alias move until this answers its
    task token (SendTaskSuccess); then it moves and bakes as usual. `rollout status` lists what
    waits under "Waiting for approval". Exit 2 for a component not in the release, 1 when nothing
    (or not that component) waits for an approval.

    Example: `rollout approve 2026-11-28.1 --component enrich`
    """

    def run() -> int:
        from orchestrator.cli.connect import connect
        from orchestrator.operations import approve_release, check_release_id

        check_release_id(release)
        if component is not None and not component.strip():
            raise InputError([Issue("--component", "give a component name, or leave it out")])
        conn = connect(engine)
        hint = engine_flags(engine)
        document = approve_release(
            conn.ports,
            conn.sfn,
            release,
            component=component,
            by=by,
            execution_arn=conn.execution_arn(release),
            hint=hint,
        )
        if fmt == "json":
            emit_json(document)
        else:
            done = ", ".join(
                f"{a['component']}@{a['version']} to {float(a['step']):g}%"
                for a in document["approved"]
            )
            stdout.print(
                f"approved {done} in {release}; follow it with `rollout status {release}{hint}`",
                highlight=False,
            )
        return 0

    raise typer.Exit(guarded(fmt, run))


@app.command()
def pause(
    release: ReleaseArg,
    reason: Annotated[
        str, typer.Option("--reason", "-r", help="Why: shown by `rollout status`.")
    ] = "paused by an operator",
    engine: EngineOpt = None,
    fmt: FormatOpt = TextOrJson.text,
) -> None:
    """Stop forward moves at each component's next step, without failing anything.

    Nothing is frozen, pulled back or blamed: every component stays at the weight it has (a bake
    in progress finishes and is judged) and moves on after `rollout resume`. A pause longer than
    a component's `approval_timeout_seconds` holds the release. Exit 1 when it has ended.

    Example: `rollout pause 2026-11-28.1 --reason "incident elsewhere"`
    """

    def run() -> int:
        from orchestrator.cli.connect import connect
        from orchestrator.operations import check_release_id, pause_release

        check_release_id(release)
        conn = connect(engine)
        hint = engine_flags(engine)
        document = pause_release(
            conn.ports,
            conn.sfn,
            release,
            reason,
            execution_arn=conn.execution_arn(release),
            hint=hint,
        )
        if fmt == "json":
            emit_json(document)
        else:
            already = " (it was paused already)" if document["already_paused"] else ""
            stdout.print(
                f"paused {release} since {document['since']}{already}: no forward move until "
                f"`rollout resume {release}{hint}`",
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
