"""Replanning the rest of a release after a roll-forward round (pure).

After a hotfix (or a hold), the rest of the release is planned again from where every component
stands now (``planning.hotfix.live_manifest``: each component's ``from`` is the version it was
last promoted on). That plan knows only declarations, and a broken version's declaration is
exactly what the round proved wrong: enrich@18 declared it reads orders [1, 2] and failed on
schema 2. So what the first plan ordered among the components still to shift stays ordered
(enrich before ingest, consumer first), and the first plan's drains that are not proven yet still
guard their consumers; only where keeping an old order would make a cycle with a new one does the
new plan decide alone (the new declarations are the newer facts).
"""

from __future__ import annotations

from collections.abc import Iterable

from orchestrator.model.plan import Constraint, Drain, Plan
from orchestrator.planning.graph import longest_path_layers


def keep_order(
    live: Plan, earlier: Iterable[Constraint], drains: Iterable[Drain] = ()
) -> tuple[Plan, list[Constraint]]:
    """``live`` with the ``earlier`` constraints whose two sides ``live`` still shifts, and the
    extra ``drains``. Returns the plan and the earlier constraints it could not keep (a cycle)."""
    changed = [name for wave in live.waves for name in wave]
    members = set(changed)
    kept = {(c.before, c.after, c.queue): c for c in live.constraints}
    dropped: list[Constraint] = []
    successors: dict[str, set[str]] = {name: set() for name in changed}
    for before, after, _ in kept:
        successors[before].add(after)
    for constraint in earlier:
        key = (constraint.before, constraint.after, constraint.queue)
        if key in kept or not {constraint.before, constraint.after} <= members:
            continue
        trial = {name: set(s) for name, s in successors.items()}
        trial[constraint.before].add(constraint.after)
        if longest_path_layers(changed, trial) is None:
            dropped.append(constraint)
            continue
        successors = trial
        kept[key] = constraint
    layers = longest_path_layers(changed, successors)
    assert layers is not None  # every constraint added kept the graph acyclic
    planned = {(d.queue, d.schema_) for d in live.drains}
    extra = [d for d in drains if (d.queue, d.schema_) not in planned]
    plan = live.model_copy(
        update={
            "waves": layers,
            "constraints": [kept[key] for key in sorted(kept)],
            "drains": [*live.drains, *extra],
        }
    )
    return plan, dropped
