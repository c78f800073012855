"""The dependency rule of docs/architecture.md §2, enforced on the source (an ``ast`` walk).

Every import counts, at module level or inside a function (a lazy import is still a dependency):

* ``model/`` and ``planning/`` are pure: no boto3/botocore/moto, and nothing from ``aws/``,
  ``local/``, ``cli/``, ``steps/`` or ``operations``;
* ``steps/`` (and the release record they keep) never touch AWS directly: no boto3/botocore/moto,
  nothing from ``aws/``, ``local/`` or ``cli/``; they get adapters through ``ports.py``;
* ``aws/`` implements the ports: nothing from ``steps/``, ``local/``, ``cli/``;
* ``contracts/`` is vendored into component Lambdas: only the standard library, pydantic and
  aws-lambda-powertools (and itself);
* no two modules import each other, directly or through a longer cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "orchestrator"

AWS_LIBRARIES = ("boto3", "botocore", "moto", "mypy_boto3")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports (absolute names; relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            yield prefix
            for alias in node.names:
                yield f"{prefix}.{alias.name}"


def modules() -> dict[str, list[str]]:
    return {
        module_name(path): sorted(set(imports(path)))
        for path in sorted(PACKAGE.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def is_in(name: str, *layers: str) -> bool:
    return any(name == f"orchestrator.{x}" or name.startswith(f"orchestrator.{x}.") for x in layers)


def uses_aws(name: str) -> bool:
    return name.split(".")[0] in AWS_LIBRARIES


def violations() -> list[str]:
    found: list[str] = []
    for module, imported in modules().items():
        here = layer(module)
        for target in imported:
            if here in ("model", "planning"):
                if uses_aws(target) or is_in(
                    target, "aws", "local", "cli", "steps", "release", "operations", "step_handler"
                ):
                    found.append(f"{module} imports {target} (model/planning are pure)")
            elif here in ("steps", "release"):
                if uses_aws(target) or is_in(target, "aws", "local", "cli"):
                    found.append(f"{module} imports {target} (steps reach AWS through ports)")
            elif here == "aws":
                if is_in(target, "steps", "local", "cli"):
                    found.append(f"{module} imports {target} (adapters know no steps)")
            elif here == "contracts":
                top = target.split(".")[0]
                allowed = top in ("pydantic", "aws_lambda_powertools", "typing_extensions") or (
                    top == "orchestrator" and is_in(target, "contracts")
                )
                import sys

                if not allowed and top not in sys.stdlib_module_names:
                    found.append(
                        f"{module} imports {target} (contracts: stdlib, pydantic, powertools)"
                    )
    return sorted(set(found))


def cycles() -> list[list[str]]:
    graph = modules()
    names = set(graph)
    edges = {
        m: {t for t in targets if t in names and t != m and not t.startswith(m + ".")}
        for m, targets in graph.items()
    }
    # a package's __init__ re-exports are not cycles with its own submodules
    for m in edges:
        edges[m] = {t for t in edges[m] if not m.startswith(t + ".")}
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for succ in sorted(edges[node]):
            if state.get(succ) == 1:
                found.append([*stack[stack.index(succ) :], succ])
            elif succ not in state:
                visit(succ)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def test_layers_import_only_downwards() -> None:
    found = violations()
    assert not found, "the dependency rule is broken:\n  " + "\n  ".join(found)


def test_no_import_cycles() -> None:
    found = cycles()
    assert not found, "import cycles:\n  " + "\n  ".join(" -> ".join(c) for c in found)


@pytest.mark.parametrize(
    ("module", "target", "broken"),
    [
        ("orchestrator.planning.x", "boto3", True),
        ("orchestrator.planning.x", "orchestrator.release.ledger", True),
        ("orchestrator.steps.x", "orchestrator.aws.wiring", True),
        ("orchestrator.steps.x", "orchestrator.ports", False),
        ("orchestrator.aws.x", "orchestrator.ports", False),
    ],
)
def test_the_rule_itself(
    module: str, target: str, broken: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        __import__(__name__, fromlist=["modules"]), "modules", lambda: {module: [target]}
    )
    assert bool(violations()) is broken


def test_steps_holds_exactly_the_task_modules() -> None:
    """One module per ASL task in steps/, nothing else (the release record lives in release/)."""
    from orchestrator.steps import STEP_MODULES

    files = {
        f"orchestrator.steps.{p.stem}"
        for p in (PACKAGE / "steps").glob("*.py")
        if p.name != "__init__.py"
    }
    assert files == set(STEP_MODULES.values())
