"""ApplyHotfix: check a hotfix against the live mixed state, then start shifting it.

The hotfix names a component and a published version with its reads/writes. It is accepted only if
it names declared queues, is for the component the failure names with a version newer than the one
it replaces (unless ``force``), the version exists, and ``planning.hotfix.check_hotfix`` finds it
compatible with the live state (the component's own base version included), and the rest of the
plan replanned from the live versions; otherwise ``HotfixRejectedError`` says why and the release
keeps waiting. An abort asked for during the wait stops it here.
An accepted hotfix becomes the component's new version and shifts with the same steps and gates:
its first step takes over the broken version's share, so traffic never moves back to an older one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.errors import HotfixRejectedError, Issue, ReleaseStateError
from orchestrator.model.manifest import VersionSpec
from orchestrator.model.steps import ComponentInput, HotfixSpec, ShiftState
from orchestrator.planning.hotfix import check_hotfix, hotfix_base
from orchestrator.release import ledger
from orchestrator.release.live import live_from, observe_live, pending_components
from orchestrator.release.shifting import check_not_stopped, move_alias, target_weights
from orchestrator.release.verify import dlq_depths, start_judge
from orchestrator.step_handler import entrypoint

if TYPE_CHECKING:
    from orchestrator.ports import Ports
    from orchestrator.release.ledger import ReleaseContext


MAX_REJECTIONS = 10
"""Refused hotfixes after which the release stops waiting and fails (the wait loop's bound)."""


def hotfix_problems(
    ports: Ports, context: ReleaseContext, hotfix: HotfixSpec
) -> tuple[VersionSpec | None, list[Issue]]:
    """The hotfix as a version spec, and every reason to refuse it (shared with the CLI)."""
    name = hotfix.component
    if name not in context.manifest.components:
        known = ", ".join(sorted(context.manifest.components))
        return None, [Issue("hotfix.component", f"{name!r} is not in release (known: {known})")]
    try:
        spec = VersionSpec.model_validate(
            {"version": hotfix.version, "reads": hotfix.reads, "writes": hotfix.writes}
        )
    except ValueError as exc:
        return None, [Issue("hotfix", str(exc))]
    comp = context.component(name)
    assert spec.version is not None
    undeclared = [
        Issue(
            f"hotfix.{kind}.{queue}",
            f"{queue!r} is not a queue of release "
            f"{context.manifest.release} (declared: {', '.join(sorted(context.manifest.queues))})",
        )
        for kind, queues in (("reads", spec.reads), ("writes", spec.writes))
        for queue in queues
        if queue not in context.manifest.queues
    ]
    if undeclared:
        return spec, undeclared
    if not hotfix.force:
        refused = scope_problems(ports, context, name, spec.version)
        if refused:
            return spec, refused
    if not ports.alias_reads.version_exists(comp.function, spec.version):
        return spec, [
            Issue(
                "hotfix.version",
                f"{comp.function_name} has no published version {spec.version}: publish it first",
            )
        ]
    if spec.version in context.known_versions(name):
        return spec, [
            Issue(
                "hotfix.version",
                f"{name}@{spec.version} is already part of this release: a hotfix is a new "
                "published version",
            )
        ]
    weights, state = observe_live(ports, context)
    record = ledger.get_component(ports.records, context.manifest.release, name)
    broken = record.version or context.to_version(name)
    return spec, check_hotfix(
        context.manifest,
        state,
        name,
        spec,
        pending_components(ports, context),
        base=hotfix_base(weights[name], broken, spec.version),
        live_from=live_from(ports, context),
    )


def scope_problems(ports: Ports, context: ReleaseContext, name: str, version: str) -> list[Issue]:
    """A hotfix is for the component the failure names, with a version newer than it replaces."""
    release = context.manifest.release
    rollforward = ledger.get_rollforward(ports.records, release)
    wanted = {
        c for c in (rollforward.broken, (rollforward.requirements or {}).get("component")) if c
    }
    if wanted and name not in wanted:
        return [
            Issue(
                "hotfix.component",
                f"the failure names {', '.join(sorted(wanted))}, not {name}: a hotfix of another "
                "component would change what the broken one receives (use --force to insist)",
            )
        ]
    record = ledger.get_component(ports.records, release, name)
    replaced = {record.version or context.to_version(name), ledger.base_version(context, record)}
    newest = max(replaced, key=int)
    if int(version) <= int(newest):
        return [
            Issue(
                "hotfix.version",
                f"{name}@{version} is not newer than {name}@{newest}, which it replaces: publish "
                "a new version (use --force to insist)",
            )
        ]
    return []


def reject(ports: Ports, release: str, hotfix: HotfixSpec, issues: list[Issue]) -> None:
    rollforward = ledger.get_rollforward(ports.records, release)
    text = f"{hotfix.component}@{hotfix.version}: " + "; ".join(i.message for i in issues)
    rejections = [*rollforward.rejections, text]
    ledger.put_rollforward(
        ports.records, release, rollforward.model_copy(update={"rejections": rejections})
    )
    if len(rejections) > MAX_REJECTIONS:
        # the loop ApplyHotfix -> Notify -> WaitForHotfix must end: fail the release instead
        raise ReleaseStateError(
            f"{len(rejections)} hotfixes were refused for release {release}; the last: {text}"
        )
    raise HotfixRejectedError(issues, component=hotfix.component, version=hotfix.version)


def apply_hotfix(event: ComponentInput, ports: Ports) -> ShiftState:
    assert event.hotfix is not None, "ApplyHotfix needs the hotfix handed over"
    hotfix = event.hotfix
    release = event.release
    check_not_stopped(ports, release)  # an abort asked for during the wait is never lost
    context = ledger.load_context(ports.records, release)
    name = hotfix.component
    record = ledger.get_component(ports.records, release, name)
    live = ports.alias_reads.read(context.component(name).function, context.component(name).alias)
    if hotfix.version not in {v.version for v in context.hotfixes.get(name, [])}:
        spec, issues = hotfix_problems(ports, context, hotfix)
        if issues or spec is None:
            reject(ports, release, hotfix, issues)
        assert spec is not None
        ledger.add_hotfix(ports.records, release, name, spec)
        rollforward = ledger.get_rollforward(ports.records, release)
        applied = [
            *rollforward.applied,
            {
                "component": name,
                "version": hotfix.version,
                "at": ports.clock.now().isoformat(),
                "forced": hotfix.force,
            },
        ]
        ledger.put_rollforward(
            ports.records, release, rollforward.model_copy(update={"applied": applied})
        )
        # this round's failure is archived in rollforward.rounds; the hotfix's own gates may
        # record the next one
        ports.records.delete(release, "failure")
        context = ledger.load_context(ports.records, release)
    comp = context.component(name)
    weights = live.weights
    broken = record.version or context.to_version(name)
    new = hotfix.version
    base = hotfix_base(weights, broken, new)
    initial = weights.get(new, 0.0)
    if base != broken and broken in weights:
        initial = max(initial, weights[broken])  # take over the broken version's share
    steps = [s for s in comp.strategy.steps if s > initial]
    if initial > 0:
        steps = [initial, *steps]
    move_alias(
        ports,
        context,
        name,
        target_weights(base, new, steps[0]),
        action="hotfix-shift",
        step=steps[0],
        allow_frozen=True,
    )
    ledger.put_component(
        ports.records,
        release,
        ledger.get_component(ports.records, release, name).model_copy(
            update={"status": "shifting", "version": new}
        ),
    )
    shift = ShiftState(
        step_index=0,
        weight=steps[0],
        bake_seconds=context.scaled(comp.strategy.bake_seconds),
        nominal_bake_seconds=comp.strategy.bake_seconds,
        started_at=ports.clock.now(),
        dlq_baseline=dlq_depths(ports, context, name),
        version=new,
        base_version=base,
        steps=steps,
        hotfix=True,
    )
    return start_judge(context, name, shift)


PORTS = ("aliases", "alias_reads", "leases", "queues", "records", "clock")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("ApplyHotfix", ComponentInput, apply_hotfix, PORTS)
