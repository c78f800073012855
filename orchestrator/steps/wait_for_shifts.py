"""WaitForShifts: the parent parks its task token until the round's children are done.

Runs as a ``lambda:invoke.waitForTaskToken`` task. The last child to finish answers the token
with success; the first child to fail answers it with its error (``GateFailedError``,
``NotEnoughTrafficError``, ...), which the parent's Catch sends down the roll-forward path exactly
as a failed step did when the release was one execution. A round that ended before the token was
parked is answered here at once. The parent's history grows by this one task per round, whatever
the number of components. The wait times out every 300 s (``TimeoutSeconds``) and parks again after
checking that no child ended without telling (``scheduling.reconcile``): a child that died
outside the ASL's error handling halts the release instead of leaving it waiting for ever.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, SecretStr

from orchestrator.model.steps import ReleaseRef
from orchestrator.release import scheduling
from orchestrator.step_handler import entrypoint

if TYPE_CHECKING:
    from orchestrator.ports import Ports


class ShiftsWait(ReleaseRef):
    token: SecretStr
    round: int = 0


class ShiftsParked(BaseModel):
    release: str
    round: int


def wait_for_shifts(event: ShiftsWait, ports: Ports) -> ShiftsParked:
    # every (re)park first checks that no child died without telling: the wait times out every
    # 300 s and comes back here
    scheduling.reconcile(ports, event.release, event.round)
    scheduling.park_parent(
        ports, event.release, event.token.get_secret_value(), event.round, ports.clock.now()
    )
    return ShiftsParked(release=event.release, round=event.round)


PORTS = ("records", "shift_status", "callbacks", "clock")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("WaitForShifts", ShiftsWait, wait_for_shifts, PORTS)
