"""The live mixed state of a release, as the roll-forward path and the CLI see it.

Built from the aliases as they are now (never from which Map iterations claim to have finished,
DESIGN §6), every version this release ever made live (the ledger), the drains it proved, and the
reads/writes of every version it knows (``from``, ``to``, hotfixes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.model.steps import ComponentRecord
from orchestrator.planning.safety import LiveState, live_state
from orchestrator.release import ledger

if TYPE_CHECKING:
    from orchestrator.model.manifest import VersionSpec
    from orchestrator.ports import Ports
    from orchestrator.release.ledger import ReleaseContext


def alias_weights(ports: Ports, context: ReleaseContext) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, comp in context.manifest.resolved.items():
        out[name] = ports.alias_reads.read(comp.function, comp.alias).weights
    return out


def observe_live(
    ports: Ports, context: ReleaseContext
) -> tuple[dict[str, dict[str, float]], LiveState]:
    release = context.manifest.release
    weights = alias_weights(ports, context)
    records = ledger.all_components(ports.records, release)
    ever = {name: record.versions_seen for name, record in records.items()}
    drained: dict[str, list[int | str]] = {}
    for kind, _ in ports.records.list(release, "drained#"):
        _, queue, schema = kind.split("#", 2)
        drained.setdefault(queue, []).append(int(schema) if schema.isdigit() else schema)
    extra = {name: context.known_versions(name) for name in context.manifest.resolved}
    state = live_state(
        context.original,
        weights,
        extra_versions=extra,
        ever_live=ever,
        drained=drained,
    )
    return weights, state


def live_from(ports: Ports, context: ReleaseContext) -> dict[str, VersionSpec]:
    """Per component, the spec of the version it stands on (last promoted, else ``from``)."""
    records = ledger.all_components(ports.records, context.manifest.release)
    out: dict[str, VersionSpec] = {}
    for name in context.manifest.resolved:
        record = records.get(name) or ComponentRecord(component=name)
        version = ledger.base_version(context, record)
        spec = context.known_versions(name).get(version)
        if spec is not None:
            out[name] = spec.model_copy(update={"version": version})
    return out


def pending_components(ports: Ports, context: ReleaseContext) -> list[str]:
    """Components the plan still has to shift (not promoted on their current target)."""
    records = ledger.all_components(ports.records, context.manifest.release)
    out = []
    for wave in context.plan.waves:
        for name in wave:
            record = records.get(name)
            if (
                record is None
                or record.status != "promoted"
                or record.version != context.to_version(name)
            ):
                out.append(name)
    return out
