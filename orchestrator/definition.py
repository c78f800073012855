"""The state machine definition: ``state_machine/rollout.asl.json``, wherever it is installed."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
REPO_DEFINITION = Path(__file__).resolve().parents[1] / "state_machine" / "rollout.asl.json"


def load_definition() -> str:
    """The ASL text with its ``${...}`` placeholders (from the checkout, else the wheel)."""
    if REPO_DEFINITION.is_file():
        return REPO_DEFINITION.read_text(encoding="utf-8")
    return (resources.files("orchestrator") / "_data" / "rollout.asl.json").read_text(
        encoding="utf-8"
    )


def placeholders(definition: str) -> set[str]:
    return set(PLACEHOLDER.findall(definition))
