"""``from: live`` (DESIGN §3 extended): fill a component's ``from`` from what is live (pure).

A component written ``from: live`` starts from the version its alias serves now, with the reads
and writes that version was declared with in the component's last release in the ledger. The
caller reads both (``release/live_from.py`` through the ports for ``rollout start``, the scenario's
simulated account for ``rollout dry-run``); this module only decides:

* an alias that gives weight to two versions is mid-shift (a release, or a person, is moving it):
  no single ``from`` exists, so the release refuses to start;
* a live version no release in the ledger declared (published by hand, or the ledger is new)
  has no known reads/writes: the release refuses to start rather than guess;
* otherwise ``from`` becomes ``{version, reads, writes}`` in the manifest document, and a
  :class:`FilledFrom` says where each part came from (the plan shows it).

Every refusal is an :class:`~orchestrator.errors.InputError` (exit 2, nothing changed) with one
issue per component, naming the fix.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import InputError, Issue
from orchestrator.model.live import AliasState
from orchestrator.model.manifest import Manifest, VersionSpec

__all__ = ["Declared", "FilledFrom", "fill_from_live"]


@dataclass(frozen=True)
class Declared:
    """What a past release declared of one version: the release id and the version's spec."""

    release: str
    spec: VersionSpec


@dataclass(frozen=True)
class FilledFrom:
    """How one ``from: live`` component was filled."""

    component: str
    function: str
    alias: str
    version: str
    release: str
    """The release whose declarations of ``version`` were taken."""
    spec: VersionSpec

    def contract(self) -> dict[str, Any]:
        """The ``from_live`` entry of the plan's JSON."""
        return {
            "version": self.version,
            "alias": f"{self.function}:{self.alias}",
            "declared_in": self.release,
            "reads": {q: list(s) for q, s in self.spec.reads.items()},
            "writes": dict(self.spec.writes),
        }

    def line(self) -> str:
        """One line of the plan's text."""
        return (
            f"{self.component}: from live: version {self.version} "
            f"(alias {self.function}:{self.alias} at 100%), reads/writes as declared in "
            f"release {self.release}"
        )


def _mid_shift(name: str, alias: AliasState) -> Issue:
    weights = ", ".join(f"{v}: {w:g}%" for v, w in sorted(alias.weights.items()))
    return Issue(
        f"components.{name}.from",
        f"`from: live` needs one live version, but alias {alias.function}:{alias.alias} is "
        f"mid-shift ({weights}): let the release moving it finish (`rollout status`), or move "
        "the alias to one version, or give `from: {version: ..., reads: ..., writes: ...}`",
    )


def _no_history(name: str, alias: AliasState) -> Issue:
    return Issue(
        f"components.{name}.from",
        f"`from: live`: alias {alias.function}:{alias.alias} serves version {alias.version}, "
        f"but no release in the ledger declared {name}@{alias.version}, so what it reads and "
        f'writes is unknown: give `from: {{version: "{alias.version}", reads: ..., writes: ...}}`',
    )


def fill_from_live(
    data: Mapping[str, Any],
    manifest: Manifest,
    aliases: Mapping[str, AliasState],
    declared: Mapping[str, Declared | None],
) -> tuple[dict[str, Any], list[FilledFrom]]:
    """The manifest document with every ``from: live`` replaced by the live version and its
    declarations, and how each was filled. ``aliases``: each such component's alias as read
    now; ``declared``: the ledger's last declaration of the live version (None: none).

    Raises InputError (one issue per component that cannot be filled) and changes nothing."""
    issues: list[Issue] = []
    filled: list[FilledFrom] = []
    for name in manifest.live_from:
        alias = aliases[name]
        if len(alias.weights) != 1:
            issues.append(_mid_shift(name, alias))
            continue
        version = next(iter(alias.weights))
        found = declared.get(name)
        if found is None:
            issues.append(_no_history(name, alias))
            continue
        spec = VersionSpec(version=version, reads=found.spec.reads, writes=found.spec.writes)
        filled.append(FilledFrom(name, alias.function, alias.alias, version, found.release, spec))
    if issues:
        raise InputError(issues)
    out = copy.deepcopy(dict(data))
    for fill in filled:
        out["components"][fill.component]["from"] = fill.spec.model_dump(
            mode="json", exclude_none=True
        )
    return out, filled
