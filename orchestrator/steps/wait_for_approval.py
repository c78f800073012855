"""WaitForApproval: a child parks its task token until `rollout approve` answers it.

Runs as a ``lambda:invoke.waitForTaskToken`` task of the child (``shift_component.asl.json``)
when the move to the next traffic step needs a manual approval (``strategy.approve_before`` or a
``{pause: true}`` step; ``release/approvals.py``). The token goes to ``approval-token#<component>``
in the ledger (never logged) with the version and the step it approves; `rollout approve` records
the approval and answers with SendTaskSuccess, and the child's next Advance (or PrepareShift, for
the first weight) makes the move. The wait's TimeoutSeconds is the component's
``approval_timeout_seconds``: past it the child's Catch raises ``ApprovalTimeoutError`` and the
release holds (never a rollback). The release's leases are renewed, so a long wait keeps them.

A child of a past round, or of a release that was aborted or frozen meanwhile, parks nothing and
stops (``ReleaseFrozenError``/``ReleaseAbortedError``, as at any forward move).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, SecretStr

from orchestrator.errors import ReleaseFrozenError
from orchestrator.model.steps import ShiftRef, ShiftState
from orchestrator.release import approvals, ledger
from orchestrator.release.scheduling import check_current
from orchestrator.release.shifting import check_not_stopped, hold_lease
from orchestrator.step_handler import entrypoint

if TYPE_CHECKING:
    from orchestrator.ports import Ports


class ApprovalWait(ShiftRef):
    token: SecretStr
    shift: ShiftState


class ApprovalParked(BaseModel):
    release: str
    component: str
    step: float


def wait_for_approval(event: ApprovalWait, ports: Ports) -> ApprovalParked:
    release, name = event.release, event.component
    flags = ledger.flags(ports.records, release)
    check_not_stopped(ports, release, flags)
    if "frozen" in flags:
        raise ReleaseFrozenError(
            f"release {release} is frozen: {name} does not wait for an approval", component=name
        )
    check_current(ports, release, name, event.round)
    context = ledger.load_context(ports.records, release)
    hold_lease(ports, context, name)
    parked = approvals.park(
        ports, release, name, event.round, event.token.get_secret_value(), event.shift
    )
    return ApprovalParked(release=release, component=name, step=float(str(parked["step"])))


PORTS = ("leases", "records", "clock")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("WaitForApproval", ApprovalWait, wait_for_approval, PORTS)
