"""AcquireLocks: a lease per shifted component, so two releases never shift the same alias.

All or nothing: when one lease is held by another release, the leases this call took are given
back and ``LockConflictError`` names the holder. A repeat of the same release is not a conflict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from orchestrator.errors import LockConflictError
from orchestrator.model.steps import ReleaseRef
from orchestrator.release import ledger
from orchestrator.release.leases import lease_keys, lease_ttl
from orchestrator.step_handler import entrypoint

if TYPE_CHECKING:
    from orchestrator.ports import Ports


class Locks(BaseModel):
    """What AcquireLocks leaves in the parent's ``$.locks``: figures, not the keys. The keys are
    derived from the stored plan (``lease_keys``) by whoever needs them; listed here, they grew
    the parent's every state payload by about 15 bytes per component (75 KB at 5,000)."""

    held: int
    """How many leases the release holds (one per shifted component)."""
    ttl_seconds: int


def acquire_locks(event: ReleaseRef, ports: Ports) -> Locks:
    context = ledger.load_context(ports.records, event.release)
    ttl = lease_ttl(context)
    now = ports.clock.now()
    taken: list[str] = []
    for key in lease_keys(context):
        previously = ports.leases.holder(key, now)
        try:
            ports.leases.acquire(key, event.release, ttl, now)
        except LockConflictError:
            for mine in taken:
                ports.leases.release(mine, event.release)
            raise
        if previously != event.release:
            taken.append(key)
    return Locks(held=len(lease_keys(context)), ttl_seconds=ttl)


PORTS = ("leases", "records", "clock")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("AcquireLocks", ReleaseRef, acquire_locks, PORTS)
