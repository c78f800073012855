"""Local engines: the embedded engine (moto's ASL interpreter in-process) and its helpers.

Importing this package does not import moto; :meth:`EmbeddedEngine.start` does.
"""

from __future__ import annotations

from orchestrator.local.engine import EmbeddedEngine, wait_for_execution

__all__ = ["EmbeddedEngine", "wait_for_execution"]
