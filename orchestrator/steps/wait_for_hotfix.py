"""WaitForHotfix: park the task token where `rollout hotfix` and `rollout abort` find it.

Runs as a ``lambda:invoke.waitForTaskToken`` task: the execution waits (up to the manifest's
``hotfix_timeout_seconds``) until a hotfix is handed over with SendTaskSuccess or the release is
aborted with SendTaskFailure. The token is stored in the record store, keyed by release, and never
logged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, SecretStr

from orchestrator.model.steps import ReleaseRef
from orchestrator.steps.runtime import entrypoint

if TYPE_CHECKING:
    from orchestrator.steps.runtime import Ports


class WaitInput(ReleaseRef):
    token: SecretStr
    round: int = 1


class Parked(BaseModel):
    release: str
    round: int


def wait_for_hotfix(event: WaitInput, ports: Ports) -> Parked:
    ports.records.put(
        event.release,
        "hotfix-token",
        {
            "token": event.token.get_secret_value(),
            "round": event.round,
            "since": ports.clock.now().isoformat(),
        },
    )
    return Parked(release=event.release, round=event.round)


PORTS = ("records", "clock")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("WaitForHotfix", WaitInput, wait_for_hotfix, PORTS)
