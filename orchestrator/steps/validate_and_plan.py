"""ValidateAndPlan: validate the manifest, check it against AWS, plan, store the plan.

Checks that every function, version, alias and queue exists and that each alias is on the declared
``from`` version (an alias elsewhere has drifted: ``AliasDriftError`` naming it and both versions).
A repeat of the same release (same id, same manifest: a redrive or a retried task) compares each
alias with where its ledger says the release left it instead; the same id with another manifest
is refused, so an old ledger can never excuse an alias that moved.
Nothing is changed in AWS; the plan is stored for the other steps (state stays small).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.errors import AliasDriftError, Issue, ManifestError, ResourceMissingError
from orchestrator.model.load import manifest_from_data
from orchestrator.model.steps import PlanOutput, StartInput
from orchestrator.planning import plan_release
from orchestrator.release import ledger
from orchestrator.release.shifting import fmt_weights, same_weights
from orchestrator.step_handler import entrypoint

if TYPE_CHECKING:
    from orchestrator.model.manifest import Manifest
    from orchestrator.ports import Ports


def check_alarms(ports: Ports, manifest: Manifest) -> None:
    """Every alarm a gate watches exists (DescribeAlarms), before any alias moves: a misspelt
    alarm is a manifest mistake, not a version that broke."""
    wanted: dict[str, list[str]] = {}
    for name, comp in manifest.resolved.items():
        for alarm in comp.gates.alarms:
            wanted.setdefault(alarm, []).append(name)
    if not wanted:
        return
    found = ports.metrics.alarm_states(sorted(wanted))
    missing = [
        Issue(
            f"components.{components[0]}.gates.alarms",
            f"alarm {alarm!r} does not exist in CloudWatch (used by "
            f"{', '.join(components)}): fix its name or create it",
        )
        for alarm, components in sorted(wanted.items())
        if alarm not in found
    ]
    if missing:
        raise ManifestError(missing)


def validate_and_plan(event: StartInput, ports: Ports) -> PlanOutput:
    if event.manifest_ref is not None:
        # a manifest over the 256 KiB input: `rollout start` stored it in the ledger first
        event = event.model_copy(
            update={
                "manifest": ledger.load_manifest_ref(
                    ports.records, event.manifest_ref.release, event.manifest_ref.digest
                ),
                "manifest_ref": None,
            }
        )
    manifest = manifest_from_data(event.manifest)
    plan = plan_release(manifest)
    release = manifest.release
    stored = (
        ledger.context_document(ports.records, release)
        if ports.records.get(release, "context") is not None
        else None
    )
    if stored is not None and stored.get("manifest") != event.manifest:
        raise ManifestError(
            [
                Issue(
                    "release",
                    f"release id {release!r} already ran with a different manifest (its ledger is "
                    "in the table): give this release a new id",
                )
            ]
        )
    resolved_from: dict[str, str] = {}
    for name, comp in manifest.resolved.items():
        alias = ports.alias_reads.read(comp.function, comp.alias)
        # a repeat of the same release continues from where its ledger says it left the alias;
        # anything else is drift, whether or not a ledger exists
        started = ledger.get_component(ports.records, release, name).expected if stored else {}
        if started and not same_weights(alias.weights, started):
            raise AliasDriftError(
                f"alias {comp.function_name}:{comp.alias} is on [{fmt_weights(alias.weights)}] "
                f"but release {release} last left it at [{fmt_weights(started)}]: the alias "
                "drifted; see runbooks/alias-drift.md",
                component=name,
            )
        if comp.from_.version is None:
            earlier = (stored or {}).get("resolved_from") or {}
            if started and isinstance(earlier, dict) and name in earlier:
                resolved_from[name] = str(earlier[name])
            elif len(alias.weights) != 1:
                raise AliasDriftError(
                    f"alias {comp.function_name}:{comp.alias} is split "
                    f"[{fmt_weights(alias.weights)}]: finish or undo that shift first, or declare "
                    f"components.{name}.from.version",
                    component=name,
                )
            else:
                resolved_from[name] = alias.version
        elif not started and not same_weights(alias.weights, {comp.from_.version: 100.0}):
            raise AliasDriftError(
                f"alias {comp.function_name}:{comp.alias} is on [{fmt_weights(alias.weights)}] "
                f"but the manifest says components.{name}.from.version is "
                f"{comp.from_.version}: the alias drifted; fix the manifest or the alias",
                component=name,
                version=comp.from_.version,
            )
        for version in {comp.from_.version, comp.to.version} - {None}:
            assert version is not None
            if not ports.alias_reads.version_exists(comp.function, version):
                raise ResourceMissingError(
                    f"{comp.function_name} has no published version {version} "
                    f"(components.{name}): publish it first",
                    resource=f"{comp.function_name}:{version}",
                )
    for qname, queue in manifest.queues.items():
        for url in (queue.url, queue.dlq_url):
            if url is not None and not ports.queues.exists(url):
                raise ResourceMissingError(
                    f"queue {url} (queues.{qname}) does not exist", resource=url
                )
    check_alarms(ports, manifest)
    ledger.save_context(ports.records, release, event.manifest, plan, event.options, resolved_from)
    hotfix_wait = event.options.hotfix_timeout_seconds or manifest.hotfix_timeout_seconds
    return PlanOutput(
        release=release,
        components=sum(len(wave) for wave in plan.waves),
        wave_count=len(plan.waves),
        max_concurrency=manifest.max_concurrency,
        on_failure=manifest.on_failure,
        hotfix_timeout_seconds=hotfix_wait,
        heartbeat_seconds=hotfix_wait,
        hotfix_max_wait_seconds=manifest.hotfix_max_wait(hotfix_wait),
    )


PORTS = ("alias_reads", "metrics", "queues", "records")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("ValidateAndPlan", StartInput, validate_and_plan, PORTS)
