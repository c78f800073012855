"""The on-call CLI's input checks, help and pipes, without an engine (issue 9, Minor items).

Bad input exits 2 with a message naming the flag and the fix *before* anything is reached: these
run with no ``ROLLOUT_STATE_MACHINE_ARN`` and no engine, where reaching AWS would exit 3.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import typer
from typer.testing import CliRunner

from orchestrator.cli.app import app, package_version

ROOT = Path(__file__).resolve().parents[2]
NO_AWS: dict[str, str | None] = {
    "ROLLOUT_STATE_MACHINE_ARN": None,
    "ROLLOUT_TABLE_NAME": None,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
runner = CliRunner()


def run(*args: str) -> Any:
    return runner.invoke(app, list(args), env=NO_AWS)


def only_error(result: Any) -> dict[str, str]:
    [error] = json.loads(result.stdout)["errors"]
    return dict(error)


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "my release"],
        ["abort", "my release"],
        ["resume", "a/b"],
        ["redrive", "x" * 81, "--queue", "orders"],
        ["hotfix", "my release", "-c", "enrich", "--version", "19"],
    ],
    ids=["status", "abort", "resume", "redrive", "hotfix"],
)
def test_an_invalid_release_id_is_named_before_anything_is_reached(argv: list[str]) -> None:
    result = run(*argv, "--format", "json")
    assert result.exit_code == 2, result.stdout + result.stderr
    error = only_error(result)
    assert error["path"] == "RELEASE"
    assert "[A-Za-z0-9._-]" in error["message"] or "letters, digits" in error["message"]
    text = run(*argv)
    assert "is not a release id" in " ".join(text.stderr.split())


@pytest.mark.parametrize("engine", ["not-a-url", "localhost:8083", "ftp://x", "http://"])
def test_engine_that_is_not_a_url_is_bad_input(engine: str) -> None:
    result = run("status", "2026-11-28.1", "--engine", engine, "-f", "json")
    assert result.exit_code == 2, result.stdout + result.stderr
    error = only_error(result)
    assert error["path"] == "--engine"
    assert "http://localhost:8083" in error["message"]


@pytest.mark.parametrize("version", ["$LATEST", "live", "19a", "0", ""])
def test_hotfix_version_must_be_a_published_version_number(version: str) -> None:
    result = run("hotfix", "2026-11-28.1", "-c", "enrich", "--version", version, "-f", "json")
    assert result.exit_code == 2, result.stdout + result.stderr
    error = only_error(result)
    assert error["path"] == "--version"
    assert "--version must be a published version number" in error["message"]


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--reads", "orders=²", "is not a schema: schemas are integers"),
        ("--reads", "orders=1,@", "short tokens"),
        ("--reads", "orders", "expected QUEUE=SCHEMA[,SCHEMA...]"),
        ("--reads", "orders=", "expected QUEUE=SCHEMA[,SCHEMA...]"),
        ("--writes", "orders=1,2", "one schema per queue (QUEUE=SCHEMA)"),
        ("--writes", "enriched", "expected QUEUE=SCHEMA,"),
    ],
)
def test_hotfix_schemas_are_checked_before_anything_is_reached(
    option: str, value: str, expected: str
) -> None:
    result = run(
        "hotfix", "2026-11-28.1", "-c", "enrich", "--version", "19", option, value, "-f", "json"
    )
    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    error = only_error(result)
    assert error["path"] == option
    assert expected in error["message"]


def test_short_v_is_not_version_on_hotfix() -> None:
    """-v is --verbose in local-lambda; on hotfix it names the fix instead of meaning --version."""
    result = run("hotfix", "2026-11-28.1", "-c", "enrich", "-v", "19")
    assert result.exit_code == 2
    assert "write --version 19" in " ".join(result.stderr.split())


def test_writes_help_says_one_schema() -> None:
    result = runner.invoke(app, ["hotfix", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    line = next(x for x in result.stdout.splitlines() if "--writes" in x)
    assert "QUEUE=SCHEMA " in line and "SCHEMA[,SCHEMA" not in line
    assert "-v," not in result.stdout and " -v " not in result.stdout


def commands_of(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in sorted(getattr(group, "commands", {}).items()):
        path = (*prefix, name)
        if getattr(command, "commands", None):
            found.extend(commands_of(command, path))
        else:
            found.append(path)
    return found


CLI = typer.main.get_command(app)
COMMANDS = commands_of(CLI)


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=["rollout", *(" ".join(c) for c in COMMANDS)])
def test_help_shows_no_typer_artefacts(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stdout
    text = result.stdout
    assert "<bool>" not in text, "a flag shows a type"
    assert not re.search(r"\{[A-Z]+\}", text), "a required argument is braced in the usage"
    assert "[default: (" not in text, "a default is parenthesised"


def test_rollout_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"rollout {package_version()}"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", package_version())


@pytest.mark.parametrize("fmt", ["text", "json", "mermaid"])
def test_a_closed_pipe_is_not_an_error(fmt: str) -> None:
    """`rollout plan examples/seed.yaml | head -1`: the reader went away before the output."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "orchestrator.cli", "plan", "examples/seed.yaml", "-f", fmt],
            stdout=write,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"Traceback" not in proc.stderr
    assert b"Exception ignored" not in proc.stderr


def test_head_of_plan_exits_0() -> None:
    shell = f"{sys.executable} -m orchestrator.cli plan examples/seed.yaml | head -1"
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Release 2026-11-28.1")


def test_environment_errors_show_no_document_path() -> None:
    result = run("status", "2026-11-28.1")
    assert result.exit_code == 3
    assert "(document)" not in result.stderr
    assert "ROLLOUT_STATE_MACHINE_ARN" in result.stderr


def test_usage_errors_are_click_usage_errors() -> None:
    """The hidden -v takes a value, so `-v 19` never reads 19 as the release id."""
    sub = getattr(CLI, "commands", {})["hotfix"]
    with pytest.raises((click.UsageError, getattr(typer, "TyperException", click.UsageError))):
        sub.make_context("rollout hotfix", ["R", "-c", "enrich", "-v", "19"])
