"""The house rules of issue 13 item 7 that the dependency rule does not cover, on the source (an
``ast`` walk, like ``test_dependency_rule.py``):

* one ``Ports`` bundle (``ports.py``), assembled by one wiring function
  (``aws/wiring.build_ports``) that the Lambda entry, the CLI and the local engine all use;
* no error name as a string literal: an error is named by its class (``errors.py``), so the ASL's
  ``ErrorEquals`` and what the code sends cannot drift apart;
* the error classes of the core layers live in ``errors.py``;
* no colliding names where there were some (three ``iam.py``, two ``EdgeKind``).
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "orchestrator"

PORTS_BUILT_IN = {
    "orchestrator/aws/wiring.py",  # build_ports: the adapters
    "orchestrator/step_handler.py",  # restrict: the same bundle, undeclared ports made loud
    "orchestrator/testing.py",  # the in-memory fakes shipped for users
}
CORE_LAYERS = ("steps", "release", "planning", "model", "aws", "discovery")
CORE_MODULES = ("operations.py", "ports.py", "step_handler.py", "lambda_entry.py", "definition.py")


def sources() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(ROOT)): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(PACKAGE.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def imported_names(tree: ast.Module) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


def test_the_ports_bundle_is_assembled_in_one_place() -> None:
    defined = [
        name
        for name, tree in sources().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name == "Ports"
    ]
    assert defined == ["orchestrator/ports.py"]
    built = sorted(
        {
            name
            for name, tree in sources().items()
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Name) and node.func.id == "Ports")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "Ports")
            )
        }
    )
    assert set(built) <= PORTS_BUILT_IN, f"Ports(...) assembled outside the wiring: {built}"


def test_the_lambda_entry_the_cli_and_the_local_engine_use_the_one_wiring_function() -> None:
    trees = sources()
    wiring = "orchestrator.aws.wiring"
    assert f"{wiring}.default_ports" in imported_names(trees["orchestrator/lambda_entry.py"])
    assert f"{wiring}.build_ports" in imported_names(trees["orchestrator/cli/connect.py"])
    assert f"{wiring}.build_ports" in imported_names(trees["orchestrator/local/runner.py"])
    default_ports = next(
        node
        for node in ast.walk(trees["orchestrator/aws/wiring.py"])
        if isinstance(node, ast.FunctionDef) and node.name == "ports_from_settings"
    )
    calls = {
        n.func.id
        for n in ast.walk(default_ports)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    assert "build_ports" in calls


def error_names() -> set[str]:
    tree = ast.parse((PACKAGE / "errors.py").read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name.endswith("Error")
    }


def string_literals(tree: ast.Module) -> list[ast.Constant]:
    """Every string constant but docstrings and the names in ``__all__``."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            skip.add(id(body[0].value))
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            skip.update(id(c) for c in ast.walk(node.value))
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
    ]


def test_no_error_name_is_a_string_literal() -> None:
    """``"ReleaseAborted"`` where the ASL expects ``ReleaseAbortedError`` was one: a name with or
    without its ``Error`` suffix is spelled ``SomeError.__name__``."""
    names = error_names()
    stems = {n.removesuffix("Error") for n in names} - {"Rollout", ""}
    found = [
        f"{name}:{node.lineno} {node.value!r}"
        for name, tree in sources().items()
        if name != "orchestrator/errors.py"
        for node in string_literals(tree)
        if node.value in names or node.value in stems
    ]
    assert not found, "error names as string literals (use the class's __name__):\n  " + (
        "\n  ".join(found)
    )


def test_the_core_layers_define_their_errors_in_errors_py() -> None:
    """The steps, the release record, planning, the models, the adapters and the operations raise
    the classes of ``errors.py``; only private helpers (``_DuplicateKeyError``) stay local. The
    local engine's own (``MotoCompatError`` ...) and the vendored ``contracts/errors.py`` are not
    part of the hierarchy the ASL names."""
    strays = []
    for name, tree in sources().items():
        parts = Path(name).parts
        core = (len(parts) > 2 and parts[1] in CORE_LAYERS) or (
            len(parts) == 2 and parts[1] in CORE_MODULES
        )
        if not core or name in ("orchestrator/errors.py", "orchestrator/aws/errors.py"):
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ClassDef)
                and not node.name.startswith("_")
                and (node.name.endswith("Error") or node.name.endswith("Exception"))
            ):
                strays.append(f"{name}: {node.name}")
    assert not strays, "error classes outside errors.py:\n  " + "\n  ".join(strays)


def test_no_module_called_iam_twice_and_no_enum_defined_twice() -> None:
    files = Counter(p.name for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
    assert files["iam.py"] <= 1
    enums = Counter(
        node.name
        for tree in sources().values()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(
            (isinstance(b, ast.Name) and b.id.endswith("Enum"))
            or (isinstance(b, ast.Attribute) and b.attr.endswith("Enum"))
            for b in node.bases
        )
    )
    twice = sorted(n for n, count in enums.items() if count > 1)
    assert not twice, f"enums defined twice: {twice}"
    assert enums["EdgeKind"] == 1
