"""`rollout declare` and `rollout schema-check` as a pipeline runs them (DESIGN §7, issue 12)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pydantic
import pytest
import typer
from typer.testing import CliRunner

import orchestrator.cli.contract_commands  # noqa: F401  (registers the commands on `app`)
from orchestrator.cli.app import app
from tests.processes import CLI, cli_env, run_cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "components"
MANIFEST = EXAMPLES / "manifest.yaml"
VERSIONS = {"ingest_v42": "42", "ingest_v43": "43", "enrich_v17": "17", "enrich_v18": "18"}

runner = CliRunner()


def run(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def example(name: str) -> str:
    return str(EXAMPLES / f"{name}.py")


# -- declare ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", sorted(VERSIONS))
def test_declare_matches_the_example_manifest(module: str) -> None:
    version = VERSIONS[module]
    result = run("declare", example(module), "--version", version, "--check", str(MANIFEST))
    assert result.exit_code == 0, result.output
    block = "to" if version in ("43", "18") else "from"
    component = module.split("_")[0]
    assert f"matches components.{component}.{block}" in result.stdout


def test_declare_prints_the_to_block() -> None:
    result = run("declare", example("enrich_v18"))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "to: {reads: {orders: [1, 2]}, writes: {enriched: 1}}"
    assert "#   orders 1: upgraded 1 -> 2 (enrich_v18.v1_to_v2), then enrich_v18.handle" in (
        result.stdout
    )
    versioned = run("declare", example("ingest_v43"), "--version", "43")
    assert versioned.stdout.splitlines()[-1] == 'to: {version: "43", writes: {orders: 2}}'


def test_declare_json_contract() -> None:
    result = run("declare", example("enrich_v18"), "--format", "json", "--check", str(MANIFEST))
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["component"] == "enrich"
    assert doc["to"] == {"reads": {"orders": [1, 2]}, "writes": {"enriched": 1}}
    assert [(r["schema"], r["path"]) for r in doc["routes"]] == [(1, [1, 2]), (2, [2])]
    assert doc["writers"] == {"enriched": "order_messages.EnrichedOrderV1"}
    assert doc["check"] == {
        "manifest": str(MANIFEST),
        "path": "components.enrich.to",
        "matches": True,
        "differences": [],
    }
    assert "errors" not in doc


HAND_WRITTEN = """
release: "hand-written.1"
queues:
  orders: {url: "https://sqs.eu-west-2.amazonaws.com/111122223333/orders"}
  enriched: {url: "https://sqs.eu-west-2.amazonaws.com/111122223333/enriched"}
components:
  ingest:
    function: ingest
    from: {version: "42", writes: {orders: 1}}
    to:   {version: "43", writes: {orders: 2}}
  enrich:
    function: enrich
    from: {version: "17", reads: {orders: [1]}, writes: {enriched: 1}}
    to:   {version: "18", reads: {orders: [1, 2, 3]}, writes: {enriched: 2}}
"""


def test_declare_check_fails_naming_component_queue_and_schema(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(HAND_WRITTEN)
    result = run("declare", example("enrich_v18"), "--check", str(manifest))
    assert result.exit_code == 2
    errors = " ".join(result.stderr.split())
    assert "The manifest and the code disagree (2 problems)" in errors
    assert (
        "components.enrich.to.reads.orders: the manifest says enrich reads orders schema 3, but "
        "the code" in errors
    )
    assert "has no handler and no upgrade path for it (it reads [1, 2])" in errors
    assert (
        "components.enrich.to.writes.enriched: the manifest says enrich writes enriched schema 2, "
        "but the code" in errors
    )
    assert "writes schema 1 (order_messages.EnrichedOrderV1)" in errors

    as_json = run("declare", example("enrich_v18"), "--check", str(manifest), "-f", "json")
    assert as_json.exit_code == 2
    doc = json.loads(as_json.stdout)
    assert doc["check"]["matches"] is False
    assert [(d["path"], d["queue"], d["schema"]) for d in doc["check"]["differences"]] == [
        ("components.enrich.to.reads.orders", "orders", 3),
        ("components.enrich.to.writes.enriched", "enriched", 1),
    ]
    assert [e["path"] for e in doc["errors"]] == [
        "components.enrich.to.reads.orders",
        "components.enrich.to.writes.enriched",
    ]


def test_old_code_against_the_new_block_is_a_difference() -> None:
    result = run("declare", example("enrich_v17"), "--check", str(MANIFEST), "-f", "json")
    assert result.exit_code == 2
    (error,) = json.loads(result.stdout)["errors"]
    assert error["path"] == "components.enrich.to.reads.orders"
    assert "reads orders schema 2, but the code" in error["message"]


def test_declare_refuses_what_it_cannot_compare(tmp_path: Path) -> None:
    unknown = run("declare", example("enrich_v18"), "--check", str(MANIFEST), "--version", "99")
    assert unknown.exit_code == 2
    assert "enrich has no version '99'" in " ".join(unknown.stderr.split())
    other = tmp_path / "other.yaml"
    other.write_text(HAND_WRITTEN.replace("  enrich:", "  enricher:"))
    absent = run("declare", example("enrich_v18"), "--check", str(other), "-f", "json")
    assert absent.exit_code == 2
    assert "has no component 'enrich'" in json.loads(absent.stdout)["errors"][0]["message"]
    missing = run("declare", str(tmp_path / "nope.py"), "-f", "json")
    assert missing.exit_code == 2
    assert json.loads(missing.stdout)["errors"][0]["message"].endswith("no such file")
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("release: [\n")
    assert run("declare", example("enrich_v18"), "--check", str(invalid)).exit_code == 2


def test_declare_reports_an_upgrade_that_reaches_no_handler(tmp_path: Path) -> None:
    source = tmp_path / "dangling.py"
    source.write_text(
        textwrap.dedent(
            """
            from pydantic import BaseModel
            from orchestrator.contracts import Component

            class Order(BaseModel):
                order_id: str

            enrich = Component("enrich")
            enrich.reads("orders", 2, Order)(print)
            enrich.upgrade("orders", 0, Order, to=1)(lambda o: o)
            """
        )
    )
    result = run("declare", str(source))
    assert result.exit_code == 2
    assert "reaches no handler" in " ".join(result.stderr.split())


# -- schema-check ----------------------------------------------------------------------------------


def test_schema_check_models_json_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLES)
    result = run("schema-check", "order_messages:OrderV1", "order_messages:OrderV2", "-f", "json")
    assert result.exit_code == 0  # whatever the mode
    doc = json.loads(result.stdout)
    assert (doc["mode"], doc["backward"], doc["forward"]) == ("NONE", False, False)
    assert {(c["field"], c["change"]) for c in doc["changes"]} == {
        ("channel", "added optional field"),
        ("currency", "added required field"),
        ("customer_id", "added required field"),
        ("customer", "removed field"),
    }
    assert "Expand/contract" in doc["advice"][0]


def test_schema_check_text_and_file_forms() -> None:
    models = f"{EXAMPLES / 'order_messages.py'}"
    result = run("schema-check", f"{models}:OrderV1", f"{models}:OrderV1")
    assert result.exit_code == 0
    assert ": FULL" in result.stdout
    assert "no change that affects reading" in result.stdout
    narrowed = run("schema-check", f"{models}:OrderV2", f"{models}:OrderV1")
    text = " ".join(narrowed.stdout.split())
    assert "customer added required field no yes" in text
    assert "neither direction is readable" in text


def test_schema_check_json_schema_files(tmp_path: Path) -> None:
    old, new = tmp_path / "v1.schema.json", tmp_path / "v2.schema.json"
    old.write_text(json.dumps({"type": "object", "properties": {"id": {"type": "string"}}}))
    new.write_text(
        json.dumps(
            {
                "type": "object",
                "properties": {"id": {"type": "string"}, "n": {"type": "integer"}},
                "required": ["n"],
            }
        )
    )
    result = run("schema-check", str(old), str(new), "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["mode"] == "FORWARD"
    assert doc["changes"][0]["field"] == "n"
    assert doc["changes"][0]["change"] == "added required field"


@pytest.mark.parametrize(
    "spec",
    ["no_such_module:Model", "order_messages:Missing", "order_messages:Field", "plain-name"],
)
def test_schema_check_exit_2_on_input_it_cannot_load(
    spec: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(EXAMPLES)
    result = run("schema-check", spec, "order_messages:OrderV2", "--format", "json")
    assert result.exit_code == 2
    (error,) = json.loads(result.stdout)["errors"]
    assert error["path"] == spec


def test_schema_check_exit_2_on_a_file_that_is_not_json(tmp_path: Path) -> None:
    bad = tmp_path / "v1.json"
    bad.write_text("{not json")
    result = run("schema-check", str(bad), str(bad))
    assert result.exit_code == 2
    assert "not a JSON Schema file" in " ".join(result.stderr.split())


def test_schema_check_module_cross_checks_claims() -> None:
    result = run("schema-check", "--module", example("enrich_v18"), "-f", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    orders = doc["queues"]["orders"]
    assert orders["reads"] == [1, 2]
    assert orders["claimed"] == [1, 2]
    ((pair),) = orders["pairs"]
    assert (pair["old_schema"], pair["new_schema"], pair["mode"]) == (1, 2, "NONE")

    claimed = run(
        "schema-check",
        "--module",
        example("enrich_v17"),
        "--check",
        str(MANIFEST),
        "--version",
        "18",
    )
    assert claimed.exit_code == 2
    assert (
        "components.enrich.to.reads.orders: enrich claims to read orders schema 2 but has no "
        "handler and no upgrade path for it (it reads [1])" in " ".join(claimed.stderr.split())
    )
    both = run("schema-check", "a:B", "--module", example("enrich_v18"))
    assert both.exit_code == 2


# -- schema-check's contract, to the letter (issue 12 item 4: other tools rely on it) ------------

OBJECT_ID = {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}
CONTRACT_PAIRS = {
    # name: (OLD, NEW, mode, backward, forward)
    "FULL": (OBJECT_ID, OBJECT_ID, "FULL", True, True),
    # NEW adds an optional field: a reader of NEW parses OLD data; an OLD reader ignores it
    "FULL-added-optional": (
        OBJECT_ID,
        {**OBJECT_ID, "properties": {"id": {"type": "string"}, "n": {"type": "integer"}}},
        "FULL",
        True,
        True,
    ),
    # NEW requires a field OLD data lacks: only an OLD reader parses NEW data
    "FORWARD": (
        OBJECT_ID,
        {
            "type": "object",
            "properties": {"id": {"type": "string"}, "n": {"type": "integer"}},
            "required": ["id", "n"],
        },
        "FORWARD",
        False,
        True,
    ),
    # NEW widens a string to string-or-null: a NEW reader parses OLD data, not the reverse
    "BACKWARD": (
        OBJECT_ID,
        {**OBJECT_ID, "properties": {"id": {"type": ["string", "null"]}}},
        "BACKWARD",
        True,
        False,
    ),
    "NONE": (
        OBJECT_ID,
        {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]},
        "NONE",
        False,
        False,
    ),
}


@pytest.mark.parametrize("name", sorted(CONTRACT_PAIRS))
def test_schema_check_json_has_the_contract_keys_and_exits_0_whatever_the_mode(
    name: str, tmp_path: Path
) -> None:
    old, new, mode, backward, forward = CONTRACT_PAIRS[name]
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    result = run(
        "schema-check", str(tmp_path / "old.json"), str(tmp_path / "new.json"), "-f", "json"
    )
    assert result.exit_code == 0, result.stdout
    doc = json.loads(result.stdout)
    assert {"mode", "backward", "forward", "changes"} <= set(doc)
    assert doc["mode"] in ("FULL", "BACKWARD", "FORWARD", "NONE")
    assert (doc["mode"], doc["backward"], doc["forward"]) == (mode, backward, forward)
    assert type(doc["backward"]) is bool and type(doc["forward"]) is bool
    assert isinstance(doc["changes"], list)
    for change in doc["changes"]:
        assert isinstance(change["field"], str) and isinstance(change["change"], str)
    assert (doc["changes"] == []) == (old == new)


class _Old(pydantic.BaseModel):
    order_id: str
    note: str


class _NewOptionalNote(pydantic.BaseModel):
    order_id: str
    note: str | None = None


class _NewWithCurrency(pydantic.BaseModel):
    order_id: str
    note: str
    currency: str


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (_Old, _NewOptionalNote),
        (_NewOptionalNote, _Old),
        (_Old, _NewWithCurrency),
        (_NewWithCurrency, _Old),
    ],
)
def test_backward_means_a_reader_of_new_parses_data_written_as_old(
    old: type[pydantic.BaseModel], new: type[pydantic.BaseModel], tmp_path: Path
) -> None:
    """The direction, checked against pydantic itself: ``backward`` is NEW.model_validate of
    OLD's messages, ``forward`` the reverse (samples: every field set, and every optional one
    left out)."""
    module = tmp_path / "pair_models.py"
    module.write_text(
        "import pydantic\n"
        + "".join(
            f"class {m.__name__}(pydantic.BaseModel):\n"
            + "".join(
                f"    {f}: {_annotation(i.annotation)}"
                + ("" if i.is_required() else f" = {i.default!r}")
                + "\n"
                for f, i in m.model_fields.items()
            )
            for m in (_Old, _NewOptionalNote, _NewWithCurrency)
        )
    )
    result = run(
        "schema-check", f"{module}:{old.__name__}", f"{module}:{new.__name__}", "-f", "json"
    )
    assert result.exit_code == 0
    doc = json.loads(result.stdout)

    def parses(reader: type[pydantic.BaseModel], writer: type[pydantic.BaseModel]) -> bool:
        samples = [
            {"order_id": "o-1", "note": "n", "currency": "GBP"},
            {"order_id": "o-1", "note": None, "currency": "GBP"},
        ]
        written = []
        for sample in samples:
            try:
                written.append(writer.model_validate(sample).model_dump(exclude_unset=True))
            except pydantic.ValidationError:
                continue
        try:
            for message in written:
                reader.model_validate(message)
        except pydantic.ValidationError:
            return False
        return True

    assert doc["backward"] is parses(new, old)
    assert doc["forward"] is parses(old, new)


def _annotation(annotation: Any) -> str:
    return "str | None" if annotation == (str | None) else annotation.__name__


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"type": 5}, "#/type: 5 is not a JSON type"),
        ({"type": "objekt"}, "'objekt' is not a JSON type"),
        ({"type": "object", "properties": []}, "#/properties: an object of schemas"),
        ({"type": "object", "properties": {"a": 5}}, "#/properties/a: a schema is an object"),
        ({"required": "a"}, "#/required: a list of property names"),
        ({"properties": {"a": {"enum": 3}}}, "#/properties/a/enum: a list of values"),
        ({"$ref": "#/$defs/Nope"}, "#/$ref: #/$defs/Nope points at nothing"),
        ({"anyOf": []}, "#/anyOf: a non-empty list of schemas"),
        ({"type": "array", "items": [1]}, "#/items/0: a schema is an object"),
        ({"type": "string", "maxLength": -1}, "#/maxLength: a non-negative integer"),
    ],
)
def test_schema_check_exit_2_on_a_json_file_that_is_not_a_json_schema(
    document: dict[str, Any], says: str, tmp_path: Path
) -> None:
    bad, good = tmp_path / "bad.json", tmp_path / "good.json"
    bad.write_text(json.dumps(document))
    good.write_text(json.dumps(OBJECT_ID))
    for old, new in ((bad, good), (good, bad)):
        result = run("schema-check", str(old), str(new), "-f", "json")
        assert result.exit_code == 2, result.stdout
        (error,) = json.loads(result.stdout)["errors"]
        assert error["path"] == str(bad)
        assert says in error["message"]


def test_every_schema_pydantic_emits_is_loadable() -> None:
    """The file check never refuses what ``Model.model_json_schema()`` writes (refs, defs,
    Literal enums, nullable unions, constrained fields, nested lists)."""
    from orchestrator.cli.contract_commands import json_schema_problems
    from orchestrator.contracts.compat import json_schema_of
    from orchestrator.contracts.declaration import import_target

    loaded = import_target(str(EXAMPLES / "order_messages.py"))
    models: list[type[pydantic.BaseModel]] = [_Old, _NewOptionalNote, _NewWithCurrency]
    models += [
        v
        for v in vars(loaded).values()
        if isinstance(v, type) and issubclass(v, pydantic.BaseModel) and v is not pydantic.BaseModel
    ]
    assert len(models) > 5
    for model in models:
        assert json_schema_problems(json_schema_of(model)) == [], model.__name__


def test_schema_check_imports_module_model_from_the_pythonpath(tmp_path: Path) -> None:
    """``module:Model`` is importable with the current ``PYTHONPATH`` (a separate process, run
    from a directory that holds neither the module nor the repository)."""
    env = cli_env()
    env["PYTHONPATH"] = os.pathsep.join([str(EXAMPLES), str(ROOT), env.get("PYTHONPATH", "")])
    completed = subprocess.run(
        [*CLI, "schema-check", "order_messages:OrderV1", "order_messages:OrderV2", "-f", "json"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    doc = json.loads(completed.stdout)
    assert (doc["mode"], doc["backward"], doc["forward"]) == ("NONE", False, False)
    missing = subprocess.run(
        [*CLI, "schema-check", "order_messages:OrderV1", "order_messages:OrderV2"],
        cwd=tmp_path,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert missing.returncode == 2, missing.stderr


# -- the installed command -------------------------------------------------------------------------


def test_rollout_declare_is_a_registered_command() -> None:
    result = run_cli(
        "declare",
        example("enrich_v18"),
        "--check",
        str(MANIFEST),
        "-f",
        "json",
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["check"]["matches"] is True


def test_the_pipeline_example_uses_only_options_the_commands_have() -> None:
    text = (ROOT / "examples" / "pipelines" / "declarations.yml").read_text(encoding="utf-8")
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    calls = re.findall(r"rollout (declare|schema-check)((?:\\\n|[^\n])*)", text)
    assert {name for name, _ in calls} == {"declare", "schema-check"}
    checked: set[str] = set()
    for name, arguments in calls:
        known = {opt for param in commands[name].params for opt in param.opts}
        flags = re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", arguments)
        checked.update(flags)
        for flag in flags:
            assert flag in known, f"rollout {name} has no {flag}"
    assert {"--check", "--component", "--module", "--format"} <= checked
