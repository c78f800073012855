"""CleanupFailed: the release is over, but a lease or its report could not be written.

Reached by the Catch of ``ReleaseLocks``, ``Report`` and their halted/failure twins, once their
retries are spent (a persistent DynamoDB fault, say). The release's outcome does not change: the
aliases are where the release left them. This step tells on-call what was left behind and where
the runbook is, and hands the state machine a report to end with: the full one when the ledger
can still be read, else a minimal one that says it is incomplete. It never raises for a failed
publish or read: the execution must reach its terminal state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, RootModel

from orchestrator.errors import RolloutError
from orchestrator.step_handler import entrypoint, logger
from orchestrator.steps.freeze import error_message
from orchestrator.steps.report import ReportInput, build_report

if TYPE_CHECKING:
    from orchestrator.ports import Ports

Stage = Literal["locks", "report"]
Outcome = Literal["completed", "halted", "failed"]

STATUS_OF: dict[str, str] = {"completed": "SUCCEEDED", "halted": "HALTED", "failed": "FAILED"}

RUNBOOK = {
    "locks": "runbooks/lock-left-behind.md",
    "report": "runbooks/stuck-execution.md",
}


class CleanupInput(BaseModel):
    release: str
    stage: Stage
    outcome: Outcome = "completed"
    error: dict[str, Any] | None = None
    """The ASL Catch output of the cleanup task that failed."""
    failure: dict[str, Any] | None = None
    """The release's own failure, on the halted/failed paths."""


class CleanupReport(RootModel[dict[str, Any]]):
    """The release report (as Report builds it) plus ``cleanup``: what was left behind."""


def cleanup_failed(event: CleanupInput, ports: Ports) -> CleanupReport:
    release = event.release
    what = "its locks were left behind" if event.stage == "locks" else "its report was not stored"
    cause = error_message(event.error or {}) or str((event.error or {}).get("Error") or "")
    status = STATUS_OF[event.outcome]
    subject = f"rollout {release}: release {event.outcome}, {what}"
    message = (
        f"Release {release} {event.outcome} ({status}), but {what}: {cause}\n"
        f"The aliases are where the release left them; nothing more will move.\n"
        f"See {RUNBOOK[event.stage]}"
        + (f" and `rollout status {release}`." if event.stage == "locks" else ".")
    )
    try:
        ports.notifier.publish(subject, message)
    except RolloutError:
        logger.exception("could not publish the cleanup notice")
    report: dict[str, Any]
    try:
        report = build_report(
            ReportInput(release=release, outcome=event.outcome, error=event.failure),
            ports,
            store=False,
        ).model_dump(mode="json")
    except RolloutError:
        logger.exception("could not build the report")
        report = {"release": release, "status": status, "final": {}, "actions": []}
    report["cleanup"] = {"stage": event.stage, "problem": what, "cause": cause}
    return CleanupReport(report)


PORTS = ("alias_reads", "records", "notifier")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("CleanupFailed", CleanupInput, cleanup_failed, PORTS)
