"""The state machine definitions, wherever they are installed.

``state_machine/rollout.asl.json`` is the parent (one execution per release);
``state_machine/shift_component.asl.json`` is the child (one execution per component and round).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
REPO_DIR = Path(__file__).resolve().parents[1] / "state_machine"
PARENT = "rollout.asl.json"
CHILD = "shift_component.asl.json"
REPO_DEFINITION = REPO_DIR / PARENT
REPO_CHILD_DEFINITION = REPO_DIR / CHILD


def load_definition(name: str = PARENT) -> str:
    """The ASL text of ``name`` with its ``${...}`` placeholders (from the checkout, else the
    wheel)."""
    path = REPO_DIR / name
    if path.is_file():
        return path.read_text(encoding="utf-8")
    return (resources.files("orchestrator") / "_data" / name).read_text(encoding="utf-8")


def load_child_definition() -> str:
    """The per-component child state machine (``shift_component.asl.json``)."""
    return load_definition(CHILD)


def placeholders(definition: str) -> set[str]:
    return set(PLACEHOLDER.findall(definition))
