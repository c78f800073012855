"""`rollout declare` and `rollout schema-check` as a pipeline runs them (DESIGN §7, issue 12)."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import orchestrator.cli.contract_commands  # noqa: F401  (registers the commands on `app`)
from orchestrator.cli.app import app
from tests.processes import run_cli

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
