"""WaitForHotfix: park the task token where `rollout hotfix` and `rollout abort` find it.

Runs as a ``lambda:invoke.waitForTaskToken`` task: the execution waits (up to the manifest's
``hotfix_timeout_seconds``) until a hotfix is handed over with SendTaskSuccess or the release is
aborted with SendTaskFailure. The token is stored in the record store, keyed by release, and never
logged. The same task parks a held release's token (``purpose: resume``) for `rollout resume`.

An abort requested before the token is parked (between Freeze and here) ends the wait at once
(``ReleaseAbortedError``), and the release's leases are renewed so a long wait keeps them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, SecretStr

from orchestrator.model.steps import ReleaseRef
from orchestrator.release import ledger
from orchestrator.release.shifting import check_not_stopped, renew_leases
from orchestrator.step_handler import entrypoint

if TYPE_CHECKING:
    from orchestrator.ports import Ports


class WaitInput(ReleaseRef):
    token: SecretStr
    round: int = 1
    purpose: Literal["hotfix", "resume"] = "hotfix"
    """``hotfix``: wait for `rollout hotfix`; ``resume``: a held release waits for
    `rollout resume`."""


class Parked(BaseModel):
    release: str
    round: int


def wait_for_hotfix(event: WaitInput, ports: Ports) -> Parked:
    # an abort asked for before the token was parked must not be lost: end the wait at once
    check_not_stopped(ports, event.release)
    context = ledger.load_context(ports.records, event.release)
    renew_leases(ports, context)
    ports.records.put(
        event.release,
        "hotfix-token",
        {
            "token": event.token.get_secret_value(),
            "round": event.round,
            "purpose": event.purpose,
            "since": ports.clock.now().isoformat(),
        },
    )
    return Parked(release=event.release, round=event.round)


PORTS = ("leases", "records", "clock")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("WaitForHotfix", WaitInput, wait_for_hotfix, PORTS)
