"""`rollout discover`: the component graph (and a manifest skeleton) of a SAM/CloudFormation
template."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.base import (
    app,
    emit_json,
    guarded,
    stdout,
)


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
