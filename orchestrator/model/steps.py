"""Inputs and outputs of the state machine's tasks, and the records they keep.

The execution state stays small (release id, component names, a shift cursor) so a release of
hundreds of components stays far below Step Functions' 256 KB payload limit: the manifest and plan
are stored once by ValidateAndPlan (``ReleaseContext``) and every step loads them by release id.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RunOptions(_Model):
    """How the execution runs: ``time_scale`` multiplies every Wait (0 in a dry run)."""

    time_scale: float = Field(default=1.0, ge=0.0, le=10.0)
    dry_run: bool = False
    max_hotfix_rounds: int = Field(default=3, ge=1, le=20)
    hotfix_timeout_seconds: int | None = Field(default=None, ge=1)
    """Overrides the manifest's wait for a hotfix (a dry run does not wait a day)."""


class ManifestRef(_Model):
    """A manifest too large for the execution input, stored in the ledger first."""

    release: str
    digest: str


class StartInput(_Model):
    """The execution input: the manifest (as data, or a reference to the copy in the ledger,
    for a release whose manifest exceeds the 256 KiB input) and run options."""

    manifest: dict[str, Any] = Field(default_factory=dict)
    manifest_ref: ManifestRef | None = None
    options: RunOptions = RunOptions()

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, data: Any) -> Any:
        """The state machine passes the whole execution input as ``start``."""
        if isinstance(data, dict) and set(data) == {"start"} and isinstance(data["start"], dict):
            return data["start"]
        return data

    @model_validator(mode="after")
    def _one_manifest(self) -> StartInput:
        if not self.manifest and self.manifest_ref is None:
            raise ValueError("the execution input needs `manifest` (or `manifest_ref`)")
        return self


class ReleaseRef(_Model):
    release: str


class PlanOutput(_Model):
    """What ValidateAndPlan leaves in ``$.plan``: a few figures, whatever the release's size
    (the plan itself is in the ledger; the state must not grow with the components)."""

    release: str
    components: int
    """How many components the plan shifts (their names stay in the ledger)."""
    wave_count: int
    max_concurrency: int
    on_failure: str
    hotfix_timeout_seconds: int
    heartbeat_seconds: int
    """HeartbeatSeconds of the hotfix wait and the hold: ``hotfix_timeout_seconds`` (each
    `rollout hotfix --extend` is a heartbeat that restarts it)."""
    hotfix_max_wait_seconds: int = 0
    """TimeoutSeconds of those waits: the cap no heartbeat passes (``hotfix_max_wait_seconds``)."""


class WaveInput(ReleaseRef):
    wave: int
    components: list[str] = Field(default_factory=list)
    drain: DrainState | None = None


class DrainState(_Model):
    done: bool
    poll_seconds: int
    nominal_poll_seconds: int = 0
    started_at: datetime
    polls: int = 0
    pending: list[str] = Field(default_factory=list)


class Phase(StrEnum):
    """A closed verdict: a failed read is ERROR, not FAILED."""

    PASSED = "PASSED"
    FAILED = "FAILED"
    INCONCLUSIVE = "INCONCLUSIVE"
    ERROR = "ERROR"


class Verdict(_Model):
    phase: Phase
    component: str
    version: str
    step: float
    reasons: list[str] = Field(default_factory=list)
    values: dict[str, float] = Field(default_factory=dict)
    broken: str | None = None
    """The component whose metrics broke the gate (a downstream consumer, or ``component``)."""
    at: datetime | None = None
    evidence: list[dict[str, Any]] = Field(default_factory=list)
    """The sequential judge's evidence, one entry per check (the version, then each downstream
    consumer): counts of both sides, ratio, interval, e-values and a ``text`` line for people."""
    early: bool = False
    """The sequential judge decided before the bake's end (early pass or early fail)."""


class JudgeCursor(_Model):
    """The sequential judge's evidence of one shift, carried from look to look and step to step
    (``planning/judge.JudgeState.to_dict`` per check); ``ShiftState.judge``."""

    own: dict[str, Any] = Field(default_factory=dict)
    downstream: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Downstream consumer -> its check, against its own figures before the shift began."""
    baselines_read: bool = False
    shift_started_at: datetime
    step_started_at: datetime
    judged_until: datetime | None = None
    """The end of the last whole minute judged: every minute is judged once."""
    bake_seconds: int
    """The step's nominal bake; ``ShiftState.nominal_bake_seconds`` is the current look."""
    baked_seconds: int = 0
    """Nominal seconds of the current bake already looked at."""
    inconclusive: int = 0
    """Whole bakes of this step that ended without enough invocations (re-bakes)."""
    errors: int = 0
    """Looks in a row whose metrics could not be read."""


class ShiftState(_Model):
    """The cursor of one component's shift, carried between Bake and Advance."""

    step_index: int
    weight: float
    bake_seconds: int
    nominal_bake_seconds: int
    started_at: datetime
    done: bool = False
    inconclusive: int = 0
    errors: int = 0
    dlq_baseline: dict[str, int] = Field(default_factory=dict)
    version: str
    """The version being shifted to (the manifest's ``to``, or a hotfix version)."""
    base_version: str
    """The version that keeps the rest of the traffic while the canary grows."""
    steps: list[float]
    hotfix: bool = False
    judge: JudgeCursor | None = None
    """The sequential judge's cursor (``gates.judge: sequential``); None: the threshold rule."""
    gate: Literal["", "approval", "pause", "drain"] = ""
    """What holds the move to ``steps[step_index + 1]`` (``release/approvals.py``): ``approval``
    (the child waits on a task token for `rollout approve`), ``pause`` (it polls until `rollout
    resume`), ``drain`` (before the first weight only: a drain guarding the component is not
    proven, the child runs DrainQueues), or nothing. ``step_index`` -1: the first move
    (PrepareShift's) waits."""
    approval_timeout_seconds: int = 0
    """The approval wait's TimeoutSeconds on the engine (the strategy's, unless time is scaled)."""
    nominal_approval_timeout_seconds: int = 0
    poll_seconds: int = 0
    """How long a paused child waits before it looks again (scaled; ``nominal_poll_seconds``)."""
    nominal_poll_seconds: int = 0


class ShiftRef(ReleaseRef):
    """A child execution's component and roll-forward round."""

    component: str
    round: int = 0


class DrainInput(ShiftRef):
    drain: DrainState | None = None


class FinishInput(ShiftRef):
    shift: ShiftState | None = None
    """The cursor of the last Advance: the version FinishShift promotes (None: the planned one)."""


class ComponentInput(ReleaseRef):
    component: str
    wave: int = 0
    round: int | None = None
    """The child execution's round; None for the parent's own hotfix shift (never stale)."""
    shift: ShiftState | None = None
    hotfix: HotfixSpec | None = None


class HotfixSpec(_Model):
    component: str
    version: str
    reads: dict[str, list[int | str]] = Field(default_factory=dict)
    writes: dict[str, int | str] = Field(default_factory=dict)
    force: bool = False
    """Accept a hotfix of a component the failure does not name, or a version that is not newer
    than the one it replaces (the compatibility checks still apply; the report shows it)."""


MoveAction = Literal["shift", "promote", "pull-back", "hotfix-shift", "hotfix-promote"]


class AliasMove(_Model):
    """One alias change the release made: the ledger of actions, in order."""

    at: datetime
    component: str
    function: str
    alias: str
    action: MoveAction
    weights: dict[str, float]
    previous: dict[str, float]
    step: float | None = None


class ComponentRecord(_Model):
    """What this release last did to a component's alias (the ledger entry)."""

    component: str
    expected: dict[str, float] = Field(default_factory=dict)
    """The weights this release last left on the alias (empty: not touched yet)."""
    status: Literal["pending", "shifting", "promoted", "held", "pulled-back", "frozen"] = "pending"
    version: str = ""
    promoted_at: datetime | None = None
    verdicts: list[Verdict] = Field(default_factory=list)
    versions_seen: list[str] = Field(default_factory=list)
    """Every version that had weight on the alias while this release moved it (old ones too)."""
    moves: int = 0
    """How many alias moves of this component the ledger has recorded (the next action's key)."""
    promoted: list[str] = Field(default_factory=list)
    """The versions Promote confirmed on this alias, in order (the last one is the base every
    later shift starts from; the earlier ones, and ``from``, never get weight again)."""
    execution: str | None = None
    """The name of the child execution that shifts this component (its latest round)."""
    round: int = 0
    shift_started_at: datetime | None = None
    """When this component's latest shift set its first weight (PrepareShift)."""
    shift_finished_at: datetime | None = None
    """When it was promoted and its child finished (FinishShift)."""


class RollForwardRecord(_Model):
    """The roll-forward state of a release (record ``rollforward``): the failure being handled,
    what was pulled back or held, what a hotfix must satisfy, and the history of rounds."""

    round: int = 0
    kind: str = ""
    """``gate`` (a hotfix can fix it), ``halt`` or ``aborted``."""
    can_hotfix: bool = False
    trigger: str | None = None
    """The component whose shift failed its gate."""
    broken: str | None = None
    """The component that broke (a downstream consumer, or the trigger itself)."""
    reasons: list[str] = Field(default_factory=list)
    decisions: list[dict[str, Any]] = Field(default_factory=list)
    requirements: dict[str, Any] | None = None
    since: datetime | None = None
    failure: dict[str, Any] | None = None
    hold: dict[str, Any] | None = None
    """The gate that could not judge, when the release is held (kind ``hold``)."""
    applied: list[dict[str, Any]] = Field(default_factory=list)
    rejections: list[str] = Field(default_factory=list)
    rounds: list[dict[str, Any]] = Field(default_factory=list)


WaveInput.model_rebuild()
DrainInput.model_rebuild()
ComponentInput.model_rebuild()
