"""The ``rollout`` command's entry point: the app with every command registered.

``cli/base.py`` holds the app, its options and the shared rendering helpers; each group of
commands lives in its own module and registers itself on import (validate/plan in
``plan_commands``, run and operate in ``commands``, schemas in ``contract_commands``, the local
engine in ``local_commands``). This module imports them all, so nothing imports it back.
"""

from __future__ import annotations

import sys

from orchestrator.cli import commands as _commands  # noqa: F401  (registers its commands)
from orchestrator.cli import contract_commands as _contract_commands  # noqa: F401
from orchestrator.cli import local_commands as _local_commands  # noqa: F401
from orchestrator.cli import plan_commands as _plan_commands  # noqa: F401
from orchestrator.cli.base import app, package_version, silence_stdout

__all__ = ["app", "main", "package_version"]


def main() -> None:
    """Console-script entry point. A closed stdout (`rollout plan M | head -1`) is no error."""
    try:
        app()
    except SystemExit as exc:
        if exc.code not in (0, None) and _stdout_pipe_closed():
            silence_stdout()
            raise SystemExit(0) from None
        raise


def _stdout_pipe_closed() -> bool:
    """Whether click gave up on a closed pipe (it wraps stdout in PacifyFlushWrapper then)."""
    return type(sys.stdout).__name__ == "PacifyFlushWrapper"
