"""Dry-run scenarios (DESIGN §7a): how the emulated account behaves while a release runs.

A scenario file says how much traffic each component gets, which component versions misbehave
(a plain error rate, throttles, or failures on one schema of one queue), what is waiting in the
queues when the release starts and how fast it is worked off, and which hotfix versions exist::

    traffic_per_minute: 600
    versions:
      enrich@18: {errors_on: {orders: {"2": 0.5}}}
    queues:
      orders: {backlog: {"1": 200}, drain_per_minute: 1000}
    hotfixes:
      - {component: enrich, version: "19", reads: {orders: [1, 2]}, writes: {enriched: 1}}
    noise: {seed: 7}              # the default is noise on with seed 0; `noise: false`: exact
    operator:                     # on-call actions at simulated seconds after the start
      - {at: 600, do: approve, component: enrich}
      - {at: 900, do: pause}
      - {at: 1500, do: resume}

:func:`load_scenario` checks it against the release manifest and raises
:class:`~orchestrator.errors.ScenarioError` carrying every problem with its path
(``versions.enrich@18.errors_on.orders``). No scenario (``Scenario()``) is a healthy system with
empty queues; an empty scenario *file* is an error (``{}`` says "healthy" on purpose). Schema keys
may be written ``"2"`` or ``2``: digit strings become integers, as in the manifest; a backlog or an
``errors_on`` schema must be one the release declares on that queue.

Everything a dry run seeds is bounded, so that seeding ends in seconds (moto's SQS makes sending
and receiving N messages O(N²); the simulator publishes every version from 1 up to the highest one
needed): at most ``MAX_BACKLOG_PER_QUEUE`` backlog messages per queue and ``MAX_BACKLOG_MESSAGES``
in all, versions up to ``MAX_DRY_RUN_VERSION`` and ``MAX_PUBLISHED_VERSIONS`` published in all
(:func:`dry_run_issues`, which also checks the manifest's own versions).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from orchestrator.errors import InputError, Issue, ScenarioError
from orchestrator.local.live_alias import LiveAlias
from orchestrator.model.issues import pydantic_issues
from orchestrator.model.load import parse_document, read_document
from orchestrator.model.manifest import Manifest, Schema, Version, VersionSpec, schema_sort_key

__all__ = [
    "HotfixBehaviour",
    "Noise",
    "OperatorAction",
    "QueueBehaviour",
    "Scenario",
    "VersionBehaviour",
    "check_dry_run",
    "declared_schemas",
    "dry_run_issues",
    "load_scenario",
    "scenario_from_data",
    "scenario_from_text",
]

VERSION_KEY = re.compile(r"^(?P<component>[^@\s]+)@(?P<version>[^@\s]+)$")

MAX_BACKLOG_PER_QUEUE = 1_000
"""Backlog messages one queue may start with: seeding 1,000 takes about 10 s (500: 3 s)."""
MAX_BACKLOG_MESSAGES = 2_000
"""Backlog messages a scenario may seed in all queues together."""
MAX_DRY_RUN_VERSION = 1_000
"""Highest version number a dry run seeds: it publishes versions 1 to N (about 5 ms each)."""
MAX_PUBLISHED_VERSIONS = 5_000
"""Versions a dry run may publish over all functions (each up to its highest needed version)."""
MAX_RATE = 1_000_000.0
MAX_OPERATOR_SECONDS = 31_536_000.0
"""The latest simulated time an operator action may be given at (a year, as a task token)."""
"""Upper bound of every per-minute rate (traffic, throttles, drain)."""

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Rate = Annotated[float, Field(ge=0.0, le=MAX_RATE)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class VersionBehaviour(_Spec):
    """How one component version behaves; the defaults are a healthy version."""

    error_rate: Fraction = 0.0
    """Fraction of its invocations that fail, whatever they read."""
    throttles_per_minute: Rate = 0.0
    """Throttles per minute at 100% of the traffic (scaled by the version's share)."""
    errors_on: dict[str, dict[Schema, Fraction]] = Field(default_factory=dict)
    """queue -> schema -> fraction of the messages of that schema it fails on."""
    smoke: Literal["pass", "fail"] = "pass"
    """How the version answers a direct smoke invocation (``components.<name>.smoke``): ``pass``
    answers what the manifest's ``smoke.expect`` asks for; ``fail`` raises."""
    contracts: bool = False
    """The version's handler is written with ``orchestrator.contracts``: it publishes per-schema
    message counts (``Rollout/Contracts``), which the dry run writes for it
    (``orchestrator/local/schema_metrics.py``). Off: no per-schema metrics, as before."""

    def schema_failure(self, queue: str, schema: int | str) -> float:
        return self.errors_on.get(queue, {}).get(schema, 0.0)


class QueueBehaviour(_Spec):
    """What waits in a queue when the release starts, and how fast its consumers work it off."""

    backlog: dict[Schema, Annotated[int, Field(ge=0, le=MAX_BACKLOG_PER_QUEUE)]] = Field(
        default_factory=dict
    )
    """schema -> number of messages waiting at the simulated start."""
    drain_per_minute: Rate | None = None
    """Backlog messages worked off per minute; None: the scenario's ``traffic_per_minute``."""
    backlog_age_seconds: float = Field(default=0.0, ge=0.0, le=1_209_600)
    """How long before the simulated start the backlog was enqueued (SQS keeps 14 days)."""


class HotfixBehaviour(_Spec):
    """A hotfix version handed over automatically when the release waits for one."""

    component: str
    version: Version
    reads: dict[str, list[Schema]] = Field(default_factory=dict)
    writes: dict[str, Schema] = Field(default_factory=dict)

    @field_validator("reads")
    @classmethod
    def _reads(cls, reads: dict[str, list[Schema]]) -> dict[str, list[Schema]]:
        """As in the manifest (so that ``as_version_spec`` never fails on a loaded scenario)."""
        for queue, schemas in reads.items():
            if not schemas:
                raise ValueError(
                    f"reads.{queue} is empty: list the schema versions the hotfix reads there, "
                    "or drop the queue if it does not read it"
                )
        return reads

    def as_version_spec(self) -> VersionSpec:
        return VersionSpec(version=self.version, reads=self.reads, writes=self.writes)


class Noise(_Spec):
    """Seeded noise of the simulated CloudWatch figures (``orchestrator/local/noise.py``).

    Written ``noise: {seed: N}``; ``noise: false`` keeps the exact expectations (600/min at 10% for
    60 s is exactly 60 invocations); ``noise: true`` or no ``noise`` at all is seed 0.
    """

    enabled: bool = True
    seed: int = Field(default=0, ge=0, le=2**63 - 1)


def _noise(value: Any) -> Any:
    if isinstance(value, bool):
        return {"enabled": value}
    if value is None:
        return {}
    return value


OperatorDo = Literal["approve", "pause", "resume", "abort"]


class OperatorAction(_Spec):
    """What an on-call engineer does at a simulated time of a dry run (issue 13 item 3):
    ``{at: 600, do: approve, component: enrich}`` runs `rollout approve` 600 simulated seconds
    after the release started, through the same code as the command."""

    at: float = Field(ge=0.0, le=MAX_OPERATOR_SECONDS)
    """Simulated seconds after the release started."""
    do: OperatorDo
    component: str | None = None
    """``approve`` only: the component to approve (default: every waiting one)."""
    reason: str = Field(default="the scenario's operator", max_length=500)


class Scenario(_Spec):
    """A dry-run scenario (DESIGN §7a)."""

    traffic_per_minute: Rate = 600.0
    noise: Annotated[Noise, BeforeValidator(_noise)] = Noise()
    """Invocations Poisson around the traffic, errors binomial per invocation (seeded)."""
    versions: dict[str, VersionBehaviour] = Field(default_factory=dict)
    queues: dict[str, QueueBehaviour] = Field(default_factory=dict)
    hotfixes: list[HotfixBehaviour] = Field(default_factory=list)
    live: dict[str, LiveAlias] = Field(default_factory=dict)
    """The live alias of each ``from: live`` component, and what the ledger remembers of its
    version (``orchestrator/local/live_alias.py``)."""
    operator: list[OperatorAction] | None = None
    """Approvals, pauses, resumes and aborts at simulated times, in order of ``at``. Absent: the
    dry run approves every manual approval at once (and ends a hold as its timeout would);
    given (even ``[]``): only these actions answer, and an approval nobody gives times out in
    simulated time (the component's ``approval_timeout_seconds``), holding the release."""

    def behaviour(self, component: str, version: str) -> VersionBehaviour:
        return self.versions.get(f"{component}@{version}", _HEALTHY)

    def queue(self, name: str) -> QueueBehaviour:
        return self.queues.get(name, _EMPTY_QUEUE)

    def hotfixes_for(self, component: str) -> list[HotfixBehaviour]:
        return [h for h in self.hotfixes if h.component == component]


_HEALTHY = VersionBehaviour()
_EMPTY_QUEUE = QueueBehaviour()


# -- loading -------------------------------------------------------------------------------------


def load_scenario(path: str | Path, manifest: Manifest) -> Scenario:
    """Read and check a scenario file against ``manifest``; ScenarioError with every issue."""
    file = Path(path)
    text = read_document(file, "scenario", ScenarioError)
    return scenario_from_text(text, manifest, source=f"scenario {file}")


def scenario_from_text(text: str, manifest: Manifest, source: str = "scenario") -> Scenario:
    """A scenario file's text, checked against ``manifest``.

    An empty document (nothing, or only comments) is an error, not a healthy system: a dry run
    given ``--scenario`` was asked to play *something*, and an empty file is far more often the
    wrong file or a truncated one than a wish for the defaults. ``{}`` says so on purpose, and no
    ``--scenario`` at all is the healthy default."""
    try:
        data = parse_document(text, source)
    except InputError as exc:  # parse_document speaks of manifests: re-raise as a scenario error
        issues = [Issue(i.path, i.message.replace("manifest", "scenario")) for i in exc.issues]
        raise ScenarioError(issues) from None
    if data is None:
        raise ScenarioError(
            [
                Issue(
                    "",
                    f"{source} is empty: give at least one of traffic_per_minute, versions, "
                    "queues, hotfixes; write `{}` for a healthy system on purpose, or leave out "
                    "--scenario",
                )
            ]
        )
    return scenario_from_data(data, manifest)


def scenario_from_data(data: Any, manifest: Manifest) -> Scenario:
    """Validate parsed data (None is the healthy default scenario: no scenario given)."""
    if data is None:
        issues = dry_run_issues(manifest, Scenario())
        if issues:
            raise ScenarioError(issues)
        return Scenario()
    if not isinstance(data, Mapping):
        raise ScenarioError(
            [
                Issue(
                    "",
                    "a scenario must be a mapping (traffic_per_minute, versions, queues, "
                    f"hotfixes); got a {type(data).__name__}",
                )
            ]
        )
    try:
        scenario = Scenario.model_validate(_string_keys(data))
    except ValidationError as exc:
        raise ScenarioError(pydantic_issues(exc, model_at=_model_at, annotate=_fractions)) from None
    issues = semantic_issues(scenario, manifest)
    if issues:
        raise ScenarioError(issues)
    return scenario


def check_dry_run(manifest: Manifest, scenario: Scenario) -> None:
    """Raise ScenarioError unless a dry run of ``manifest`` under ``scenario`` seeds in bounded
    time (:func:`dry_run_issues`); for callers that build a ``Scenario`` without loading one."""
    issues = dry_run_issues(manifest, scenario)
    if issues:
        raise ScenarioError(issues)


def _string_keys(value: Any) -> Any:
    """Mapping keys as text (YAML reads ``2:`` as an int): an int in an error path is an index."""
    if isinstance(value, Mapping):
        return {str(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_string_keys(v) for v in value]
    return value


_MODELS: dict[str, type[BaseModel]] = {
    "": Scenario,
    "versions.*": VersionBehaviour,
    "queues.*": QueueBehaviour,
    "hotfixes[]": HotfixBehaviour,
    "operator[]": OperatorAction,
}


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    if not loc:
        return Scenario
    if len(loc) == 2 and loc[0] in ("versions", "queues"):
        return _MODELS[f"{loc[0]}.*"]
    if len(loc) == 2 and loc[0] == "hotfixes":
        return HotfixBehaviour
    if len(loc) == 2 and loc[0] == "operator":
        return OperatorAction
    return None


def _fractions(loc: tuple[int | str, ...], kind: str, message: str) -> str:
    bounds = ("greater_than_equal", "less_than_equal", "greater_than", "less_than")
    if kind in bounds and loc[:1] == ("versions",) and ("error_rate" in loc or "errors_on" in loc):
        return message + ": fractions are between 0 and 1"
    if kind == "less_than_equal" and loc[:1] == ("queues",) and "backlog" in loc:
        return message + ": " + _BACKLOG_WHY
    if kind == "finite_number":
        return message + ": give a finite number"
    return message


_BACKLOG_WHY = (
    f"a dry run seeds at most {MAX_BACKLOG_PER_QUEUE:,} backlog messages per queue and "
    f"{MAX_BACKLOG_MESSAGES:,} in all (the emulated SQS takes seconds per thousand, and time grows "
    "with the square of the count); a few hundred show a drain as well"
)


def _hint(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    listed = ", ".join(known) if known else "none"
    return (f"did you mean {close[0]!r}? " if close else "") + f"known: {listed}"


def semantic_issues(scenario: Scenario, manifest: Manifest) -> list[Issue]:
    """Rules that need the manifest: known components, queues and schemas, and the dry-run
    bounds (errors)."""
    return _check(scenario, manifest)[0] + dry_run_issues(manifest, scenario)


def declared_schemas(
    manifest: Manifest, scenario: Scenario | None = None
) -> dict[str, set[Schema]]:
    """queue -> every schema a version of the release (or a scenario hotfix) reads or writes."""
    declared: dict[str, set[Schema]] = {queue: set() for queue in manifest.queues}
    specs: list[VersionSpec | HotfixBehaviour] = [
        v for c in manifest.resolved.values() for v in (c.from_, c.to)
    ]
    specs += scenario.hotfixes if scenario else []
    for spec in specs:
        for queue, schemas in spec.reads.items():
            declared.setdefault(queue, set()).update(schemas)
        for queue, schema in spec.writes.items():
            declared.setdefault(queue, set()).add(schema)
    return declared


def _undeclared_schema(schema: Schema, queue: str, declared: set[Schema]) -> str:
    listed = ", ".join(str(s) for s in sorted(declared, key=schema_sort_key)) or "none"
    return (
        f"schema {schema!r} is not declared on queue {queue!r}: give one that a version of the "
        f"release reads or writes there ({listed}); schemas are integers such as 2, or the "
        "short tokens the manifest declares"
    )


def dry_run_issues(manifest: Manifest, scenario: Scenario) -> list[Issue]:
    """What would make seeding the emulated account explode, with the field and the limit.

    The simulator publishes every version of a function from 1 up to the highest one the release
    needs (``from``, ``to``, the scenario's hotfixes) and sends every backlog message through the
    emulated SQS, whose cost grows with the square of a queue's length."""
    issues: list[Issue] = []
    highest: dict[str, tuple[int, str]] = {}  # function -> (highest version, its path)
    named: list[tuple[str, str, str]] = []  # (function, version, path)
    components = manifest.resolved
    for name, comp in components.items():
        for side, spec in (("from", comp.from_), ("to", comp.to)):
            if spec.version is not None:
                path = f"components.{name}.{side}.version"
                named.append((comp.function_name, spec.version, path))
    for index, hotfix in enumerate(scenario.hotfixes):
        if hotfix.component in components:
            function = components[hotfix.component].function_name
            named.append((function, hotfix.version, f"hotfixes[{index}].version"))
    reported: set[str] = set()
    for function, version, path in named:
        number = int(version)
        if number > MAX_DRY_RUN_VERSION and path not in reported:
            reported.add(path)
            where = "" if path.startswith("hotfixes") else " (in the manifest)"
            issues.append(
                Issue(
                    path,
                    f"version {version}{where} is beyond what a dry run seeds: it publishes every "
                    f"version of {function!r} from 1 up to the highest one named, so versions go "
                    f"up to {MAX_DRY_RUN_VERSION:,}; renumber the versions for the dry run "
                    "(their order is what matters, e.g. 4242 -> 42)",
                )
            )
        if number > highest.get(function, (0, ""))[0]:
            highest[function] = (number, path)
    total = sum(min(number, MAX_DRY_RUN_VERSION) for number, _ in highest.values())
    if total > MAX_PUBLISHED_VERSIONS and not issues:
        _, path = max(highest.values())
        issues.append(
            Issue(
                path,
                f"a dry run of this release would publish {total:,} versions (every version from "
                f"1 up to the highest one named, per function); the limit is "
                f"{MAX_PUBLISHED_VERSIONS:,}: renumber the versions for the dry run (their order "
                "is what matters, e.g. 342 -> 2)",
            )
        )
    seeded = 0
    for queue, behaviour in scenario.queues.items():
        count = sum(behaviour.backlog.values())
        seeded += count
        if count > MAX_BACKLOG_PER_QUEUE:
            issues.append(
                Issue(
                    f"queues.{queue}.backlog",
                    f"{count:,} messages in all: {_BACKLOG_WHY}",
                )
            )
    if seeded > MAX_BACKLOG_MESSAGES:
        issues.append(Issue("queues", f"{seeded:,} backlog messages in all: {_BACKLOG_WHY}"))
    return issues


def scenario_warnings(scenario: Scenario, manifest: Manifest) -> list[Issue]:
    """Behaviours that can never apply (a version the release never runs, failures on a queue the
    version does not read): reported, not refused, so a scenario can be shared between releases."""
    return _check(scenario, manifest)[1]


def _check(scenario: Scenario, manifest: Manifest) -> tuple[list[Issue], list[Issue]]:
    issues: list[Issue] = []
    warnings: list[Issue] = []
    components = manifest.resolved
    names = sorted(components)
    queues = sorted(manifest.queues)
    hotfix_versions: dict[str, set[str]] = {}
    seen_hotfixes: set[tuple[str, str]] = set()
    declared = declared_schemas(manifest, scenario)

    for index, hotfix in enumerate(scenario.hotfixes):
        base = f"hotfixes[{index}]"
        comp = components.get(hotfix.component)
        if comp is None:
            issues.append(
                Issue(
                    f"{base}.component",
                    f"component {hotfix.component!r} is not in the manifest: "
                    + _hint(hotfix.component, names),
                )
            )
            continue
        if hotfix.version in (comp.from_.version, comp.to.version):
            issues.append(
                Issue(
                    f"{base}.version",
                    f"{hotfix.component}@{hotfix.version} is the release's own `from` or `to` "
                    "version: a hotfix is a new published version",
                )
            )
        if (hotfix.component, hotfix.version) in seen_hotfixes:
            issues.append(
                Issue(
                    f"{base}.version",
                    f"hotfix {hotfix.component}@{hotfix.version} is listed twice",
                )
            )
        seen_hotfixes.add((hotfix.component, hotfix.version))
        hotfix_versions.setdefault(hotfix.component, set()).add(hotfix.version)
        for kind, named in (("reads", hotfix.reads), ("writes", hotfix.writes)):
            for queue in named:
                if queue not in manifest.queues:
                    issues.append(
                        Issue(
                            f"{base}.{kind}.{queue}",
                            f"queue {queue!r} is not declared in the manifest: "
                            + _hint(queue, queues),
                        )
                    )

    for key, behaviour in scenario.versions.items():
        base = f"versions.{key}"
        match = VERSION_KEY.match(key)
        if match is None:
            issues.append(
                Issue(base, f"expected `component@version` such as enrich@18, got {key!r}")
            )
            continue
        name, version = match.group("component"), match.group("version")
        comp = components.get(name)
        if comp is None:
            issues.append(
                Issue(base, f"component {name!r} is not in the manifest: " + _hint(name, names))
            )
            continue
        spec: VersionSpec | None = None
        if version == comp.to.version:
            spec = comp.to
        elif version == comp.from_.version:
            spec = comp.from_
        else:
            for hotfix in scenario.hotfixes_for(name):
                if hotfix.version == version:
                    spec = hotfix.as_version_spec()
        if spec is None:
            known_versions = sorted(
                {v for v in (comp.from_.version, comp.to.version) if v is not None}
                | hotfix_versions.get(name, set()),
                key=lambda v: int(v) if v.isdigit() else 0,
            )
            warnings.append(
                Issue(
                    base,
                    f"{name} has no version {version!r} in this release, so this behaviour never "
                    f"applies: give its `from` or `to` version or a hotfix listed under "
                    f"`hotfixes` (known: {', '.join(known_versions) or 'none'})",
                )
            )
            continue
        for queue, failures in behaviour.errors_on.items():
            path = f"{base}.errors_on.{queue}"
            for schema in failures:
                if queue in manifest.queues and schema not in declared.get(queue, set()):
                    issues.append(
                        Issue(
                            f"{path}.{schema}",
                            _undeclared_schema(schema, queue, declared.get(queue, set())),
                        )
                    )
            if queue not in manifest.queues:
                issues.append(
                    Issue(
                        path,
                        f"queue {queue!r} is not declared in the manifest: " + _hint(queue, queues),
                    )
                )
            elif queue not in spec.reads:
                reads = ", ".join(sorted(spec.reads)) or "no queue"
                warnings.append(
                    Issue(
                        path,
                        f"{name}@{version} does not read {queue!r} (it reads {reads}): it can "
                        "only fail on messages of queues it consumes",
                    )
                )

    for index, action in enumerate(scenario.operator or []):
        base = f"operator[{index}]"
        if action.component is not None and action.component not in components:
            issues.append(
                Issue(
                    f"{base}.component",
                    f"component {action.component!r} is not in the manifest: "
                    + _hint(action.component, names),
                )
            )
        elif action.component is not None and action.do != "approve":
            issues.append(
                Issue(
                    f"{base}.component",
                    f"`component` goes with `do: approve` only ({action.do} acts on the whole "
                    "release): drop it",
                )
            )
    for queue, queue_behaviour in scenario.queues.items():
        if queue not in manifest.queues:
            issues.append(
                Issue(
                    f"queues.{queue}",
                    f"queue {queue!r} is not declared in the manifest: " + _hint(queue, queues),
                )
            )
            continue
        for schema in queue_behaviour.backlog:
            if schema not in declared[queue]:
                issues.append(
                    Issue(
                        f"queues.{queue}.backlog.{schema}",
                        _undeclared_schema(schema, queue, declared[queue]),
                    )
                )
    return issues, warnings
