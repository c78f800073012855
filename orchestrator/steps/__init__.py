"""One module per state-machine task, named after it (DESIGN §8).

``STEP_HANDLERS`` maps each ASL placeholder name (``${<Name>Arn}``) to its handler; the SAM
template, the embedded engine and the local Lambda endpoint all derive their functions from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.step_handler import StepHandler

STEP_MODULES: dict[str, str] = {
    "ValidateAndPlan": "orchestrator.steps.validate_and_plan",
    "AcquireLocks": "orchestrator.steps.acquire_locks",
    "StartShifts": "orchestrator.steps.start_shifts",
    "WaitForShifts": "orchestrator.steps.wait_for_shifts",
    "DrainQueues": "orchestrator.steps.drain_queues",
    "PrepareShift": "orchestrator.steps.prepare_shift",
    "Advance": "orchestrator.steps.advance",
    "WaitForApproval": "orchestrator.steps.wait_for_approval",
    "Promote": "orchestrator.steps.promote",
    "FinishShift": "orchestrator.steps.finish_shift",
    "ShiftFailed": "orchestrator.steps.shift_failed",
    "ReleaseLocks": "orchestrator.steps.release_locks",
    "Report": "orchestrator.steps.report",
    "Freeze": "orchestrator.steps.freeze",
    "AssessSafety": "orchestrator.steps.assess_safety",
    "Notify": "orchestrator.steps.notify",
    "WaitForHotfix": "orchestrator.steps.wait_for_hotfix",
    "ApplyHotfix": "orchestrator.steps.apply_hotfix",
    "Resume": "orchestrator.steps.resume",
    "CleanupFailed": "orchestrator.steps.cleanup_failed",
}


def step_handlers() -> dict[str, StepHandler[Any, Any]]:
    """Every step's handler, keyed by its ASL name."""
    import importlib

    return {name: importlib.import_module(module).handler for name, module in STEP_MODULES.items()}
