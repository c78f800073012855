"""`rollout declare` and `rollout schema-check` (DESIGN §7; issue 12): declarations from code.

``declare`` imports a component's handler module (or ``.py`` file), reads what its
:class:`orchestrator.contracts.Component` registers, and prints the manifest's ``to:`` block;
``--check MANIFEST`` exits 2, naming component, queue and schema, where the manifest disagrees.
``schema-check`` compares two message schemas (``module:Model``, ``file.py:Model`` or JSON Schema
files) in Schema Registry terms, or (``--module``) every consecutive pair of schema versions a
component reads, with the cross-check that each version it claims has a handler or an upgrade path.
Exit codes: 0 (whatever the compatibility mode), 2 input that cannot be loaded, or a declaration
that disagrees with the code.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from orchestrator.cli.base import TextOrJson, app, emit_json, guarded, stderr, stdout
from orchestrator.errors import InputError, Issue

if TYPE_CHECKING:
    from orchestrator.contracts.compat import Compatibility
    from orchestrator.contracts.component import Component
    from orchestrator.contracts.declaration import Declaration
    from orchestrator.contracts.versions import Schema

FormatOpt = Annotated[
    TextOrJson, typer.Option("--format", "-f", help="text for people, json for pipelines.")
]
ComponentOpt = Annotated[
    str | None,
    typer.Option(
        "--component",
        "-c",
        metavar="NAME",
        help="The component's name, when the module defines several Components.",
        show_default=False,
    ),
]
CheckOpt = Annotated[
    Path | None,
    typer.Option(
        "--check",
        metavar="MANIFEST",
        help="Compare with this release manifest's entry of the component; exit 2 on any "
        "difference.",
        show_default=False,
    ),
]
VersionOpt = Annotated[
    str | None,
    typer.Option(
        "--version",
        metavar="V",
        help="The published version this code is: printed in the block; with --check, compares "
        "the manifest's block of that version (from or to; default: to).",
        show_default=False,
    ),
]


class _Mismatch(InputError):
    """The manifest and the code disagree (exit 2)."""


def _load(target: str, name: str | None) -> Component:
    from orchestrator.contracts.declaration import LoadError, load_component

    try:
        return load_component(target, name)
    except LoadError as exc:
        raise InputError(str(exc), path=target) from None


def _manifest_block(
    manifest: Path, component: str, version: str | None
) -> tuple[str, dict[str, list[Schema]], dict[str, Schema]]:
    """``(path, reads, writes)`` of the component's block in ``manifest`` (``to`` by default)."""
    from orchestrator.model.load import load_manifest

    loaded = load_manifest(manifest)
    if component not in loaded.components:
        names = ", ".join(sorted(loaded.components))
        raise _Mismatch(
            f"{manifest} has no component {component!r} (it has {names}): the manifest's key "
            "must be the Component's name",
            path="components",
        )
    merged = loaded.component(component)
    block, spec = "to", merged.to
    if version is not None:
        if merged.to.version == version:
            block, spec = "to", merged.to
        elif merged.from_.version == version:
            block, spec = "from", merged.from_
        else:
            raise _Mismatch(
                f"{component} has no version {version!r} in {manifest} (from: "
                f"{merged.from_.version or 'the alias'}, to: {merged.to.version})",
                path=f"components.{component}",
            )
    return f"components.{component}.{block}", dict(spec.reads), dict(spec.writes)


def _flow(value: Any) -> str:
    """A YAML flow rendering of a block (the manifest's own style); strings quoted."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, str) else str(value)


def _declaration_text(declared: Declaration, source: str, version: str | None) -> str:
    lines = [f"# component {declared.component} ({source})"]
    lines += [f"#   {route.describe()}" for route in declared.routes]
    lines += [
        f"#   {queue}: writes schema {schema} ({declared.writers[queue]})"
        for queue, schema in declared.writes.items()
    ]
    lines.append(f"to: {_flow(declared.block(version))}")
    return "\n".join(lines) + "\n"


@app.command()
def declare(
    target: Annotated[
        str,
        typer.Argument(
            metavar="MODULE_OR_FILE",
            help="The component's handler module (dotted name) or .py file.",
            show_default=False,
        ),
    ],
    component: ComponentOpt = None,
    check: CheckOpt = None,
    version: VersionOpt = None,
    fmt: FormatOpt = TextOrJson.text,
) -> None:
    """Print a component's `reads`/`writes` (the manifest's `to:` block) from its handlers.

    Imports MODULE_OR_FILE and reads what its `orchestrator.contracts.Component` registers: a
    schema version is read when it has a handler or an upgrade path to one. With `--check`, exit 2
    naming component, queue and schema wherever the manifest's declaration and the code differ:
    run it per component in the release pipeline so declarations cannot drift from code.

    Examples:

    * `rollout declare examples/components/enrich_v18.py`
    * `rollout declare examples/components/enrich_v18.py --check examples/components/manifest.yaml`
    * `rollout declare handlers.enrich --version 18 --check manifest.yaml --format json`
    """

    def run() -> None:
        from orchestrator.contracts.declaration import compare, declare

        comp = _load(target, component)
        declared = declare(comp)
        document: dict[str, Any] = {
            "component": declared.component,
            "source": target,
            "to": declared.block(version),
            "routes": [route.as_dict() for route in declared.routes],
            "writers": declared.writers,
        }
        issues = [Issue(target, problem) for problem in declared.problems]
        if not declared.reads and not declared.writes:
            issues.append(Issue(target, f"{declared.component} registers no reader and no writer"))
        if check is not None:
            where, reads, writes = _manifest_block(check, declared.component, version)
            differences = compare(
                declared, reads, writes, where=where, source=f"the code ({target})"
            )
            issues += [Issue(d.path, d.message) for d in differences]
            document["check"] = {
                "manifest": str(check),
                "path": where,
                "matches": not differences,
                "differences": [
                    {"path": d.path, "message": d.message, "queue": d.queue, "schema": d.schema}
                    for d in differences
                ],
            }
        if fmt == "json":
            if issues:
                document["errors"] = [issue.as_dict() for issue in issues]
            emit_json(document)
        else:
            sys.stdout.write(_declaration_text(declared, target, version))
            if check is not None and not issues:
                stdout.print(
                    f"[green]✓[/] matches {document['check']['path']} in {escape(str(check))}"
                )
            if issues:
                from orchestrator.cli.render import render_issues

                title = (
                    "The manifest and the code disagree"
                    if check is not None
                    else "The registrations are incomplete"
                )
                render_issues(stderr, title, issues)
        if issues:
            raise typer.Exit(2)

    guarded(fmt, run)


# -- schema-check ---------------------------------------------------------------------------------


_JSON_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_ONE = (
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "additionalItems",
    "unevaluatedProperties",
    "unevaluatedItems",
)
_COUNTS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")
_NUMBERS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")


def _pointer_target(root: Any, ref: str) -> bool:
    """Whether the local ``$ref`` (``#/...``, RFC 6901 escapes) names something in ``root``."""
    node = root
    for raw in ref[1:].lstrip("/").split("/") if ref not in ("#", "#/") else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def json_schema_problems(document: Any) -> list[str]:
    """What makes ``document`` something the schema check cannot read as a JSON Schema: a
    subschema that is neither an object nor a boolean, a keyword of the wrong shape (``type``,
    ``required``, ``enum``, ``properties`` ...), a local ``$ref`` to nothing. Empty: loadable."""
    problems: list[str] = []

    def walk(schema: Any, at: str) -> None:
        if isinstance(schema, bool):
            return
        if not isinstance(schema, dict):
            problems.append(f"{at}: a schema is an object or a boolean, not {schema!r}")
            return
        kind = schema.get("type", "object")
        kinds = kind if isinstance(kind, list) and kind else [kind]
        bad = [k for k in kinds if not isinstance(k, str) or k not in _JSON_TYPES]
        if bad:
            problems.append(f"{at}/type: {bad[0]!r} is not a JSON type")
        required = schema.get("required", [])
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            problems.append(f"{at}/required: a list of property names, not {required!r}")
        if "enum" in schema and not isinstance(schema["enum"], list):
            problems.append(f"{at}/enum: a list of values, not {schema['enum']!r}")
        for key in _COUNTS:
            value = schema.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problems.append(f"{at}/{key}: a non-negative integer, not {value!r}")
        for key in _NUMBERS:
            value = schema.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{at}/{key}: a number, not {value!r}")
        for key in ("pattern", "format"):
            if key in schema and not isinstance(schema[key], str):
                problems.append(f"{at}/{key}: a string, not {schema[key]!r}")
        ref = schema.get("$ref")
        if ref is not None:
            if not isinstance(ref, str):
                problems.append(f"{at}/$ref: a string, not {ref!r}")
            elif ref.startswith("#") and not _pointer_target(document, ref):
                problems.append(f"{at}/$ref: {ref} points at nothing in the file")
        for key in _SCHEMA_MAPS:
            value = schema.get(key, {})
            if not isinstance(value, dict):
                problems.append(f"{at}/{key}: an object of schemas, not {value!r}")
                continue
            for name, sub in value.items():
                walk(sub, f"{at}/{key}/{name}")
        for key in _SCHEMA_LISTS:
            value = schema.get(key, [None])
            if not isinstance(value, list) or not value:
                problems.append(f"{at}/{key}: a non-empty list of schemas, not {value!r}")
                continue
            for i, sub in enumerate(value if key in schema else []):
                walk(sub, f"{at}/{key}/{i}")
        items = schema.get("items", True)
        if isinstance(items, list):  # draft 4-7 tuple form
            for i, sub in enumerate(items):
                walk(sub, f"{at}/items/{i}")
        else:
            walk(items, f"{at}/items")
        for key in _SCHEMA_ONE:
            if key in schema:
                walk(schema[key], f"{at}/{key}")

    walk(document, "#")
    return problems


def _load_schema(spec: str) -> tuple[dict[str, Any], str]:
    """``(JSON Schema, label)`` of ``module:Model``, ``file.py:Model`` or a JSON Schema file."""
    from orchestrator.contracts.compat import json_schema_of
    from orchestrator.contracts.declaration import LoadError, import_target

    path = Path(spec)
    if path.is_file():
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"not a JSON Schema file: {exc}", path=spec) from None
        if not isinstance(document, dict):
            raise InputError("a JSON Schema file holds one JSON object", path=spec)
        problems = json_schema_problems(document)
        if problems:
            raise InputError(
                "not a JSON Schema: "
                + "; ".join(problems[:3])
                + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""),
                path=spec,
            )
        return document, document.get("title") or path.stem
    if ":" not in spec:
        raise InputError(
            "expected module:Model (importable from the current directory or PYTHONPATH), "
            "file.py:Model, or a JSON Schema file",
            path=spec,
        )
    target, attribute = spec.rsplit(":", 1)
    try:
        module = import_target(target)
    except LoadError as exc:
        raise InputError(str(exc), path=spec) from None
    obj: Any = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise InputError(f"{target} has no attribute {attribute!r}", path=spec)
        obj = getattr(obj, part)
    try:
        return json_schema_of(obj), getattr(obj, "__name__", attribute)
    except Exception as exc:  # pydantic's errors for things it cannot describe
        raise InputError(
            f"{attribute} is not a pydantic model (no JSON Schema: {type(exc).__name__}: {exc})",
            path=spec,
        ) from None


def _render_compatibility(result: Compatibility, heading: str) -> None:
    yes_no = {True: "[green]yes[/]", False: "[red]no[/]"}
    stdout.print(f"[bold]{escape(heading)}[/]: [bold]{result.mode}[/]")
    stdout.print(
        f"  backward (a reader of {result.new} parses {result.old} data): {yes_no[result.backward]}"
    )
    stdout.print(
        f"  forward  (a reader of {result.old} parses {result.new} data): {yes_no[result.forward]}"
    )
    if result.changes:
        table = Table(show_edge=False, pad_edge=False, box=None, padding=(0, 2, 0, 2))
        for column in ("field", "change", "backward", "forward", "detail"):
            table.add_column(column)
        for change in result.changes:
            table.add_row(
                escape(change.field or "(message)"),
                change.change,
                yes_no[change.backward],
                yes_no[change.forward],
                escape(change.detail),
            )
        stdout.print(table)
    else:
        stdout.print("  no change that affects reading")
    for line in result.advice():
        stdout.print(f"  → {escape(line)}")


def _component_report(
    comp: Component, target: str, check: Path | None, version: str | None
) -> tuple[dict[str, Any], list[Issue], dict[tuple[str, Schema, Schema], Compatibility]]:
    from orchestrator.contracts.compat import compare_models
    from orchestrator.contracts.declaration import declare
    from orchestrator.contracts.versions import schema_key

    declared = declare(comp)
    issues = [Issue(target, problem) for problem in declared.problems]
    claims: dict[str, list[Schema]]
    where = f"{target} ({comp.name})"
    if check is not None:
        where, reads, _ = _manifest_block(check, comp.name, version)
        claims = {q: list(s) for q, s in reads.items()}
    else:
        claims = {q: list(s) for q, s in declared.reads.items()}
        for queue, source in comp.upgrades:
            if source not in claims.setdefault(queue, []):
                claims[queue].append(source)
    queues: dict[str, Any] = {}
    pairs: dict[tuple[str, Schema, Schema], Compatibility] = {}
    for queue in sorted(set(claims) | set(declared.reads)):
        served = declared.reads.get(queue, [])
        claimed = sorted(claims.get(queue, []), key=schema_key)
        for schema in claimed:
            if schema not in served:
                issues.append(
                    Issue(
                        f"{where}.reads.{queue}" if check is not None else where,
                        f"{comp.name} claims to read {queue} schema {schema} but has no handler "
                        f"and no upgrade path for it (it reads "
                        f"[{', '.join(str(s) for s in served)}])",
                    )
                )
        queue_pairs = []
        for old, new in itertools.pairwise(served):
            old_model, new_model = comp.model_of(queue, old), comp.model_of(queue, new)
            assert old_model is not None and new_model is not None
            result = compare_models(old_model, new_model)
            pairs[(queue, old, new)] = result
            queue_pairs.append({"old_schema": old, "new_schema": new, **result.contract()})
        queues[queue] = {
            "reads": served,
            "claimed": claimed,
            "routes": [r.as_dict() for r in declared.routes if r.queue == queue],
            "pairs": queue_pairs,
        }
    document = {"component": comp.name, "source": target, "queues": queues}
    return document, issues, pairs


@app.command("schema-check")
def schema_check(
    old: Annotated[
        str | None,
        typer.Argument(
            metavar="OLD",
            help="The schema written so far: module:Model, file.py:Model or a JSON Schema file.",
            show_default=False,
        ),
    ] = None,
    new: Annotated[
        str | None,
        typer.Argument(
            metavar="NEW",
            help="The schema that replaces it (same forms).",
            show_default=False,
        ),
    ] = None,
    module: Annotated[
        str | None,
        typer.Option(
            "--module",
            "-m",
            metavar="MODULE_OR_FILE",
            help="Instead of OLD NEW: check every consecutive pair of schema versions this "
            "component reads, and that each version it claims has a handler or an upgrade path.",
            show_default=False,
        ),
    ] = None,
    component: ComponentOpt = None,
    check: Annotated[
        Path | None,
        typer.Option(
            "--check",
            metavar="MANIFEST",
            help="With --module: the claims are this manifest's reads of the component.",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            metavar="V",
            help="With --check: the manifest's block of this version (from or to; default: to).",
            show_default=False,
        ),
    ] = None,
    fmt: FormatOpt = TextOrJson.text,
) -> None:
    """Schema Registry compatibility of two message schemas (BACKWARD / FORWARD / FULL / NONE).

    *backward*: a reader of NEW parses data written as OLD; *forward*: a reader of OLD parses data
    written as NEW. Field by field from the JSON Schemas: added required field, removed field,
    type narrowed or widened, enum value removed or added, default added ... Pydantic's default
    (extra fields ignored) is the reading rule unless a model forbids extras. When neither
    direction holds, it spells out the expand/contract sequence. Exit 0 whatever the mode, 2 on
    input it cannot load (or, with `--module`, a claimed version nothing reads).

    Examples:

    * `rollout schema-check order_messages:OrderV1 order_messages:OrderV2` (from
      examples/components, or with it on PYTHONPATH)
    * `rollout schema-check v1.schema.json v2.schema.json --format json | jq .mode`
    * `rollout schema-check --module examples/components/enrich_v18.py`
    """

    def run() -> None:
        if module is not None:
            if old is not None or new is not None:
                raise InputError("give either OLD NEW or --module, not both", path="OLD")
            comp = _load(module, component)
            document, issues, pairs = _component_report(comp, module, check, version)
            if fmt == "json":
                if issues:
                    document["errors"] = [issue.as_dict() for issue in issues]
                emit_json(document)
            else:
                for queue, info in document["queues"].items():
                    reads = ", ".join(str(s) for s in info["reads"])
                    stdout.print(
                        f"[bold]{escape(comp.name)}[/] reads [bold]{escape(queue)}[/] "
                        + escape(f"[{reads}]")
                    )
                    for route in info["routes"]:
                        chain = " -> ".join(str(s) for s in route["path"])
                        stdout.print(
                            escape(f"  schema {route['schema']}: {chain} → {route['handler']}")
                        )
                for (queue, a, b), result in pairs.items():
                    _render_compatibility(
                        result, f"{queue} {a} -> {b} ({result.old} -> {result.new})"
                    )
                if issues:
                    from orchestrator.cli.render import render_issues

                    render_issues(stderr, "Claims without a reader", issues)
            if issues:
                raise typer.Exit(2)
            return
        if old is None or new is None:
            raise InputError("give OLD and NEW (or --module MODULE_OR_FILE)", path="OLD")
        from orchestrator.contracts.compat import compare_schemas

        old_schema, old_label = _load_schema(old)
        new_schema, new_label = _load_schema(new)
        if old_label == new_label:
            old_label, new_label = old, new
        result = compare_schemas(old_schema, new_schema, old_name=old_label, new_name=new_label)
        if fmt == "json":
            emit_json(result.contract())
        else:
            _render_compatibility(result, f"{old} -> {new}")

    guarded(fmt, run)
