"""`rollout discover` as a user runs it, on a real public template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from orchestrator.cli.app import app

REALWORLD = Path(__file__).resolve().parents[2].parent / "shared" / "realworld"
TEMPLATE = REALWORLD / "sts-apigw-sqs-lambda-sqs.yaml"
runner = CliRunner()

pytestmark = pytest.mark.skipif(not TEMPLATE.is_file(), reason="shared/realworld is not present")


def test_discover_json_graph_and_skeleton() -> None:
    result = runner.invoke(app, ["discover", str(TEMPLATE), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert "ProcessInputQueue->OutputQueue" in document["graph"]["produces"]
    assert document["manifest"]["components"]["ProcessInputQueue"]["from"]["writes"] == {
        "OutputQueue": 1
    }


def test_discover_manifest_skeleton_is_yaml() -> None:
    result = runner.invoke(app, ["discover", str(TEMPLATE), "-f", "manifest", "--release", "r-1"])
    assert result.exit_code == 0
    skeleton = yaml.safe_load(result.stdout)
    assert skeleton["release"] == "r-1"
    assert set(skeleton["components"]) == {"ProcessInputQueue", "WriteTestResult"}


def test_discover_missing_template_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["discover", str(tmp_path / "nope.yaml"), "--format", "json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["errors"]
