"""The AWS Lambda entry points of the step functions (the composition root of the step layer).

``infra/template.yaml`` points each step function's ``Handler`` here
(``orchestrator.lambda_entry.<Step>``). This is the one module that joins ``steps/`` (which know
only ports) with ``aws/`` (the adapters): each entry is the step's handler on the ports built
from the function's settings, lazily on its first event and once per container.
"""

from __future__ import annotations

from typing import Any

from orchestrator.aws.wiring import default_ports
from orchestrator.steps import step_handlers

_handlers = step_handlers()


def _entry(step: str) -> Any:
    return _handlers[step].lambda_handler(default_ports)


ValidateAndPlan = _entry("ValidateAndPlan")
AcquireLocks = _entry("AcquireLocks")
StartShifts = _entry("StartShifts")
WaitForShifts = _entry("WaitForShifts")
DrainQueues = _entry("DrainQueues")
PrepareShift = _entry("PrepareShift")
Advance = _entry("Advance")
WaitForApproval = _entry("WaitForApproval")
Promote = _entry("Promote")
FinishShift = _entry("FinishShift")
ShiftFailed = _entry("ShiftFailed")
ReleaseLocks = _entry("ReleaseLocks")
Report = _entry("Report")
Freeze = _entry("Freeze")
AssessSafety = _entry("AssessSafety")
Notify = _entry("Notify")
WaitForHotfix = _entry("WaitForHotfix")
ApplyHotfix = _entry("ApplyHotfix")
Resume = _entry("Resume")
CleanupFailed = _entry("CleanupFailed")
