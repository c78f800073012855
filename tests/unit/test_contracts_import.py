"""`orchestrator.contracts` runs inside any Python Lambda: pydantic and Powertools only.

Each check runs in a fresh interpreter whose import system refuses boto3, botocore and the CLI's
dependencies (typer, rich, PyYAML, moto, the X-Ray SDK): importing the package and handling a
batch must not need them. A copy of ``contracts/`` under another name (as vendored into a layer)
must work with ``orchestrator`` itself refused too: every import inside it is relative.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import orchestrator.contracts

PACKAGE = Path(orchestrator.contracts.__file__).resolve().parent
ROOT = PACKAGE.parents[1]

BLOCKER = """
import importlib.abc, sys
BLOCKED = {blocked!r}
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is not available in this Lambda")
        return None
sys.meta_path.insert(0, Refuse())
"""

CLI_DEPENDENCIES = ("boto3", "botocore", "typer", "rich", "yaml", "moto", "aws_xray_sdk")

EXERCISE = """
import json
from pydantic import BaseModel

class Order(BaseModel):
    order_id: str

enrich = contracts.Component("enrich")
seen = []
enrich.reads("orders", 1, Order)(seen.append)
writer = enrich.writes("enriched", 1, Order)
record = {{
    "messageId": "m1", "receiptHandle": "r", "body": json.dumps({{"order_id": "a"}}),
    "attributes": {{"ApproximateReceiveCount": "1"}},
    "messageAttributes": {{"schema_version": {{"stringValue": "1", "dataType": "Number"}}}},
    "md5OfBody": "", "eventSource": "aws:sqs",
    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders", "awsRegion": "us-east-1",
}}
assert enrich.handle({{"Records": [record]}}) == {{"batchItemFailures": []}}, "handled"
assert seen == [Order(order_id="a")]
assert writer.message_attributes()["schema_version"]["StringValue"] == "1"
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {blocked!r})
assert not loaded, loaded
print("ok")
"""


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "POWERTOOLS_METRICS_DISABLED": "true"},
    )


def test_imports_and_handles_a_batch_without_boto3() -> None:
    blocked = CLI_DEPENDENCIES
    code = (
        BLOCKER.format(blocked=blocked)
        + f"sys.path.insert(0, {str(ROOT)!r})\n"
        + "import orchestrator.contracts as contracts\n"
        + "import orchestrator.contracts.compat, orchestrator.contracts.declaration\n"
        + EXERCISE.format(blocked=blocked)
    )
    result = run_python(textwrap.dedent(code), ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


def test_a_vendored_copy_needs_nothing_of_orchestrator(tmp_path: Path) -> None:
    shutil.copytree(PACKAGE, tmp_path / "rollout_contracts", ignore=shutil.ignore_patterns("*.pyc"))
    blocked = (*CLI_DEPENDENCIES, "orchestrator")
    code = (
        BLOCKER.format(blocked=blocked)
        + f"sys.path.insert(0, {str(tmp_path)!r})\n"
        + "import rollout_contracts as contracts\n"
        + EXERCISE.format(blocked=blocked)
    )
    result = run_python(textwrap.dedent(code), tmp_path)
    assert result.returncode == 0, result.stderr


def test_every_import_inside_the_package_is_relative_or_third_party() -> None:
    allowed_roots = {"pydantic", "aws_lambda_powertools", "mypy_boto3_sqs", "mypy_boto3_sns"}
    stdlib = set(sys.stdlib_module_names)
    for source in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            unexpected = roots - stdlib - allowed_roots - {"__future__"}
            assert not unexpected, f"{source.name} imports {unexpected}"


def test_small_enough_to_vendor() -> None:
    lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.glob("*.py"))
    assert lines < 2500, f"orchestrator/contracts has grown to {lines} lines"
