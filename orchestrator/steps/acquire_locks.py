"""AcquireLocks: a lease per shifted component, so two releases never shift the same alias.

All or nothing: when one lease is held by another release, the leases this call took are given
back and ``LockConflictError`` names the holder. A repeat of the same release is not a conflict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from orchestrator.errors import LockConflictError
from orchestrator.model.steps import ReleaseRef
from orchestrator.steps import ledger
from orchestrator.steps.runtime import entrypoint

if TYPE_CHECKING:
    from orchestrator.model.manifest import Component
    from orchestrator.ports import Ports
    from orchestrator.steps.ledger import ReleaseContext

LEASE_MARGIN_SECONDS = 86_400


class Locks(BaseModel):
    held: list[str]
    ttl_seconds: int


def lease_key(comp: Component) -> str:
    """The lease of one function alias: ``<function>:<alias>`` (the store keys it ``lease#...``)."""
    return f"{comp.function_name}:{comp.alias}"


def lease_keys(context: ReleaseContext) -> list[str]:
    """Every lease this release takes: the planned components and every hotfixed one."""
    names = {name for wave in context.plan.waves for name in wave} | set(context.hotfixes)
    return sorted({lease_key(context.component(name)) for name in names})


def lease_ttl(context: ReleaseContext) -> int:
    """How long a lease lasts from its last renewal: every bake, one hotfix wait and a day.

    Every alias move, drain check and hotfix wait renews it (``steps.shifting.hold_lease``), so a
    release that waits several times or drains for long keeps it for as long as it runs.
    """
    manifest = context.manifest
    bake = sum(len(c.strategy.steps) * c.strategy.bake_seconds for c in manifest.resolved.values())
    return int(bake + manifest.hotfix_timeout_seconds + LEASE_MARGIN_SECONDS)


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
    return Locks(held=lease_keys(context), ttl_seconds=ttl)


PORTS = ("leases", "records", "clock")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("AcquireLocks", ReleaseRef, acquire_locks, PORTS)
