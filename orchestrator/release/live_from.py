"""``from: live`` read from the account: each component's alias (the ``AliasRouter`` port) and
the ledger's last release that declared its live version (``ReleaseCatalog`` + ``RecordStore``).

Only reads. ``planning.live_from.fill_from_live`` decides what the figures mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.errors import ReleaseStateError
from orchestrator.model.live import AliasState
from orchestrator.model.manifest import Manifest
from orchestrator.planning.live_from import Declared, FilledFrom, fill_from_live
from orchestrator.release import ledger
from orchestrator.release.history import history

if TYPE_CHECKING:
    from orchestrator.ports import AliasReader, RecordStore, ReleaseCatalog

__all__ = ["fill_from_account", "last_declared"]


def last_declared(
    catalog: ReleaseCatalog, records: RecordStore, component: str, version: str
) -> Declared | None:
    """The reads/writes of ``component@version`` as the latest release that knew them declared
    them (its ``from``, ``to`` or an accepted hotfix); None when no stored release did."""
    for summary in history(catalog, records, component=component, limit=None):
        try:
            known = ledger.load_context(records, summary.release).known_versions(component)
        except (ReleaseStateError, ValueError, KeyError, TypeError, AssertionError):
            continue  # a stored plan that does not load tells nothing
        spec = known.get(version)
        if spec is not None:
            return Declared(summary.release, spec)
    return None


def fill_from_account(
    data: Mapping[str, Any],
    manifest: Manifest,
    aliases: AliasReader,
    catalog: ReleaseCatalog,
    records: RecordStore,
) -> tuple[dict[str, Any], list[FilledFrom]]:
    """``fill_from_live`` on what the account says now (raises InputError, exit 2)."""
    states: dict[str, AliasState] = {}
    declared: dict[str, Declared | None] = {}
    for name in manifest.live_from:
        comp = manifest.component(name)
        state = aliases.read(comp.function_name, comp.alias)
        states[name] = state
        weights = state.weights
        declared[name] = (
            last_declared(catalog, records, name, next(iter(weights)))
            if len(weights) == 1
            else None
        )
    return fill_from_live(data, manifest, states, declared)
