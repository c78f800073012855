"""``from: live`` in a dry run: the scenario's simulated account provides each live alias and
what its ledger remembers of the live version (DESIGN §7a extended)::

    live:
      enrich:                       # a component written `from: live`
        version: "17"               # the alias serves 17 ...
        weights: {"18": 10}         # ... and 18 at 10% (mid-shift: the dry run refuses, exit 2)
        declared: {release: "2026-11-20.1", reads: {orders: [1]}, writes: {enriched: 1}}
                                    # the ledger's last release declaring enrich@17; absent: the
                                    # ledger has no history of it (exit 2)

The same rules as ``rollout start`` apply (``planning.live_from.fill_from_live``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.errors import Issue, ScenarioError
from orchestrator.model.live import AliasState
from orchestrator.model.manifest import Manifest, Schema, Version, VersionSpec
from orchestrator.planning.live_from import Declared, FilledFrom, fill_from_live

__all__ = ["LiveAlias", "fill_from_scenario", "live_section"]

SCENARIO_RELEASE = "an earlier release (the scenario's ledger)"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Declaration(_Spec):
    """What the simulated ledger's last release declared of the live version."""

    release: str = Field(default=SCENARIO_RELEASE, min_length=1, max_length=80)
    reads: dict[str, list[Schema]] = Field(default_factory=dict)
    writes: dict[str, Schema] = Field(default_factory=dict)


class LiveAlias(_Spec):
    """A ``from: live`` component's alias in the simulated account."""

    version: Version
    weights: dict[Version, float] = Field(default_factory=dict)
    """Other versions with weight, in percent (0-100]: a mid-shift alias."""
    declared: Declaration | None = None
    """None: no release in the ledger declared the live version."""


def live_section(data: Any) -> dict[str, LiveAlias]:
    """The ``live`` section of a parsed scenario document, checked (ScenarioError)."""
    raw = data.get("live") if isinstance(data, Mapping) else None
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ScenarioError([Issue("live", "expected a mapping: component -> {version, ...}")])
    out: dict[str, LiveAlias] = {}
    issues: list[Issue] = []
    for name, value in raw.items():
        try:
            out[str(name)] = LiveAlias.model_validate(value)
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(p) for p in error["loc"])
                issues.append(Issue(f"live.{name}" + (f".{where}" if where else ""), error["msg"]))
    if issues:
        raise ScenarioError(issues)
    return out


def fill_from_scenario(
    data: Mapping[str, Any], manifest: Manifest, live: Mapping[str, LiveAlias]
) -> tuple[dict[str, Any], list[FilledFrom]]:
    """``fill_from_live`` on the scenario's simulated account (InputError / ScenarioError)."""
    missing = [name for name in manifest.live_from if name not in live]
    if missing:
        raise ScenarioError(
            [
                Issue(
                    f"live.{name}",
                    f"component {name} is written `from: live`, but the scenario's simulated "
                    f'account has no alias for it: add `live: {{{name}: {{version: "...", '
                    "declared: {reads: ..., writes: ...}}}` to the scenario",
                )
                for name in missing
            ]
        )
    aliases: dict[str, AliasState] = {}
    declared: dict[str, Declared | None] = {}
    for name in manifest.live_from:
        comp = manifest.component(name)
        state = live[name]
        aliases[name] = AliasState(
            function=comp.function_name,
            alias=comp.alias,
            version=state.version,
            extra={v: w / 100.0 for v, w in state.weights.items() if w > 0},
        )
        spec = state.declared
        declared[name] = (
            None
            if spec is None
            else Declared(
                spec.release,
                VersionSpec(version=state.version, reads=spec.reads, writes=spec.writes),
            )
        )
    return fill_from_live(data, manifest, aliases, declared)
