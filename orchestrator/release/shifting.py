"""Moving an alias safely: the one place that calls ``AliasRouter.set_weights``.

Every move reads the alias first and compares it with what this release last left there (the
ledger; at the start: the ``from`` version at 100%):

* already at the target: nothing to do (re-running a step changes nothing);
* at the state the release left: write the target, passing the revision id;
* anything else: someone else moved it: ``AliasDriftError``, never an overwrite. moto does not check
  revision ids (DESIGN §6), so this comparison is the real guard everywhere.

A frozen release (roll-forward in progress) refuses forward moves; only AssessSafety's proven-safe
pull-backs and the hotfix shift may move aliases then. An aborted release refuses every move but a
proven-safe pull-back. Every move renews the release's lease first and fails closed when another
release holds it, and no move ever gives weight to a version that a promotion superseded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.errors import (
    AliasDriftError,
    BackwardsMoveError,
    LeaseLostError,
    LockConflictError,
    ReleaseAbortedError,
    ReleaseFrozenError,
)
from orchestrator.model.steps import AliasMove, MoveAction
from orchestrator.release import ledger
from orchestrator.release.leases import lease_key, lease_ttl
from orchestrator.release.ledger import base_version, superseded_versions

if TYPE_CHECKING:
    from orchestrator.model.live import AliasState
    from orchestrator.model.steps import ComponentRecord
    from orchestrator.ports import Ports
    from orchestrator.release.ledger import ReleaseContext


__all__ = [
    "ReleaseAbortedError",
    "ReleaseFrozenError",
    "hold_lease",
    "move_alias",
    "renew_leases",
    "same_weights",
    "target_weights",
]


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


def hold_lease(ports: Ports, context: ReleaseContext, name: str) -> None:
    """Renew this release's lease on ``name``'s alias, or fail closed.

    A lease that expired and that nobody took is taken again (nothing else moved the alias: the
    drift check guards that); a lease another release holds now stops this one
    (``LeaseLostError``) before any alias moves.
    """
    release = context.manifest.release
    comp = context.component(name)
    key = lease_key(comp)
    now = ports.clock.now()
    holder = ports.leases.holder(key, now)
    if holder is not None and holder != release:
        raise LeaseLostError(
            f"release {release} lost its lease on {key} to {holder}: nothing was moved; "
            "see runbooks/lock-left-behind.md",
            component=name,
        )
    try:
        ports.leases.acquire(key, release, lease_ttl(context), now)
    except LockConflictError as exc:
        raise LeaseLostError(str(exc), component=name) from None


def renew_leases(ports: Ports, context: ReleaseContext) -> None:
    """Renew every lease of the release (long waits: drains, hotfix and resume waits)."""
    names = {n for wave in context.plan.waves for n in wave} | set(context.hotfixes)
    for name in sorted(names):
        hold_lease(ports, context, name)


def check_not_backwards(
    context: ReleaseContext, record: ComponentRecord, target: dict[str, float]
) -> None:
    """A promotion is one-way: no version it superseded gets weight again (DESIGN §4)."""
    old = sorted(
        v for v, w in target.items() if w > 0 and v in superseded_versions(context, record)
    )
    if old:
        name = record.component
        raise BackwardsMoveError(
            f"refusing to give {name}@{', '.join(old)} weight again: {name} was promoted to "
            f"{base_version(context, record)} after it, and a promoted alias never moves "
            f"backwards (target [{fmt_weights(target)}])",
            component=name,
            version=old[0],
        )


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

    Before any move: an abort stops everything but a proven-safe pull-back; a freeze stops
    everything but the roll-forward path's own moves (``allow_frozen``); the lease is renewed or
    the move fails closed; a version a promotion superseded never gets weight again; and the
    alias must be where this release left it. ``record`` (the component's ledger entry) may be
    passed by a caller that just wrote it. The flags are always read here, right before the move.
    """
    release = context.manifest.release
    comp = context.component(name)
    raised = ledger.flags(ports.records, release)
    if action != "pull-back":
        check_not_stopped(ports, release, raised)
    if not allow_frozen and "frozen" in raised:
        raise ReleaseFrozenError(
            f"release {release} is frozen for roll-forward: {name} stays where it is",
            component=name,
        )
    if record is None:
        record = ledger.get_component(ports.records, release, name)
    check_not_backwards(context, record, target)
    hold_lease(ports, context, name)
    current = ports.aliases.read(comp.function, comp.alias)
    if same_weights(current.weights, target):
        if record.expected != target:
            # the move happened but its reply (or our ledger write) was lost: record it once
            previous = expected_state(context, record)
            record_move(ports, context, name, action, target, previous, step, record.moves)
            seen = list(dict.fromkeys([*record.versions_seen, *previous, *target]))
            record = record.model_copy(
                update={"expected": target, "versions_seen": seen, "moves": record.moves + 1}
            )
            ledger.put_component(ports.records, release, record)
        return current
    expected = expected_state(context, record)
    if not same_weights(current.weights, expected):
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
    # what was live before the move may still be in the queues: remember it (a one-step shift
    # would otherwise forget the old version's writes)
    # the action first (keyed by the move's index, written once), then the component's entry:
    # a retry after either write finds the alias at its target and completes what is missing
    record_move(ports, context, name, action, target, current.weights, step, record.moves)
    seen = list(dict.fromkeys([*record.versions_seen, *current.weights, *target]))
    ledger.put_component(
        ports.records,
        release,
        record.model_copy(
            update={"expected": target, "versions_seen": seen, "moves": record.moves + 1}
        ),
    )
    return updated


def same_weights(a: dict[str, float], b: dict[str, float]) -> bool:
    """Equal routing, up to what AWS stores (weights are fractions with 6 digits)."""
    keys = {k for k, w in a.items() if w > 0} | {k for k, w in b.items() if w > 0}
    return all(abs(a.get(k, 0.0) - b.get(k, 0.0)) < 1e-3 for k in keys)


def record_move(
    ports: Ports,
    context: ReleaseContext,
    name: str,
    action: MoveAction,
    target: dict[str, float],
    previous: dict[str, float],
    step: float | None,
    index: int,
) -> None:
    comp = context.component(name)
    ledger.append_action(
        ports.records,
        context.manifest.release,
        AliasMove(
            at=ports.clock.now(),
            component=name,
            function=comp.function_name,
            alias=comp.alias,
            action=action,
            weights=target,
            previous=previous,
            step=step,
        ),
        index,
    )
