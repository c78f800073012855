"""Leases: one per function alias, so two releases never shift the same alias.

The keys, and how long a lease lasts from its last renewal. ``AcquireLocks`` takes them,
``release.shifting.hold_lease`` renews one before every move (or fails closed), and long waits
renew them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.model.manifest import Component
    from orchestrator.release.ledger import ReleaseContext

LEASE_MARGIN_SECONDS = 86_400


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
