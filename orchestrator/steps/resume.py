"""Resume: after a hotfix is live, unfreeze and hand RunWaves the rest of the plan.

The plan is recomputed with the hotfix as its component's new version (it must still be feasible:
ApplyHotfix checked), and every component not yet promoted on its target goes again: a pulled-back
canary restarts from its first step, a frozen sibling continues from the step it had reached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import RootModel

from orchestrator.model.steps import ReleaseRef
from orchestrator.planning import plan_release
from orchestrator.steps import ledger
from orchestrator.steps.live import pending_components
from orchestrator.steps.runtime import entrypoint

if TYPE_CHECKING:
    from orchestrator.steps.runtime import Ports


class WaveItems(RootModel[list[dict[str, object]]]):
    pass


def resume(event: ReleaseRef, ports: Ports) -> WaveItems:
    context = ledger.load_context(ports.records, event.release)
    plan = plan_release(context.manifest)
    ledger.replace_plan(ports.records, event.release, plan)
    context = ledger.load_context(ports.records, event.release)
    pending = set(pending_components(ports, context))
    items: list[dict[str, object]] = []
    for index, wave in enumerate(plan.waves):
        names = [n for n in wave if n in pending]
        if names:
            items.append({"wave": index, "components": names})
    ports.records.delete(event.release, "failure")
    ports.records.delete(event.release, "hold")
    ports.records.delete(event.release, "hotfix-token")
    ledger.clear_flag(ports.records, event.release, "frozen")
    return WaveItems(items)


PORTS = ("records",)
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("Resume", ReleaseRef, resume, PORTS)
