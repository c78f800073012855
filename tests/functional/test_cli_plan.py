"""`rollout validate` and `rollout plan` as a user and a pipeline run them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from orchestrator.cli.app import app

runner = CliRunner()
SEED = Path("examples/seed.yaml")


def run(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_plan_json_contract() -> None:
    result = run("plan", str(SEED), "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["release"] == "2026-11-28.1"
    assert doc["waves"] == [["enrich"], ["ingest"]]
    assert doc["unchanged"] == ["store"]
    assert doc["constraints"][0]["kind"] == "consumer-first"
    assert doc["drains"] == []


def test_plan_text_shows_waves_and_reasons() -> None:
    result = run("plan", str(SEED))
    assert result.exit_code == 0
    assert "enrich" in result.stdout
    assert "Why this order" in result.stdout
    assert "must be fully on 18 before ingest shifts" in result.stdout.replace("\n", " ")


def test_plan_mermaid_is_a_flowchart_with_waves() -> None:
    result = run("plan", "examples/fanout.yaml", "--format", "mermaid")
    assert result.exit_code == 0
    assert result.stdout.startswith("flowchart LR")
    assert 'subgraph wave1["wave 1"]' in result.stdout
    assert '-.->|"producer-first-drain"|' in result.stdout


def test_validate_ok_and_json() -> None:
    assert run("validate", str(SEED)).exit_code == 0
    doc = json.loads(run("validate", str(SEED), "-f", "json").stdout)
    assert doc["valid"] is True
    assert doc["components"] == 3


def test_infeasible_release_exits_2_with_errors_json() -> None:
    result = run("plan", "examples/infeasible.yaml", "--format", "json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    [error] = doc["errors"]
    assert error["path"] == "components.enrich.to.reads.orders"
    assert "expand/contract" in error["message"]


def test_infeasible_release_text_goes_to_stderr() -> None:
    result = run("plan", "examples/infeasible.yaml")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Infeasible release" in result.stderr


BROKEN: list[tuple[str, str, str]] = [
    ("yaml-syntax", "release: [oops\n", ""),
    (
        "unknown-queue",
        SEED.read_text().replace("reads: {orders: [1, 2]}", "reads: {ordrs: [1, 2]}"),
        "components.enrich.to.reads.ordrs",
    ),
    (
        "latest",
        SEED.read_text().replace('version: "43"', 'version: "$LATEST"'),
        "components.ingest.to.version",
    ),
    (
        "steps-not-100",
        SEED.read_text().replace("steps: [10, 50, 100]", "steps: [10, 50]"),
        "defaults.strategy.steps",
    ),
    ("bad-release-id", SEED.read_text().replace('"2026-11-28.1"', '"2026 11 28"'), "release"),
    (
        "wrong-type",
        SEED.read_text().replace("min_invocations: 20", "min_invocations: lots"),
        "defaults.gates.min_invocations",
    ),
    (
        "missing-field",
        SEED.read_text().replace("    function: enrich\n", ""),
        "components.enrich.function",
    ),
    ("not-a-mapping", "- just\n- a list\n", ""),
]


@pytest.mark.parametrize(("name", "text", "path"), BROKEN, ids=[b[0] for b in BROKEN])
@pytest.mark.parametrize("command", ["validate", "plan"])
def test_broken_manifests_exit_2_naming_the_path(
    tmp_path: Path, command: str, name: str, text: str, path: str
) -> None:
    file = tmp_path / f"{name}.yaml"
    file.write_text(text)
    result = run(command, str(file), "--format", "json")
    assert result.exit_code == 2, result.stdout
    errors = json.loads(result.stdout)["errors"]
    assert errors
    assert all(set(e) == {"path", "message"} for e in errors)
    assert path in [e["path"] for e in errors]
    human = run(command, str(file))
    assert human.exit_code == 2
    assert "Traceback" not in human.stderr
    assert (path or "(document)") in human.stderr


def test_missing_file_exits_2() -> None:
    result = run("plan", "no/such/file.yaml", "-f", "json")
    assert result.exit_code == 2
    assert "does not exist" in json.loads(result.stdout)["errors"][0]["message"]


def test_console_script_end_to_end() -> None:
    """The installed entry point, as a pipeline calls it."""
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "plan", str(SEED), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["waves"] == [["enrich"], ["ingest"]]
    bad = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "plan", "examples/infeasible.yaml"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr


def test_every_command_has_help_with_an_example() -> None:
    for command in ("validate", "plan"):
        result = run(command, "--help")
        assert result.exit_code == 0
        assert "rollout " + command in result.stdout


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "release",
                    "components",
                    "queues",
                    "from",
                    "to",
                    "reads",
                    "writes",
                    "version",
                    "function",
                    "defaults",
                    "strategy",
                    "steps",
                    "gates",
                    "url",
                    "x",
                    "on_failure",
                ]
            )
            | st.text(max_size=5),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(doc=json_values, as_json=st.booleans())
def test_fuzzed_documents_never_crash(tmp_path: Path, doc: Any, as_json: bool) -> None:
    file = tmp_path / ("m.json" if as_json else "m.yaml")
    file.write_text(json.dumps(doc) if as_json else yaml.safe_dump(doc))
    result = runner.invoke(app, ["plan", str(file), "--format", "json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 2)
    if result.exit_code == 2:
        assert json.loads(result.stdout)["errors"]


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=st.text(max_size=200))
def test_fuzzed_text_never_crashes(tmp_path: Path, text: str) -> None:
    file = tmp_path / "m.yaml"
    file.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["validate", str(file), "--format", "json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2
