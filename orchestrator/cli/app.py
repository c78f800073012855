"""The ``rollout`` command's entry point: the app with every command registered.

``cli/base.py`` holds the app, its shared options and output helpers, ``cli/views.py`` the text
rendering of release documents; each group of commands lives in its own module, by audience, and
registers itself on import (``COMMAND_MODULES``). This module imports them all, so nothing imports
it back.
"""

from __future__ import annotations

import importlib
import sys

from orchestrator.cli.base import app, package_version, silence_stdout

COMMAND_MODULES = (
    "plan_commands",  # validate, plan
    "run_commands",  # dry-run, start
    "operate_commands",  # status, hotfix, resume, approve, pause, abort, redrive
    "watch_commands",  # watch
    "report_commands",  # report, history
    "discover_commands",  # discover
    "contract_commands",  # declare, schema-check
    "local_commands",  # local-lambda, local serve, local deploy
)
"""Each module registers its commands on ``app`` when imported; ``--help`` lists them in this
order (for the person reading it: plan, run, operate, discover, schemas, local)."""

for _module in COMMAND_MODULES:
    importlib.import_module(f"orchestrator.cli.{_module}")

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
