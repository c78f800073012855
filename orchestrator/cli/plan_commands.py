"""`rollout validate` and `rollout plan`: what a manifest means, before anything runs."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from orchestrator.cli.base import (
    ManifestArg,
    PlanFormat,
    TextOrJson,
    app,
    emit_json,
    guarded,
    stderr,
    stdout,
)
from orchestrator.model.load import load_manifest, unused_queues
from orchestrator.planning import plan_release
from orchestrator.planning.capacity import capacity_warnings


@app.command()
def validate(
    manifest: ManifestArg,
    fmt: Annotated[
        TextOrJson, typer.Option("--format", "-f", help="text for people, json for pipelines.")
    ] = TextOrJson.text,
) -> None:
    """Check a manifest: schema, semantics and a feasible order. Changes nothing.

    Every problem is reported at once with its path in the manifest
    (e.g. `components.enrich.to.reads.orders`). Exit 0 valid, 2 invalid or infeasible.

    Example: `rollout validate examples/seed.yaml`
    """

    def run() -> None:
        loaded = load_manifest(manifest)
        plan = plan_release(loaded)
        warnings = [
            {"path": f"queues.{q}", "message": "declared but no component reads or writes it"}
            for q in unused_queues(loaded)
        ]
        warnings += [issue.as_dict() for issue in capacity_warnings(loaded, plan)]
        if fmt == "json":
            emit_json(
                {
                    "valid": True,
                    "release": loaded.release,
                    "components": len(loaded.components),
                    "waves": len(plan.waves),
                    "warnings": warnings,
                }
            )
            return
        stdout.print(
            f"[green]✓[/] {manifest}: release {loaded.release} is valid: "
            f"{len(loaded.components)} component(s), {len(plan.waves)} wave(s)"
        )
        for warning in warnings:
            stderr.print(f"[yellow]![/] {warning['path']}: {warning['message']}")

    guarded(fmt, run)


@app.command()
def plan(
    manifest: ManifestArg,
    fmt: Annotated[
        PlanFormat,
        typer.Option(
            "--format",
            "-f",
            help="text: a table of waves with each constraint's reason; json: the DESIGN §7 "
            "contract; mermaid: a flowchart to paste into Markdown.",
        ),
    ] = PlanFormat.text,
) -> None:
    """Show the release plan: waves, ordering constraints with their reasons, drains.

    Components in one wave shift in parallel; a wave starts when the previous one is fully cut
    over. Exit 2 (with every unsafe edge explained) when no order is safe.

    Examples:

    * `rollout plan examples/seed.yaml`
    * `rollout plan examples/seed.yaml --format json | jq .waves`
    * `rollout plan examples/fanout.yaml --format mermaid > plan.md`
    """

    def run() -> None:
        from orchestrator.cli.render import render_mermaid, render_plan

        loaded = load_manifest(manifest)
        result = plan_release(loaded)
        for issue in capacity_warnings(loaded, result):
            stderr.print(f"[yellow]![/] {issue.path}: {issue.message}")
        if fmt == "json":
            emit_json(result.contract())
        elif fmt == "mermaid":
            sys.stdout.write(render_mermaid(loaded, result))
        else:
            render_plan(stdout, loaded, result)

    guarded(fmt, run)
