"""Resume: after a hotfix is live, unfreeze and replan the rest; StartShifts then runs it.

Also the way on after a hold (`rollout resume`). The plan is recomputed from where every component
stands now (its last promoted version, DESIGN §4), with the hotfix as its component's new version
(it must still be feasible: ApplyHotfix checked the same replan). What the previous plan ordered
among components still to shift stays ordered, and its drains that are not proven yet (producers
promoted) stay in it (``planning.replan.keep_order``: a broken version's declarations are what the
round proved wrong). Every component not yet promoted on
its target goes again: a pulled-back canary restarts from its first step (from the version it
stands on), a frozen sibling continues from the step it had reached, and drain timers restart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from orchestrator.model.steps import ReleaseRef
from orchestrator.planning import plan_release
from orchestrator.planning.hotfix import live_manifest
from orchestrator.planning.replan import keep_order
from orchestrator.release import ledger
from orchestrator.release.live import live_from, pending_components
from orchestrator.step_handler import entrypoint, logger

if TYPE_CHECKING:
    from orchestrator.ports import Ports


class Resumed(BaseModel):
    release: str
    pending: int
    """Components the next round has to shift."""


def resume(event: ReleaseRef, ports: Ports) -> Resumed:
    release = event.release
    context = ledger.load_context(ports.records, release)
    # replan from where every component stands now (its last promoted version), not from the
    # manifest's `from`: a component promoted once is planned from that version
    live = plan_release(live_manifest(context.manifest, live_from(ports, context)))
    records = ledger.all_components(ports.records, release)
    proven = {kind for kind, _ in ports.records.list(release, "drained#")}
    # the producers are promoted (so the live plan no longer sees their old schema), but a drain
    # they made necessary and that is not proven yet still guards its consumers
    carried = [
        drain
        for drain in context.plan.drains
        if f"drained#{drain.queue}#{drain.schema_}" not in proven
        and all(records.get(p) is not None and records[p].status == "promoted" for p in drain.after)
    ]
    plan, dropped = keep_order(live, context.plan.constraints, carried)
    for constraint in dropped:
        logger.warning(
            "an earlier order conflicts with the replan; the replan decides",
            extra={"before": constraint.before, "after": constraint.after},
        )
    ledger.replace_plan(ports.records, release, plan)
    context = ledger.load_context(ports.records, release)
    pending = pending_components(ports, context)
    for kind in ("failure", "hold", "hotfix-token"):
        ports.records.delete(release, kind)
    for kind, _ in ports.records.list(release, "drain#"):
        ports.records.delete(release, kind)  # drain timers restart with the next round
    ledger.clear_flag(ports.records, release, "frozen")
    return Resumed(release=release, pending=len(pending))


PORTS = ("records",)
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("Resume", ReleaseRef, resume, PORTS)
