"""The release manifest (DESIGN §3): pydantic v2 models and their field-level rules.

Structural rules (types, formats, ranges) live on the models so that pydantic reports all of them at
once with their location; cross-field rules (queues declared, functions unique, ...) live in
``orchestrator.model.load`` and are reported together with the path they concern. A component may
override any part of ``defaults``; ``Manifest.component(name)`` returns the merged view.
"""

from __future__ import annotations

import itertools
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

RELEASE_ID = re.compile(r"^[A-Za-z0-9._-]{1,80}$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FUNCTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:(?P<name>[A-Za-z0-9_-]{1,64})$"
)
LIVE = "live"
"""``from: live``: the component's ``from`` is filled from its live alias and the ledger's last
release when the release starts (``rollout start`` / ``rollout dry-run``; DESIGN §3 extended)."""
ALIAS_NAME = re.compile(r"^(?!\d+$)[A-Za-z0-9_-]{1,128}$")
PUBLISHED_VERSION = re.compile(r"^[1-9]\d{0,9}$")
SCHEMA_TOKEN = re.compile(r"^[A-Za-z0-9._-]{1,32}$")

DEFAULT_STEPS: tuple[float, ...] = (10.0, 50.0, 100.0)
DEFAULT_BAKE_SECONDS = 300
MAX_TASK_TIMEOUT_SECONDS = 31_536_000  # a task token can wait at most one year
DEFAULT_HOTFIX_MAX_WAIT_SECONDS = 7 * 86_400
"""How long `rollout hotfix --extend` may keep a hotfix wait open in all, by default: a week."""


def _version(value: Any) -> str:
    """A published Lambda version number: ``"43"`` (``43`` is accepted and kept as text)."""
    if isinstance(value, bool) or value is None:
        raise ValueError('expected a published version number such as "43"')
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError('expected a published version number such as "43"')
    text = value.strip()
    if text.upper() == "$LATEST":
        raise ValueError(
            "$LATEST is not allowed: publish a version (aws lambda publish-version) "
            "and give its number"
        )
    if not text:
        raise ValueError('must not be empty: give a published version number such as "43"')
    if not PUBLISHED_VERSION.match(text):
        raise ValueError(
            f"{text!r} is not a published version number: aliases and names are not allowed, "
            'give the number that publish-version returned, such as "43"'
        )
    return text


def _schema(value: Any) -> int | str:
    """A schema version: an integer (``2``, or ``"2"`` normalised to ``2``) or a short token."""
    if isinstance(value, bool) or value is None:
        raise ValueError("expected a schema version such as 2")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("schema versions must not be negative")
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        if SCHEMA_TOKEN.match(text):
            return text
    raise ValueError('expected a schema version such as 2 (a number or a short token like "v2")')


Version = Annotated[str, BeforeValidator(_version)]
Schema = Annotated[int | str, BeforeValidator(_schema)]


def schema_sort_key(schema: int | str) -> tuple[int, int, str]:
    """Numbers first in numeric order, then tokens: used wherever schemas are listed."""
    return (0, schema, "") if isinstance(schema, int) else (1, 0, schema)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class PauseStep(_Spec):
    """A strategy step that is a manual approval: ``{pause: true}`` between two traffic steps
    waits for ``rollout approve`` before the alias moves to the step after it."""

    pause: Literal[True]


def _step_item(value: Any) -> Any:
    """A strategy step: a traffic percentage, or a pause ``{pause: true}`` (one clear error for
    anything else, instead of one per member of the union)."""
    if isinstance(value, PauseStep):
        return value
    if isinstance(value, dict):
        if set(value) == {"pause"} and value["pause"] is True:
            return PauseStep(pause=True)
        raise ValueError(
            f"{value!r} is not a step: a step is a traffic percentage such as 50, or a manual "
            "approval written {pause: true}"
        )
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(
            f"{value!r} is not a step: a step is a traffic percentage such as 50, or a manual "
            "approval written {pause: true}"
        )
    return float(value)


StepItem = Annotated[float | PauseStep, BeforeValidator(_step_item)]


class StrategySpec(_Spec):
    """How the alias moves: traffic steps in percent of the new version, and a bake after each.

    A step may be a pause (``steps: [10, {pause: true}, 50, 100]``): the move to the traffic step
    after it waits for ``rollout approve``. ``approve_before: [50]`` says the same. An approval
    not given within ``approval_timeout_seconds`` holds the release (never a rollback)."""

    steps: list[StepItem] | None = None
    bake_seconds: int | None = Field(default=None, ge=0, le=86_400)
    approve_before: list[float] | None = None
    """Traffic steps whose move waits for ``rollout approve`` (each must be one of ``steps``)."""
    approval_timeout_seconds: int | None = Field(default=None, gt=0, le=MAX_TASK_TIMEOUT_SECONDS)
    """How long a manual approval (or a ``rollout pause``) waits before the release holds."""

    @field_validator("steps")
    @classmethod
    def _steps(cls, steps: list[float | PauseStep] | None) -> list[float | PauseStep] | None:
        if steps is None:
            return None
        numbers = [s for s in steps if not isinstance(s, PauseStep)]
        if not numbers:
            raise ValueError("give at least one step, ending at 100, e.g. [10, 50, 100]")
        for index, (here, after) in enumerate(itertools.pairwise([*steps, None])):
            if isinstance(here, PauseStep) and not isinstance(after, float | int):
                where = "last" if after is None else "followed by another pause"
                raise ValueError(
                    f"steps[{index}] is a pause {where}: a pause holds the move to the traffic "
                    "step after it, so put it before a step, e.g. [10, {pause: true}, 50, 100]"
                )
        for step in numbers:
            if not 0 < step <= 100:
                raise ValueError(f"step {step:g} is out of range: every step must be in (0, 100]")
        for before, after in itertools.pairwise(numbers):
            if after <= before:
                raise ValueError(
                    f"steps must be strictly increasing, but {after:g} follows {before:g}"
                )
        if numbers[-1] != 100:
            raise ValueError(f"the last step must be 100 (the full cutover), not {numbers[-1]:g}")
        return steps

    @field_validator("approve_before")
    @classmethod
    def _approve_before(cls, steps: list[float] | None) -> list[float] | None:
        if steps is None:
            return None
        for step in steps:
            if not 0 < step <= 100:
                raise ValueError(
                    f"approve_before {step:g} is out of range: name traffic steps of `steps`, "
                    "in (0, 100], e.g. approve_before: [50]"
                )
        return sorted(set(steps))

    def traffic_steps(self) -> list[float] | None:
        """The traffic steps without the pauses."""
        if self.steps is None:
            return None
        return [float(s) for s in self.steps if not isinstance(s, PauseStep)]

    def paused_steps(self) -> list[float]:
        """The traffic steps a ``{pause: true}`` comes right before."""
        out: list[float] = []
        for here, after in itertools.pairwise(self.steps or []):
            if isinstance(here, PauseStep) and not isinstance(after, PauseStep):
                out.append(float(after))
        return out


DEFAULT_APPROVAL_TIMEOUT_SECONDS = 86_400
"""How long a manual approval waits by default (a day) before the release holds."""


InsufficientData = Literal["inconclusive", "ok", "failed"]
"""How a gate treats an alarm in ``INSUFFICIENT_DATA``: not PASSED by default."""

AlarmName = Annotated[str, Field(min_length=1, max_length=255)]


class AlarmSpec(_Spec):
    """An alarm a gate watches: ``ALARM`` fails the step; ``INSUFFICIENT_DATA`` is configurable.

    Written as a plain name (``"orders-5xx"``) it takes the defaults. ``insufficient_data``:
    ``inconclusive`` (default: the step re-bakes, then holds), ``ok`` (an alarm that is usually
    silent), ``failed`` (no data is itself a failure).
    """

    name: AlarmName
    insufficient_data: InsufficientData = "inconclusive"


def _alarm(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


JudgeName = Literal["threshold", "sequential"]


class GatesSpec(_Spec):
    """Thresholds the new version's CloudWatch metrics must meet after every step."""

    max_error_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    max_throttles: int | None = Field(default=None, ge=0)
    min_invocations: int | None = Field(default=None, ge=1)
    """At least one invocation always: a version that ran zero times cannot pass."""
    alarms: list[Annotated[AlarmSpec, BeforeValidator(_alarm)]] | None = None
    max_dlq_growth: int | None = Field(default=None, ge=0)
    max_queue_age_seconds: float | None = Field(default=None, gt=0)
    max_inconclusive: int | None = Field(default=None, ge=0, le=20)
    max_errors: int | None = Field(default=None, ge=0, le=20)
    judge: JudgeName | None = None
    """``sequential`` (the default: the new version's error rate against the old one's behind
    the same alias, anytime-valid, ``docs/judge.md``) or ``threshold`` (each bake's error rate
    against ``max_error_rate``)."""
    false_alarm_rate: float | None = Field(default=None, gt=0.0, lt=1.0)
    """The sequential judge's false-alarm budget for the whole release, split across its checks."""
    tolerance: float | None = Field(default=None, ge=0.0, le=10.0)
    """The sequential judge fails a new version whose error rate exceeds ``1 + tolerance`` times
    the old version's."""
    early_pass: bool | None = None
    """The sequential judge may end a bake early when the evidence is conclusive (default on)."""
    absolute_tolerance: float | None = None
    """The absolute part of the early pass's margin (default 0.001, 0.1 percentage point): a
    step may end early once the new version's error rate is conclusively at most ``(1 +
    tolerance) x`` the old one's ``+ absolute_tolerance`` (``docs/judge.md``)."""

    @field_validator("absolute_tolerance")
    @classmethod
    def _absolute_tolerance(cls, value: float | None) -> float | None:
        if value is not None and not 0.0 <= value <= 0.1:
            raise ValueError(
                f"absolute_tolerance is an error rate added to the margin, a fraction between 0 "
                f"and 0.1 (0.001 = 0.1 percentage point), got {value}"
            )
        return value


class DefaultsSpec(_Spec):
    alias: str | None = None
    strategy: StrategySpec = StrategySpec()
    gates: GatesSpec = GatesSpec()

    @field_validator("alias")
    @classmethod
    def _alias(cls, alias: str | None) -> str | None:
        return _check_alias(alias)


def _check_alias(alias: str | None) -> str | None:
    if alias is None:
        return None
    if alias.upper() == "$LATEST" or not ALIAS_NAME.match(alias):
        raise ValueError(
            f"{alias!r} is not a valid alias name: letters, digits, - and _, not only digits, "
            "not $LATEST (for example: live)"
        )
    return alias


class QueueSpec(_Spec):
    url: str
    dlq_url: str | None = None
    drain_timeout_seconds: int = Field(default=1800, gt=0, le=MAX_TASK_TIMEOUT_SECONDS)
    drain_poll_seconds: int = Field(default=60, gt=0, le=3600)

    @field_validator("url", "dlq_url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        if not re.match(r"^https?://[^\s/]+/.+", url):
            raise ValueError(
                "expected a queue URL such as https://sqs.eu-west-2.amazonaws.com/111122223333/orders"
            )
        return url

    @property
    def name(self) -> str:
        return queue_name_from_url(self.url)


def queue_name_from_url(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


class VersionSpec(_Spec):
    """One version of a component and the schemas it reads and writes, per queue."""

    version: Version | None = None
    reads: dict[str, list[Schema]] = Field(default_factory=dict)
    writes: dict[str, Schema] = Field(default_factory=dict)

    @field_validator("reads")
    @classmethod
    def _reads(cls, reads: dict[str, list[int | str]]) -> dict[str, list[int | str]]:
        for queue, schemas in reads.items():
            if not schemas:
                raise ValueError(
                    f"reads.{queue} is empty: list the schema versions this version accepts, "
                    "or drop the queue if it does not read it"
                )
        return {q: sorted(set(s), key=schema_sort_key) for q, s in reads.items()}

    def read_set(self, queue: str) -> frozenset[int | str] | None:
        """Schemas this version accepts on ``queue``; None when it does not consume it."""
        schemas = self.reads.get(queue)
        return None if schemas is None else frozenset(schemas)


class SmokeExpect(_Spec):
    """What a smoke invocation must answer; every field is optional."""

    status: int = Field(default=200, ge=100, le=599)
    """The Invoke API's ``StatusCode`` (200: the function ran synchronously)."""
    error: bool = False
    """Whether the function may raise (``FunctionError``); by default it must return."""
    payload: Any = None
    """A JSON value the response must contain: a mapping matches when each of its keys matches
    (extra keys in the response are allowed), a list element by element, anything else by
    equality. Omitted: any response payload passes."""


class SmokeSpec(_Spec):
    """A pre-traffic smoke test: invoke the new version directly (by its version qualifier, so the
    alias, and its traffic, are not involved) before the alias gives it any weight.

    ``payload`` is the event, inline (any JSON value). A failure is a FAILED verdict of the 0%
    step: the release rolls forward as for any failed gate, with nothing to pull back."""

    payload: Any = Field(default_factory=dict)
    expect: SmokeExpect = SmokeExpect()

    @field_validator("payload")
    @classmethod
    def _payload(cls, payload: Any) -> Any:
        import json

        try:
            size = len(json.dumps(payload))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"the smoke payload must be JSON data: {exc}") from None
        if size > MAX_SMOKE_PAYLOAD_CHARS:
            raise ValueError(
                f"the smoke payload is {size} characters of JSON; at most "
                f"{MAX_SMOKE_PAYLOAD_CHARS} are stored with the release: send a smaller event"
            )
        return payload


MAX_SMOKE_PAYLOAD_CHARS = 32_768
"""The manifest is stored with the release (and passed in the execution input)."""

Delivery = Literal["alias", "per-version"]
"""How a component's queues reach its versions (DESIGN §4, delivery).

``alias`` (default): the SQS event source mapping targets the function or the alias, so every
version behind the alias receives every queue the component reads in any version; a version that
omits such a queue reads no schema of it. ``per-version``: each version has its own mappings (or
they are created/removed outside the release), so a version that omits a queue never receives it.
"""


class ComponentSpec(_Spec):
    function: str
    alias: str | None = None
    delivery: Delivery = "alias"
    strategy: StrategySpec = StrategySpec()
    gates: GatesSpec = GatesSpec()
    from_: VersionSpec = Field(alias="from")
    to: VersionSpec | None = None
    smoke: SmokeSpec | None = None
    """A pre-traffic smoke test of the version each shift of this component moves to, run by
    PrepareShift before the first weight."""
    from_live: bool = Field(default=False, exclude=True)
    """Written ``from: live`` (instead of the mapping): ``from`` stays empty until the live alias
    and the ledger fill it (``planning/live_from.py``); nothing plans such a manifest before."""

    @model_validator(mode="before")
    @classmethod
    def _from_live(cls, data: Any) -> Any:
        if isinstance(data, dict) and "from_live" in data:
            raise ValueError("unknown field `from_live`: write `from: live`")
        if isinstance(data, dict) and data.get("from") == LIVE:
            return {**data, "from": {}, "from_live": True}
        return data

    @field_validator("function")
    @classmethod
    def _function(cls, function: str) -> str:
        if FUNCTION_NAME.match(function) or FUNCTION_ARN.match(function):
            return function
        if function.startswith("arn:") and re.search(r":function:[^:]+:[^:]+$", function):
            raise ValueError(
                "give the function ARN without a qualifier: the alias goes in `alias`, "
                "the versions in `from`/`to`"
            )
        raise ValueError(
            "expected a Lambda function name (letters, digits, - and _) or an unqualified "
            "function ARN such as arn:aws:lambda:eu-west-2:111122223333:function:ingest"
        )

    @field_validator("alias")
    @classmethod
    def _alias(cls, alias: str | None) -> str | None:
        return _check_alias(alias)


class Strategy(_Spec):
    steps: tuple[float, ...]
    bake_seconds: int
    approve_before: tuple[float, ...] = ()
    """Traffic steps whose move waits for ``rollout approve`` (from ``approve_before`` and the
    ``{pause: true}`` steps)."""
    approval_timeout_seconds: int = DEFAULT_APPROVAL_TIMEOUT_SECONDS


class Gates(_Spec):
    max_error_rate: float = 0.01
    max_throttles: int = 0
    min_invocations: int = Field(default=20, ge=1)
    alarms: tuple[str, ...] = ()
    insufficient_data: dict[str, InsufficientData] = Field(default_factory=dict)
    """alarm name -> how ``INSUFFICIENT_DATA`` counts (absent: ``inconclusive``)."""
    max_dlq_growth: int = 0
    max_queue_age_seconds: float | None = None
    max_inconclusive: int = 2
    max_errors: int = 2
    judge: JudgeName = "sequential"
    """``sequential`` (``planning/judge.py``, ``docs/judge.md``) or ``threshold``."""
    false_alarm_rate: float = Field(default=0.01, gt=0.0, lt=1.0)
    """The sequential judge's budget for the whole release, split across its checks."""
    tolerance: float = Field(default=0.25, ge=0.0, le=10.0)
    early_pass: bool = True
    absolute_tolerance: float = Field(default=0.001, ge=0.0, le=0.1)
    """The early pass's margin: ``(1 + tolerance) x old rate + absolute_tolerance``."""


class Component(_Spec):
    """A component with the defaults merged in: what the planner and the steps work with."""

    name: str
    function: str
    alias: str
    strategy: Strategy
    gates: Gates
    from_: VersionSpec = Field(alias="from")
    to: VersionSpec
    declared_unchanged: bool = False
    delivery: Delivery = "alias"
    smoke: SmokeSpec | None = None

    @property
    def function_name(self) -> str:
        match = FUNCTION_ARN.match(self.function)
        return match.group("name") if match else self.function

    @property
    def unchanged(self) -> bool:
        """Old and new are the same code: the component is checked but never shifted."""
        if self.declared_unchanged:
            return True
        return self.from_.version is not None and self.from_.version == self.to.version


class Manifest(_Spec):
    release: str
    defaults: DefaultsSpec = DefaultsSpec()
    queues: dict[str, QueueSpec] = Field(default_factory=dict)
    components: dict[str, ComponentSpec]
    on_failure: Literal["roll-forward", "halt"] = "roll-forward"
    hotfix_timeout_seconds: int = Field(default=86_400, gt=0, le=MAX_TASK_TIMEOUT_SECONDS)
    hotfix_max_wait_seconds: int | None = Field(default=None, gt=0, le=MAX_TASK_TIMEOUT_SECONDS)
    """How long a hotfix wait (or a hold) may be kept open in all with ``rollout hotfix --extend``
    (its TimeoutSeconds); each extension keeps it open ``hotfix_timeout_seconds`` more. Default:
    ``DEFAULT_HOTFIX_MAX_WAIT_SECONDS``, and never less than ``hotfix_timeout_seconds``."""
    max_concurrency: int = Field(default=10, ge=1, le=1000)

    _resolved: dict[str, Component] = PrivateAttr(default_factory=dict)

    @field_validator("release")
    @classmethod
    def _release(cls, release: str) -> str:
        if not RELEASE_ID.match(release):
            raise ValueError(
                "the release id names the execution: 1-80 characters of letters, digits, "
                "'.', '_' and '-', for example 2026-11-28.1"
            )
        return release

    @field_validator("components")
    @classmethod
    def _components(cls, components: dict[str, ComponentSpec]) -> dict[str, ComponentSpec]:
        if not components:
            raise ValueError("a release needs at least one component")
        bad = [name for name in components if not NAME.match(name)]
        if bad:
            raise ValueError(
                f"invalid component name(s) {', '.join(map(repr, bad))}: use 1-64 letters, "
                "digits, '.', '_' or '-', starting with a letter or digit"
            )
        return components

    @field_validator("queues")
    @classmethod
    def _queues(cls, queues: dict[str, QueueSpec]) -> dict[str, QueueSpec]:
        bad = [name for name in queues if not NAME.match(name)]
        if bad:
            raise ValueError(
                f"invalid queue name(s) {', '.join(map(repr, bad))}: use 1-64 letters, "
                "digits, '.', '_' or '-'"
            )
        return queues

    def model_post_init(self, __context: Any) -> None:
        self._resolved = {name: self._merge(name, spec) for name, spec in self.components.items()}

    def _merge(self, name: str, spec: ComponentSpec) -> Component:
        d = self.defaults
        own, shared = spec.strategy, d.strategy
        written = own if own.steps is not None else shared
        steps = written.traffic_steps() or list(DEFAULT_STEPS)
        approve = set(written.paused_steps())
        approve.update(
            own.approve_before if own.approve_before is not None else shared.approve_before or []
        )
        approval_timeout = own.approval_timeout_seconds or shared.approval_timeout_seconds
        bake = spec.strategy.bake_seconds
        if bake is None:
            bake = d.strategy.bake_seconds
        gate_values: dict[str, Any] = {}
        for field in GatesSpec.model_fields:
            value = getattr(spec.gates, field)
            if value is None:
                value = getattr(d.gates, field)
            if value is None:
                continue
            if field == "alarms":
                gate_values["alarms"] = tuple(a.name for a in value)
                gate_values["insufficient_data"] = {a.name: a.insufficient_data for a in value}
            else:
                gate_values[field] = value
        return Component(
            name=name,
            function=spec.function,
            alias=spec.alias or d.alias or "live",
            strategy=Strategy(
                steps=tuple(steps),
                bake_seconds=DEFAULT_BAKE_SECONDS if bake is None else bake,
                approve_before=tuple(sorted(s for s in approve if s in steps)),
                approval_timeout_seconds=approval_timeout or DEFAULT_APPROVAL_TIMEOUT_SECONDS,
            ),
            gates=Gates(**gate_values),
            **{"from": spec.from_},
            to=spec.to if spec.to is not None else spec.from_,
            declared_unchanged=spec.to is None,
            delivery=spec.delivery,
            smoke=spec.smoke,
        )

    def component(self, name: str) -> Component:
        return self._resolved[name]

    def hotfix_max_wait(self, wait: int | None = None) -> int:
        """The hotfix wait's TimeoutSeconds: ``hotfix_max_wait_seconds`` (or the default), at
        least the wait one heartbeat keeps open (``wait``, default ``hotfix_timeout_seconds``)."""
        beat = wait or self.hotfix_timeout_seconds
        cap = self.hotfix_max_wait_seconds or max(DEFAULT_HOTFIX_MAX_WAIT_SECONDS, beat)
        return min(MAX_TASK_TIMEOUT_SECONDS, max(cap, beat))

    @property
    def live_from(self) -> list[str]:
        """The components written ``from: live``, in manifest order (not filled yet)."""
        return [name for name, spec in self.components.items() if spec.from_live]

    @property
    def resolved(self) -> dict[str, Component]:
        """Every component with defaults merged, in manifest order."""
        return dict(self._resolved)
