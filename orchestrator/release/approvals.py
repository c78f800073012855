"""Manual gates on a shift: approvals (``strategy.approve_before``, ``{pause: true}`` steps) and
``rollout pause`` (issue 13 item 3), kept in the ledger.

Every forward move of a child (PrepareShift's first weight, Advance's next one) asks
:func:`closed_gate` first:

* ``pause``: the release's ``flag#pause`` is set (``rollout pause``): the child does not move and
  polls (the child's ``Paused`` Wait, ``POLL_SECONDS``) until ``rollout resume`` clears the flag.
  Nothing is frozen and nothing is blamed; a pause longer than the component's
  ``approval_timeout_seconds`` holds the release (``ApprovalTimeoutError``), like an approval that
  did not come;
* ``approval``: the move to a step of ``approve_before`` waits until ``rollout approve`` records
  ``approved#<component>#<version>#<step>`` (an approval is of one version at one step, whatever
  the round) and answers the child's task token, parked by WaitForApproval in
  ``approval-token#<component>`` (never logged). The wait's TimeoutSeconds is the component's
  ``approval_timeout_seconds``: past it the release holds.

A hotfix shift (the parent's own) is never gated: it takes over a broken version's traffic.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from orchestrator.release import ledger

if TYPE_CHECKING:
    from orchestrator.model.steps import ShiftState
    from orchestrator.ports import Ports, RecordStore
    from orchestrator.release.ledger import ReleaseContext

__all__ = [
    "PAUSE_FLAG",
    "POLL_SECONDS",
    "TOKEN_PREFIX",
    "Gate",
    "approve",
    "approved_kind",
    "closed_gate",
    "parked_approvals",
    "waiting",
]

Gate = Literal["approval", "pause"]
PAUSE_FLAG = "pause"
TOKEN_PREFIX = "approval-token#"
APPROVED_PREFIX = "approved#"
POLL_SECONDS = 60
"""How often a paused child looks whether the release was resumed (nominal seconds)."""
DRY_RUN_APPROVAL_WAIT_SECONDS = 3_600
"""A dry run's approval wait on the engine (real seconds): its simulated timeout fires first."""


def approved_kind(component: str, version: str, step: float) -> str:
    return f"{APPROVED_PREFIX}{component}#{version}#{step:g}"


def token_kind(component: str) -> str:
    return f"{TOKEN_PREFIX}{component}"


def closed_gate(
    ports: Ports, context: ReleaseContext, name: str, version: str, step: float
) -> Gate | None:
    """What holds the move of ``name`` to ``step`` percent of ``version`` now, if anything."""
    release = context.manifest.release
    if ledger.flag(ports.records, release, PAUSE_FLAG) is not None:
        return "pause"
    if step in context.component(name).strategy.approve_before and (
        ports.records.get(release, approved_kind(name, version, step)) is None
    ):
        return "approval"
    return None


def paused_since(records: RecordStore, release: str) -> datetime | None:
    item = ledger.flag(records, release, PAUSE_FLAG)
    if item is None:
        return None
    try:
        return datetime.fromisoformat(str(item.get("at")))
    except ValueError:
        return None


def waiting(context: ReleaseContext, name: str, shift: ShiftState, gate: Gate) -> ShiftState:
    """``shift`` held before its next move by ``gate``: the child waits (token or poll)."""
    comp = context.component(name)
    nominal = comp.strategy.approval_timeout_seconds
    if context.options.time_scale == 1.0:
        engine = nominal
    elif context.options.dry_run:
        engine = DRY_RUN_APPROVAL_WAIT_SECONDS
    else:
        engine = max(1, context.scaled(nominal))
    return shift.model_copy(
        update={
            "gate": gate,
            "approval_timeout_seconds": engine,
            "nominal_approval_timeout_seconds": nominal,
            "poll_seconds": context.scaled(POLL_SECONDS),
            "nominal_poll_seconds": POLL_SECONDS,
        }
    )


def next_step(shift: ShiftState) -> float:
    """The traffic step a waiting shift moves to once its gate opens."""
    return shift.steps[shift.step_index + 1]


def park(
    ports: Ports, release: str, name: str, round_: int, token: str, shift: ShiftState
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "token": token,
        "component": name,
        "round": round_,
        "version": shift.version,
        "step": next_step(shift),
        "weight": shift.weight,
        "since": ports.clock.now().isoformat(),
        "timeout_seconds": shift.nominal_approval_timeout_seconds,
    }
    ports.records.put(release, token_kind(name), item)
    return item


def parked_approvals(records: RecordStore, release: str) -> dict[str, dict[str, Any]]:
    """component -> its parked approval wait (token, round, version, step, since)."""
    return {
        kind.removeprefix(TOKEN_PREFIX): dict(item)
        for kind, item in records.list(release, TOKEN_PREFIX)
    }


def approve(
    records: RecordStore, release: str, parked: dict[str, Any], by: str, at: datetime
) -> None:
    """Record the approval a parked wait asks for (before its token is answered)."""
    name = str(parked["component"])
    records.put(
        release,
        approved_kind(name, str(parked["version"]), float(parked["step"])),
        {"by": by, "at": at.isoformat(), "round": parked.get("round")},
    )


def forget(records: RecordStore, release: str, name: str) -> None:
    records.delete(release, token_kind(name))


HoldWhy = Literal["approval-timeout", "pause-timeout"]


def write_hold(
    ports: Ports, release: str, name: str, version: str, step: float, why: HoldWhy
) -> dict[str, object]:
    """The ``hold`` record of a manual gate that timed out: nothing is blamed, nothing pulled
    back; `rollout resume` continues (the step then waits for its approval again)."""
    what = "approval" if why == "approval-timeout" else "pause"
    hold: dict[str, object] = {
        "component": name,
        "version": version,
        "step": step,
        "phase": "WAITING",
        "reasons": [
            f"the {what} before {name}@{version} moves to {step:g}% did not end within "
            "approval_timeout_seconds"
        ],
        "values": {},
        "at": ports.clock.now().isoformat(),
        "why": why,
    }
    ports.records.put(release, "hold", hold)
    return hold
