"""Moving an alias safely: the one place that calls ``AliasRouter.set_weights``.

Every move reads the alias first and compares it with what this release last left there (the
ledger; at the start: the ``from`` version at 100%):

* already at the target: nothing to do (re-running a step changes nothing);
* at the state the release left: write the target, passing the revision id;
* anything else: someone else moved it: ``AliasDriftError``, never an overwrite. moto does not check
  revision ids (DESIGN §6), so this comparison is the real guard everywhere.

A frozen release (roll-forward in progress) refuses forward moves; only AssessSafety's proven-safe
pull-backs and the hotfix shift may move aliases then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.errors import AliasDriftError, ReleaseAbortedError, ReleaseFrozenError
from orchestrator.model.steps import AliasMove, MoveAction
from orchestrator.steps import ledger

if TYPE_CHECKING:
    from orchestrator.model.live import AliasState
    from orchestrator.model.steps import ComponentRecord
    from orchestrator.steps.ledger import ReleaseContext
    from orchestrator.steps.runtime import Ports


__all__ = ["ReleaseAbortedError", "ReleaseFrozenError", "move_alias", "target_weights"]


def fmt_weights(weights: dict[str, float]) -> str:
    return ", ".join(f"{v}: {w:g}%" for v, w in sorted(weights.items(), key=lambda i: -i[1]))


def target_weights(base: str, new: str, step: float) -> dict[str, float]:
    """Alias weights (percent) with ``step`` percent on ``new`` and the rest on ``base``."""
    if step >= 100 or base == new:
        return {new: 100.0}
    return {base: round(100.0 - step, 6), new: float(step)}


def expected_state(context: ReleaseContext, record: ComponentRecord) -> dict[str, float]:
    if record.expected:
        return dict(record.expected)
    return {context.from_version(record.component): 100.0}


def check_not_stopped(
    ports: Ports, release: str, raised: dict[str, dict[str, object]] | None = None
) -> None:
    abort = (raised if raised is not None else ledger.flags(ports.records, release)).get("abort")
    if abort is not None:
        raise ReleaseAbortedError(f"release {release} was aborted: {abort.get('reason', '')}")


def move_alias(
    ports: Ports,
    context: ReleaseContext,
    name: str,
    target: dict[str, float],
    *,
    action: MoveAction,
    step: float | None = None,
    allow_frozen: bool = False,
    record: ComponentRecord | None = None,
) -> AliasState:
    """Move component ``name``'s alias to ``target`` weights, or explain why not.

    ``record`` (the component's ledger entry) may be passed by a caller that just wrote it. The
    flags are always read here, right before the move, so a freeze is never missed.
    """
    release = context.manifest.release
    comp = context.component(name)
    if not allow_frozen:
        raised = ledger.flags(ports.records, release)
        check_not_stopped(ports, release, raised)
        if "frozen" in raised:
            raise ReleaseFrozenError(
                f"release {release} is frozen for roll-forward: {name} stays where it is",
                component=name,
            )
    if record is None:
        record = ledger.get_component(ports.records, release, name)
    current = ports.aliases.read(comp.function, comp.alias)
    if current.weights == target:
        if record.expected != target:
            record = record.model_copy(update={"expected": target})
            ledger.put_component(ports.records, release, record)
        return current
    expected = expected_state(context, record)
    if current.weights != expected:
        raise AliasDriftError(
            f"alias {comp.function_name}:{comp.alias} is at [{fmt_weights(current.weights)}] but "
            f"release {release} last left it at [{fmt_weights(expected)}]: someone else changed "
            "it during the release. Nothing was overwritten; see runbooks/alias-drift.md",
            component=name,
        )
    if target.get(current.version, 0.0) >= 50.0:
        primary = current.version  # keep the primary stable while the canary grows
    else:
        primary = max(target.items(), key=lambda item: item[1])[0]
    extra = {v: round(w / 100.0, 6) for v, w in target.items() if v != primary}
    updated = ports.aliases.set_weights(current, primary, extra or None)
    seen = list(dict.fromkeys([*record.versions_seen, *target]))
    ledger.put_component(
        ports.records,
        release,
        record.model_copy(update={"expected": target, "versions_seen": seen}),
    )
    ledger.append_action(
        ports.records,
        release,
        AliasMove(
            at=ports.clock.now(),
            component=name,
            function=comp.function_name,
            alias=comp.alias,
            action=action,
            weights=target,
            previous=current.weights,
            step=step,
        ),
    )
    return updated
