"""Report: the release summary, as the execution's output and in the ledger.

The final state is read from the live aliases, not only from the ledger: a promoted component
whose alias is no longer on its promoted version (moved by hand later) makes the release incomplete
and is named in ``findings``.

Status (DESIGN §7): SUCCEEDED (every shifted component live on its verified new version),
ROLLED_FORWARD (the same, through at least one hotfix), HALTED (stopped on a failure, waiting or
``on_failure: halt``), FAILED (hotfix timeout, abort, or an error outside the gates).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from orchestrator.model.steps import AliasMove, ComponentRecord
from orchestrator.release import ledger
from orchestrator.release.shifting import fmt_weights, same_weights
from orchestrator.step_handler import entrypoint
from orchestrator.steps.notify import publish_final_notice

if TYPE_CHECKING:
    from orchestrator.ports import Ports

Status = Literal["SUCCEEDED", "ROLLED_FORWARD", "HALTED", "FAILED"]


class ReportInput(BaseModel):
    release: str
    outcome: Literal["completed", "halted", "failed"] = "completed"
    error: dict[str, Any] | None = None


class ComponentSummary(BaseModel):
    version: str
    weights: dict[str, float]
    status: str
    wave: int | None
    verdicts: list[dict[str, Any]] = Field(default_factory=list)
    started_at: datetime | None = None
    """When its (latest) shift set its first weight."""
    finished_at: datetime | None = None
    """When its child execution finished it (promoted)."""
    execution: str | None = None
    """Its latest child execution."""


class ReleaseReport(BaseModel):
    release: str
    status: Status
    final: dict[str, ComponentSummary]
    actions: list[AliasMove]
    failure: dict[str, Any] | None = None
    hotfixes: list[dict[str, Any]] = Field(default_factory=list)
    rounds: list[dict[str, Any]] = Field(default_factory=list)
    """Every roll-forward round: the failure that started it."""
    error: dict[str, Any] | None = None
    findings: list[str] = Field(default_factory=list)
    """What the live aliases show that the ledger does not (a promoted alias moved by hand)."""


def build_report(event: ReportInput, ports: Ports, *, store: bool = True) -> ReleaseReport:
    context = ledger.load_context(ports.records, event.release)
    records = ledger.all_components(ports.records, event.release)
    final: dict[str, ComponentSummary] = {}
    findings: list[str] = []
    complete = True
    for name, comp in sorted(context.manifest.resolved.items()):
        live = ports.alias_reads.read(comp.function, comp.alias)
        record = records.get(name, ComponentRecord(component=name))
        wave = context.plan.wave_of(name)
        if wave is not None and record.status != "promoted":
            complete = False
        if record.status == "promoted" and not same_weights(live.weights, {record.version: 100}):
            complete = False
            findings.append(
                f"{name} was promoted on {record.version} but its alias {comp.function_name}:"
                f"{comp.alias} is now on [{fmt_weights(live.weights)}]: it was moved outside "
                "this release (see runbooks/alias-drift.md)"
            )
        final[name] = ComponentSummary(
            version=live.version
            if len(live.weights) == 1
            else max(live.weights, key=lambda v: live.weights[v]),
            weights=live.weights,
            # a component the release moved keeps its ledger status even when the replan after a
            # round no longer lists it (it stands on its target now)
            status=record.status if wave is not None or name in records else "unchanged",
            wave=None if wave is None else wave + 1,
            verdicts=[v.model_dump(mode="json") for v in record.verdicts],
            started_at=record.shift_started_at,
            finished_at=record.shift_finished_at,
            execution=record.execution,
        )
    rollforward = ledger.get_rollforward(ports.records, event.release)
    hotfixes = rollforward.applied
    status: Status
    if event.outcome == "completed" and complete:
        status = "ROLLED_FORWARD" if hotfixes else "SUCCEEDED"
    elif event.outcome == "halted":
        status = "HALTED"
    else:
        status = "FAILED"
    report = ReleaseReport(
        release=event.release,
        status=status,
        final=final,
        actions=ledger.actions(ports.records, event.release),
        failure=ports.records.get(event.release, "failure") or rollforward.failure,
        rounds=rollforward.rounds,
        hotfixes=hotfixes,
        error=event.error,
        findings=findings,
    )
    if store:
        document = report.model_dump(mode="json")
        ledger.store_report(ports.records, event.release, document)
        publish_final_notice(ports, document)  # once per release, on every terminal status
    return report


class ReportSummary(BaseModel):
    """What the Report task returns (the execution's output): a few figures whatever the size of
    the release; the whole report is in the ledger (``ledger.load_report``)."""

    release: str
    status: Status
    components: int
    actions: int
    error: dict[str, Any] | None = None
    findings: list[str] = Field(default_factory=list)
    report: str = "ledger"
    """Where the whole report is: ``rollout report RELEASE`` / ``rollout status RELEASE``."""


def report(event: ReportInput, ports: Ports) -> ReportSummary:
    built = build_report(event, ports)
    return ReportSummary(
        release=built.release,
        status=built.status,
        components=len(built.final),
        actions=len(built.actions),
        error=built.error,
        findings=built.findings[:20],
    )


PORTS = ("alias_reads", "records", "notifier")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("Report", ReportInput, report, PORTS)
