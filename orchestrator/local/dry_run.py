"""A dry run: the real state machine on the embedded engine against a simulated account.

``DryRun`` starts the embedded engine, seeds the emulated account from the manifest, makes it
behave as the scenario says (``Simulator``: metrics per executed version, backlogs, dead-letter
queues, all in simulated time), deploys the orchestrator (``LocalDeployment``), starts the release
and follows it to its end. When the release waits for a hotfix, the scenario's next hotfix for the
broken component is handed over through the same code path as ``rollout hotfix``, so the whole
roll-forward path runs locally. Waits are compressed by ``time_scale`` (0 by default).

With ``remote=RemoteStepFunctions(url, lambda_port=...)`` (``rollout dry-run --engine URL``) only
the state machine runs elsewhere: it is created (or updated) on the Step Functions endpoint at
``url`` (AWS's Step Functions Local, or ``rollout local serve --lambda-endpoint``), and the
execution is started, polled and read back there. The emulated account, the simulator and the
step handlers stay in this process, on an embedded engine: the handlers answer the remote's Lambda
calls on a Lambda endpoint (``lambda_host:lambda_port``, where its ``LAMBDA_ENDPOINT`` points), so
simulated time and metrics behave exactly as in the embedded dry run. ``WaitForHotfix`` parks its
task token in the local table; the hotfix goes back with ``SendTaskSuccess`` at ``url``. The
execution is named ``<release>-dry-run-<random>`` there, so a long-lived Step Functions Local can
run the same release again; it is stopped when the dry run is closed before it ends.

A dry run never hangs and never ends without a report. ``finish(..., report_interruptions=True)``
(what ``rollout dry-run`` uses) turns the three ways a run can be cut short into a result with
status ``FAILED``, the report so far (live aliases, the moves recorded, verdicts) and
``interrupted`` saying why: ``timeout`` (still running after ``timeout`` real seconds),
``engine-error`` (the embedded engine failed in itself, see
:attr:`~orchestrator.local.engine.EmbeddedEngine.faults`: e.g. a ``Map`` worker died, after which
the execution would wait for ever) and ``engine-stalled`` (the history has ended on a failure
event and not moved for :data:`STALL_SECONDS`, the trace of a worker that died silently). The
execution is stopped first. Without the flag a timeout raises ``TimeoutError`` and an engine
failure :class:`EngineFaultError`, at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from orchestrator.errors import EnvironmentProblemError, InputError, Issue, ReleaseNotFoundError
from orchestrator.local import invoke_hook
from orchestrator.local.engine import EmbeddedEngine, EngineFault
from orchestrator.local.operator import ScenarioOperator
from orchestrator.local.runner import (
    DEFAULT_LAMBDA_PORT,
    ExecutionResult,
    LocalDeployment,
    RemoteStepFunctions,
)
from orchestrator.local.scenario import Scenario
from orchestrator.local.sim_time import SimulatedTime
from orchestrator.local.simulator import SimClock, Simulator
from orchestrator.model.manifest import Manifest
from orchestrator.model.steps import HotfixSpec
from orchestrator.operations import hand_over_hotfix, waiting_token
from orchestrator.planning.capacity import capacity_warnings
from orchestrator.release import ledger

HOTFIX_WAIT_SECONDS = 120
"""Real seconds a dry run waits for a hotfix when the scenario has one (handed over at once)."""

EXECUTION_NAME_LIMIT = 80
"""Step Functions' limit on an execution name."""

Progress = Callable[[dict[str, Any]], None]
Stage = Callable[[str], None]
"""Told what the dry run is doing before the release starts (engine start, seeding, deploy)."""

STALL_SECONDS = 60.0
"""A running execution whose history ends on a failure event that has not moved for this long
is stuck (the engine retries after at most 8 s, and a Catch moves on at once)."""
STALL_POLL_SECONDS = 5.0
"""How often the last history event is read to look for a stall."""

NO_HOTFIX_ERROR = "NoHotfixInScenario"
"""How a dry run ends a hotfix wait that its scenario cannot answer (instead of waiting it out)."""
NO_RESUME_ERROR = "NoResumeInDryRun"
"""How a dry run ends a hold (the gate could not judge): as the real one would at its timeout."""


class EngineFaultError(EnvironmentProblemError):
    """The embedded engine failed in itself (not the release): its execution cannot be trusted
    and may never end. ``interrupted`` is the dry run's account of it."""

    def __init__(self, message: str, interrupted: dict[str, Any]) -> None:
        super().__init__(message)
        self.interrupted = interrupted


class _Interrupt(Exception):
    """Raised from the poll loop to stop following an execution."""

    def __init__(self, interrupted: dict[str, Any]) -> None:
        super().__init__(interrupted["message"])
        self.interrupted = interrupted


@dataclass
class DryRunResult:
    release: str
    status: str
    report: dict[str, Any]
    execution: ExecutionResult
    wall_seconds: float
    lambda_invocations: dict[str, int]
    metric_queries: int
    messages: dict[str, dict[str, int]]
    """Per SQS queue name (DLQs included): ``sent``, ``consumed``, ``queued``, ``dead_lettered``
    (real messages) and ``unreadable`` (deliveries of a schema the receiving version does not
    read, live traffic and backlog alike: 0 unless a scenario breaks a declaration)."""
    notifications: list[dict[str, str]] = field(default_factory=list)
    hotfixes_handed_over: list[dict[str, Any]] = field(default_factory=list)
    engine: str = "embedded"
    """``embedded``, or the URL of the Step Functions endpoint the state machine ran on."""
    message_mismatches: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Queues whose real SQS depth differs from ``messages[q]["queued"]`` at the end: name ->
    (ledger, real). Empty unless a message was lost (or added behind the simulator's back)."""
    setup_seconds: float = 0.0
    """Real seconds of :meth:`DryRun.setup`: engine start (when the dry run owns it), seeding
    the account, deploying the orchestrator."""
    interrupted: dict[str, Any] | None = None
    """Why the dry run stopped following the execution before it ended (``reason``:
    ``timeout``, ``engine-error``, ``engine-stalled``; ``message``; ``after_seconds``), or None."""
    engine_faults: list[str] = field(default_factory=list)
    """What the embedded engine said when it failed in itself during this run (empty normally)."""
    operator: list[dict[str, Any]] = field(default_factory=list)
    """The scenario's on-call actions as they were done (approvals, pauses, resumes, approval
    timeouts), in simulated seconds since the start: ``at``, ``do``, ``component``, ``outcome``."""

    def contract(self) -> dict[str, Any]:
        """The JSON document of DESIGN §7 (`dry-run --format json`), plus figures."""
        report = self.report
        return {
            "release": self.release,
            "status": self.status,
            "final": {
                name: {
                    "version": c["version"],
                    "weights": c["weights"],
                    "status": c["status"],
                    "wave": c.get("wave"),
                    "started_at": c.get("started_at"),
                    "finished_at": c.get("finished_at"),
                }
                for name, c in report.get("final", {}).items()
            },
            "actions": report.get("actions", []),
            "events": self.execution.events,
            "transitions": self.execution.transitions,
            "executions": self.execution.executions,
            "failure": report.get("failure"),
            "hotfixes": report.get("hotfixes", []),
            "verdicts": {
                name: c.get("verdicts", []) for name, c in report.get("final", {}).items()
            },
            "execution": {
                "arn": self.execution.execution_arn,
                "status": self.execution.status,
                "error": self.execution.error,
            },
            "error": report.get("error"),
            "interrupted": self.interrupted,
            "engine_faults": self.engine_faults,
            "operator": self.operator,
            "engine": self.engine,
            "wall_seconds": round(self.wall_seconds, 3),
            "setup_seconds": round(self.setup_seconds, 3),
            "lambda_invocations": self.lambda_invocations,
            "get_metric_data_calls": self.metric_queries,
            "messages": self.messages,
            "notifications": self.notifications,
        }


class DryRun:
    """One dry run of one manifest under one scenario."""

    def __init__(
        self,
        manifest: Manifest,
        manifest_data: dict[str, Any],
        scenario: Scenario | None = None,
        *,
        time_scale: float = 0.0,
        engine: EmbeddedEngine | None = None,
        auto_hotfix: bool = True,
        hotfix_timeout_seconds: int | None = None,
        remote: RemoteStepFunctions | None = None,
        on_stage: Stage | None = None,
    ) -> None:
        """``remote``: run the state machine on that Step Functions endpoint, serving the step
        handlers to it from here (see the module's docstring); default: on ``engine``.
        ``on_stage``: told each stage of :meth:`setup` as it begins (progress before the first
        step runs)."""
        self.manifest = manifest
        self.manifest_data = manifest_data
        self.scenario = scenario or Scenario()
        self.time_scale = time_scale
        self._own_engine = engine is None
        self.engine = engine or EmbeddedEngine()
        self.clock = SimClock()
        self.simulator: Simulator | None = None
        self.timeline: SimulatedTime | None = None
        self.deployment: LocalDeployment | None = None
        self.operator: ScenarioOperator | None = None
        """The scenario's on-call actions (approve, pause, resume) in simulated time."""
        self._metric_calls_before = 0
        self._handed: list[dict[str, Any]] = []
        self.auto_hotfix = auto_hotfix
        self.hotfix_timeout_seconds = hotfix_timeout_seconds
        self._started = 0.0
        self._calls_before: dict[str, int] = {}
        self.remote = remote
        self._execution_arn: str | None = None
        self.on_stage = on_stage
        self.setup_seconds = 0.0

    def __enter__(self) -> DryRun:
        self.setup()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stage(self, what: str) -> None:
        if self.on_stage is not None:
            self.on_stage(what)

    def setup(self) -> None:
        began = time.monotonic()
        if self.remote is not None:
            self._stage(f"checking the Step Functions endpoint at {self.remote.url}")
            self.remote.check()  # before anything starts here: exit 3 at once
        try:
            if not self.engine.running:
                self._stage("starting the embedded engine (moto's ASL interpreter)")
                self.engine.start()
            manifest = self.manifest
            self._stage(
                f"seeding the emulated account: {len(manifest.components)} function(s) and "
                f"{len(manifest.queues)} queue(s) of release {manifest.release}"
            )
            self.simulator = Simulator(self.manifest, self.scenario, self.engine.client, self.clock)
            self.simulator.seed_account()
            # smoke tests invoke component versions directly: the simulator answers them
            invoke_hook.register_simulated_functions(
                self.engine.port, self.simulator.function_handler
            )
            self._stage("deploying the orchestrator (state machine, step functions, table, topic)")
            self.timeline = SimulatedTime(
                self.simulator,
                answers_waits=self.auto_hotfix,
                answers_approvals=self.auto_hotfix and self.scenario.operator is None,
            )
            self.deployment = LocalDeployment(
                self.engine,
                clock=self.clock,
                before_step=self.timeline.before_step,
                after_step=self.timeline.after_step,
                on_child_start=self.timeline.child_started,
                on_answer=self.timeline.answered,
                on_alias_move=self.simulator.watch_alias_moves(),
                remote=self.remote,
            )
            self.operator = ScenarioOperator(
                manifest.release, self.scenario.operator, self.timeline, self.deployment
            )
        except BaseException:
            self.close()
            raise
        self.setup_seconds = time.monotonic() - began

    def close(self) -> None:
        if self.simulator is not None and self.engine.running:
            invoke_hook.unregister_simulated_functions(
                self.engine.port, self.simulator.function_handler
            )
        deployment = self.deployment
        if deployment is not None and deployment.remote is not None:
            self._stop_remote_execution(deployment)
            deployment.close()
        if self._own_engine:
            self.engine.stop()

    def _stop_remote_execution(self, deployment: LocalDeployment) -> None:
        """A remote execution left running (timeout, Ctrl-C) would call a Lambda endpoint that
        is about to go away: stop it."""
        arn = self._execution_arn
        if arn is None:
            return
        with contextlib.suppress(Exception):
            if deployment.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
                deployment.sfn.stop_execution(
                    executionArn=arn, error="DryRunClosed", cause="the dry run ended first"
                )

    def options(self) -> dict[str, Any]:
        wait = self.hotfix_timeout_seconds
        if wait is None:
            resumes = any(a.do == "resume" for a in self.scenario.operator or [])
            hotfixes = bool(self.scenario.hotfixes) and self.auto_hotfix
            wait = HOTFIX_WAIT_SECONDS if hotfixes or resumes else 1
        return {"time_scale": self.time_scale, "dry_run": True, "hotfix_timeout_seconds": wait}

    def hand_over_pending_hotfix(self) -> None:
        """If the release waits, hand over the scenario's next hotfix for the broken component."""
        assert self.deployment is not None and self.simulator is not None
        ports = self.deployment.ports
        release = self.manifest.release
        parked = waiting_token(ports, release)
        if parked is None:
            return
        if parked.get("purpose") == "resume" and self.operator and self.operator.will_resume():
            return  # the scenario's operator resumes it at its simulated time
        if parked.get("purpose") == "resume":
            # held: nobody will resume a dry run; it ends as the real release would at its
            # timeout: HALTED, with the hold in the report
            self._wake_parent()
            self.deployment.sfn.send_task_failure(
                taskToken=str(parked["token"]),
                error=NO_RESUME_ERROR,
                cause="the release is held (its gate could not judge) and a dry run does not "
                "wait for `rollout resume`: a real release would wait hotfix_timeout_seconds, "
                "then halt",
            )
            ports.records.delete(release, "hotfix-token")
            return
        broken = ledger.get_rollforward(ports.records, release).broken or ""
        offered = {h["version"] for h in self._handed if h["component"] == broken}
        hotfix = self.simulator.hotfix_for(broken, exclude=offered)
        if hotfix is None:
            self._give_up_waiting(broken)
            return
        spec = HotfixSpec(
            component=hotfix.component,
            version=hotfix.version,
            reads={q: list(s) for q, s in hotfix.reads.items()},
            writes=dict(hotfix.writes),
        )
        # the rehearsal sends it unchecked, so an incompatible one exercises the rejection path
        self._wake_parent()
        hand_over_hotfix(ports, self.deployment.sfn, release, spec, check=False)
        self._handed.append(spec.model_dump(mode="json"))

    def _parent_ended(self) -> None:
        """The parent ended: children still running (frozen siblings in a bake) stop at their
        next step once the parent no longer holds the simulated clock."""
        if self.timeline is not None:
            self.timeline.parent_ended()

    def _wake_parent(self) -> None:
        if self.timeline is not None:
            self.timeline.answered("")

    def _give_up_waiting(self, broken: str) -> None:
        """No scenario hotfix left for ``broken``: end the wait now, as the real release would end
        at its hotfix timeout (a scenario with no hotfix at all lets the 1 s timeout fire)."""
        assert self.deployment is not None
        if not self.scenario.hotfixes or self.hotfix_timeout_seconds is not None:
            return
        ports = self.deployment.ports
        release = self.manifest.release
        parked = waiting_token(ports, release)
        if parked is None:
            return
        self._wake_parent()
        self.deployment.sfn.send_task_failure(
            taskToken=str(parked["token"]),
            error=NO_HOTFIX_ERROR,
            cause=f"the scenario has no (further) hotfix for {broken}: a real release would "
            "wait hotfix_timeout_seconds for one, then fail",
        )
        ports.records.delete(release, "hotfix-token")

    def snapshot(self) -> dict[str, Any]:
        """Per component: wave, status, weights the release last set, last verdict."""
        assert self.deployment is not None
        ports = self.deployment.ports
        release = self.manifest.release
        try:
            context = ledger.load_context(ports.records, release)
        except ReleaseNotFoundError:  # not planned yet
            return {}
        records = ledger.all_components(ports.records, release)
        out: dict[str, Any] = {}
        for name in context.manifest.resolved:
            record = records.get(name)
            wave = context.plan.wave_of(name)
            out[name] = {
                "wave": None if wave is None else wave + 1,
                "status": record.status if record else ("unchanged" if wave is None else "pending"),
                "weights": record.expected if record and record.expected else {},
                "verdict": record.verdicts[-1].phase.value if record and record.verdicts else None,
            }
        return out

    def execution_name(self) -> str:
        """The release id; on a remote engine with a random suffix (names are used once there)."""
        release = self.manifest.release
        if self.remote is None:
            return release
        suffix = f"-dry-run-{uuid.uuid4().hex[:12]}"
        return release[: EXECUTION_NAME_LIMIT - len(suffix)] + suffix

    def start(self) -> str:
        """Start the release; returns the execution ARN (use ``finish`` to follow it)."""
        assert self.deployment is not None
        self._started = time.monotonic()
        self._calls_before = dict(self.deployment.invocations)
        self._metric_calls_before = self.deployment.metric_calls
        if self.timeline is not None:
            self.timeline.parent_started()
        if self.operator is not None:
            self.operator.start(self.clock.now())
        self._execution_arn = self.deployment.start(
            self.manifest_data, self.options(), name=self.execution_name()
        )
        return self._execution_arn

    def finish(
        self,
        execution_arn: str,
        timeout: float = 300.0,
        on_progress: Progress | None = None,
        *,
        report_interruptions: bool = False,
    ) -> DryRunResult:
        """Follow a started release to its end, handing scenario hotfixes over when it waits.

        An engine failure or a stall ends the wait at once. With ``report_interruptions`` these,
        and a timeout, give a ``FAILED`` result with the report so far and ``interrupted``;
        without it a timeout raises ``TimeoutError`` and the others :class:`EngineFaultError`
        (see the module's docstring). The execution is stopped first either way."""
        assert self.deployment is not None and self.simulator is not None
        deployment = self.deployment
        faults_before = len(self.engine.faults)
        stall = _StallWatch(deployment.sfn, execution_arn)

        def interrupted(reason: str, message: str) -> dict[str, Any]:
            return {
                "reason": reason,
                "message": message,
                "after_seconds": round(time.monotonic() - self._started, 3),
            }

        def poll() -> None:
            faults = self.engine.faults[faults_before:]
            if faults:
                raise _Interrupt(interrupted("engine-error", self._fault_message(faults)))
            stuck = stall.check()
            if stuck:
                raise _Interrupt(interrupted("engine-stalled", self._stall_message(stuck)))
            if self.auto_hotfix:
                self.hand_over_pending_hotfix()
                if self.operator is not None:
                    self.operator.approve_waiting()
            if on_progress is not None:
                on_progress(self.snapshot())

        stopped: dict[str, Any] | None = None
        faults_after = len(self.engine.faults)
        try:
            execution = deployment.wait(
                execution_arn, timeout=timeout, on_poll=poll, on_end=self._parent_ended
            )
            faults_after = len(self.engine.faults)
        except TimeoutError as exc:
            stopped = interrupted(
                "timeout",
                f"the release was still running after {timeout:g} s (the timeout) and was "
                "stopped there: the report shows where it stood",
            )
            # stopping a Map makes moto log an error of its own: not a fault of this run
            faults_after = len(self.engine.faults)
            self._stop_execution(execution_arn, "DryRunTimeout", stopped["message"])
            if not report_interruptions:
                raise TimeoutError(str(exc)) from None
        except _Interrupt as cut:
            stopped = cut.interrupted
            faults_after = len(self.engine.faults)
            self._stop_execution(execution_arn, "EngineError", stopped["message"])
            if not report_interruptions:
                raise EngineFaultError(stopped["message"], stopped) from None
        faults = [f.message for f in self.engine.faults[faults_before:faults_after]]
        if stopped is not None:
            execution = deployment.result(
                execution_arn, deployment.sfn.describe_execution(executionArn=execution_arn)
            )
            if execution.status == "RUNNING" or execution.report is None:
                execution.report = self.report_so_far(stopped)
        if execution.report is not None and "final" not in execution.report:
            # the execution's output is the Report step's summary: the report is in the ledger
            with contextlib.suppress(Exception):
                execution.report = (
                    ledger.load_report(deployment.ports.records, self.manifest.release)
                    or execution.report
                )
        report = execution.report or {}
        status = str(report.get("status") or "FAILED")
        if stopped is not None:  # whatever the execution says, the run did not complete
            status = "FAILED"
            report = {**report, "status": status, "error": _interruption_error(stopped)}
        elif execution.status != "SUCCEEDED" and status in ("SUCCEEDED", "ROLLED_FORWARD"):
            # it reported, then failed (e.g. the Report state's output over 256 KB): on AWS
            # `start --wait` sees the execution FAILED, so does the dry run
            status = "FAILED"
            report = {
                **report,
                "status": status,
                "error": {"Error": execution.error, "Cause": execution.cause},
            }
        invocations = {
            name: count - self._calls_before.get(name, 0)
            for name, count in sorted(deployment.invocations.items())
            if count - self._calls_before.get(name, 0) > 0
        }
        return DryRunResult(
            release=self.manifest.release,
            status=status,
            report=report,
            execution=execution,
            wall_seconds=time.monotonic() - self._started,
            lambda_invocations=invocations,
            metric_queries=deployment.metric_calls - self._metric_calls_before,
            messages=self.simulator.message_ledger(),
            message_mismatches=self.simulator.ledger_mismatches(),
            notifications=deployment.notifications(),
            hotfixes_handed_over=list(self._handed),
            engine="embedded" if self.remote is None else self.remote.url,
            setup_seconds=self.setup_seconds,
            interrupted=stopped,
            engine_faults=faults,
            operator=list(self.operator.log) if self.operator is not None else [],
        )

    def _fault_message(self, faults: list[EngineFault]) -> str:
        said = "; ".join(dict.fromkeys(f.message for f in faults))
        message = (
            "the embedded engine failed in itself, not the release (moto's ASL interpreter: "
            f"{said}); its execution would never end, so it was stopped"
        )
        return message + self._size_hint()

    def _stall_message(self, last: dict[str, Any]) -> str:
        return (
            f"the execution stopped moving: its history has ended on {last.get('type')} (event "
            f"{last.get('id')}) for {STALL_SECONDS:g} s, the trace of an engine worker that died; "
            "it was stopped" + self._size_hint()
        )

    def _size_hint(self) -> str:
        assert self.deployment is not None
        try:
            warnings = capacity_warnings(
                self.manifest,
                ledger.load_context(self.deployment.ports.records, self.manifest.release).plan,
            )
        except Exception:  # not planned yet: no estimate
            return ""
        return "".join(f". {issue.message}" for issue in warnings)

    def _stop_execution(self, execution_arn: str, error: str, cause: str) -> None:
        assert self.deployment is not None
        with contextlib.suppress(Exception):
            self.deployment.sfn.stop_execution(
                executionArn=execution_arn, error=error, cause=cause[:32768]
            )

    def report_so_far(self, interrupted: dict[str, Any]) -> dict[str, Any]:
        """The Report step's document built from the live aliases and the ledger as they stand
        (nothing stored), for a run cut short; a bare one before the release was planned."""
        from orchestrator.steps.report import ReportInput, build_report

        assert self.deployment is not None
        error = _interruption_error(interrupted)
        release = self.manifest.release
        try:
            event = ReportInput(release=release, outcome="failed", error=error)
            document = build_report(event, self.deployment.ports, store=False)
            return document.model_dump(mode="json")
        except Exception:  # not planned yet, or the account unreadable: what is known
            return {
                "release": release,
                "status": "FAILED",
                "final": {},
                "actions": [],
                "error": error,
            }

    def run(
        self,
        timeout: float = 300.0,
        on_progress: Progress | None = None,
        *,
        report_interruptions: bool = False,
    ) -> DryRunResult:
        """Start the release and follow it to its end (see :meth:`finish`)."""
        return self.finish(
            self.start(),
            timeout=timeout,
            on_progress=on_progress,
            report_interruptions=report_interruptions,
        )


def _interruption_error(interrupted: dict[str, Any]) -> dict[str, str]:
    """The report's ``error`` for a run cut short (the shape of an ASL Catch result)."""
    timeout = interrupted["reason"] == "timeout"
    return {
        "Error": "DryRunTimeout" if timeout else "EngineError",
        "Cause": str(interrupted["message"]),
    }


class _StallWatch:
    """Reads the last history event now and then; reports it when the execution has sat on a
    failure event for :data:`STALL_SECONDS` (see the module's docstring)."""

    def __init__(
        self,
        sfn: Any,
        execution_arn: str,
        *,
        stall_seconds: float = STALL_SECONDS,
        every: float = STALL_POLL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sfn = sfn
        self._arn = execution_arn
        self._stall = stall_seconds
        self._every = every
        self._clock = clock
        self._next = clock() + every
        self._last_id: str | None = None
        self._since = clock()

    def check(self) -> dict[str, Any] | None:
        now = self._clock()
        if now < self._next:
            return None
        self._next = now + self._every
        try:
            page = self._sfn.get_execution_history(
                executionArn=self._arn, maxResults=1, reverseOrder=True
            )
        except Exception:  # a failed read is no evidence of a stall
            return None
        events = page.get("events") or []
        if not events:
            return None
        last = events[0]
        event_id = str(last.get("id"))
        if event_id != self._last_id:
            self._last_id, self._since = event_id, now
            return None
        kind = str(last.get("type", ""))
        if not (kind.endswith("Failed") or kind == "MapIterationAborted"):
            return None
        return last if now - self._since >= self._stall else None


def remote_engine(
    engine: str, lambda_port: int | None, lambda_host: str
) -> RemoteStepFunctions | None:
    """`rollout dry-run`'s ``--engine``, ``--lambda-port`` and ``--lambda-host``: None for the
    embedded engine, else where to run the state machine (:class:`InputError` when they do not
    make sense together)."""
    if engine == "embedded":
        if lambda_port is not None:
            raise InputError(
                [Issue("--lambda-port", "only with --engine URL (a Step Functions endpoint)")]
            )
        return None
    parts = urlsplit(engine)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(
            [
                Issue(
                    "--engine",
                    f"{engine!r}: expected `embedded` or the http(s) URL of a Step Functions "
                    "endpoint, e.g. http://localhost:8084 (Step Functions Local)",
                )
            ]
        )
    port = DEFAULT_LAMBDA_PORT if lambda_port is None else lambda_port
    if not 1 <= port <= 65535:
        raise InputError([Issue("--lambda-port", f"{port}: expected a port from 1 to 65535")])
    try:
        engine_port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InputError([Issue("--engine", f"{engine!r}: the port is not a number")]) from None
    if engine_port == port and parts.hostname in ("localhost", "127.0.0.1", "::1", "0.0.0.0"):
        raise InputError(
            [
                Issue(
                    "--lambda-port",
                    f"the engine listens on port {port} of this machine, so the step handlers "
                    "cannot: pass another --lambda-port (e.g. 8085) and point the engine's "
                    "LAMBDA_ENDPOINT at it (Step Functions Local's jar always listens on 8083)",
                )
            ]
        )
    return RemoteStepFunctions(url=engine.rstrip("/"), lambda_port=port, lambda_host=lambda_host)


def command_seconds(began: float) -> float:
    """Real seconds since this process started (what `time rollout ...` shows), or since
    ``began`` (a ``time.monotonic()``) where the process's start time cannot be read."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as uptime:
            now = float(uptime.read().split()[0])
        age = now - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.monotonic() - began
    return max(age, time.monotonic() - began)


def dump(result: DryRunResult) -> str:
    return json.dumps(result.contract(), indent=2, default=str)
