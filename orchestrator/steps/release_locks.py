"""ReleaseLocks: give back every lease this release holds (a no-op for leases it does not hold)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.model.steps import ReleaseRef
from orchestrator.release import ledger
from orchestrator.release.leases import lease_keys
from orchestrator.step_handler import entrypoint
from orchestrator.steps.acquire_locks import Locks

if TYPE_CHECKING:
    from orchestrator.ports import Ports


def release_locks(event: ReleaseRef, ports: Ports) -> Locks:
    context = ledger.load_context(ports.records, event.release)
    keys = lease_keys(context)
    for key in keys:
        ports.leases.release(key, event.release)
    return Locks(held=0, ttl_seconds=0)


PORTS = ("leases", "records")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("ReleaseLocks", ReleaseRef, release_locks, PORTS)
