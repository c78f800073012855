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
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from orchestrator.errors import InputError, Issue, ReleaseNotFoundError
from orchestrator.local.engine import EmbeddedEngine
from orchestrator.local.runner import (
    DEFAULT_LAMBDA_PORT,
    ExecutionResult,
    LocalDeployment,
    RemoteStepFunctions,
)
from orchestrator.local.scenario import Scenario
from orchestrator.local.simulator import SimClock, Simulator
from orchestrator.model.manifest import Manifest
from orchestrator.model.steps import HotfixSpec
from orchestrator.operations import hand_over_hotfix, waiting_token
from orchestrator.steps import ledger

HOTFIX_WAIT_SECONDS = 120
"""Real seconds a dry run waits for a hotfix when the scenario has one (handed over at once)."""

EXECUTION_NAME_LIMIT = 80
"""Step Functions' limit on an execution name."""

Progress = Callable[[dict[str, Any]], None]

NO_HOTFIX_ERROR = "NoHotfixInScenario"
NO_RESUME_ERROR = "NoResumeInDryRun"
"""How a dry run ends a hold (the gate could not judge): as the real one would at its timeout."""
"""How a dry run ends a hotfix wait that its scenario cannot answer (instead of waiting it out)."""


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
                }
                for name, c in report.get("final", {}).items()
            },
            "actions": report.get("actions", []),
            "events": self.execution.events,
            "transitions": self.execution.transitions,
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
            "engine": self.engine,
            "wall_seconds": round(self.wall_seconds, 3),
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
    ) -> None:
        """``remote``: run the state machine on that Step Functions endpoint, serving the step
        handlers to it from here (see the module's docstring); default: on ``engine``."""
        self.manifest = manifest
        self.manifest_data = manifest_data
        self.scenario = scenario or Scenario()
        self.time_scale = time_scale
        self._own_engine = engine is None
        self.engine = engine or EmbeddedEngine()
        self.clock = SimClock()
        self.simulator: Simulator | None = None
        self.deployment: LocalDeployment | None = None
        self._metric_calls_before = 0
        self._handed: list[dict[str, Any]] = []
        self.auto_hotfix = auto_hotfix
        self.hotfix_timeout_seconds = hotfix_timeout_seconds
        self._started = 0.0
        self._calls_before: dict[str, int] = {}
        self.remote = remote
        self._execution_arn: str | None = None

    def __enter__(self) -> DryRun:
        self.setup()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def setup(self) -> None:
        if self.remote is not None:
            self.remote.check()  # before anything starts here: exit 3 at once
        try:
            if not self.engine.running:
                self.engine.start()
            self.simulator = Simulator(self.manifest, self.scenario, self.engine.client, self.clock)
            self.simulator.seed_account()
            self.deployment = LocalDeployment(
                self.engine,
                clock=self.clock,
                before_step=self.simulator.before_step,
                on_alias_move=self.simulator.watch_alias_moves(),
                remote=self.remote,
            )
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
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
            wait = HOTFIX_WAIT_SECONDS if self.scenario.hotfixes and self.auto_hotfix else 1
        return {"time_scale": self.time_scale, "dry_run": True, "hotfix_timeout_seconds": wait}

    def hand_over_pending_hotfix(self) -> None:
        """If the release waits, hand over the scenario's next hotfix for the broken component."""
        assert self.deployment is not None and self.simulator is not None
        ports = self.deployment.ports
        release = self.manifest.release
        parked = waiting_token(ports, release)
        if parked is None:
            return
        if parked.get("purpose") == "resume":
            # held: nobody will resume a dry run; it ends as the real release would at its
            # timeout: HALTED, with the hold in the report
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
        hand_over_hotfix(ports, self.deployment.sfn, release, spec, check=False)
        self._handed.append(spec.model_dump(mode="json"))

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
        self._execution_arn = self.deployment.start(
            self.manifest_data, self.options(), name=self.execution_name()
        )
        return self._execution_arn

    def finish(
        self, execution_arn: str, timeout: float = 300.0, on_progress: Progress | None = None
    ) -> DryRunResult:
        """Follow a started release to its end, handing scenario hotfixes over when it waits."""
        assert self.deployment is not None and self.simulator is not None

        def poll() -> None:
            if self.auto_hotfix:
                self.hand_over_pending_hotfix()
            if on_progress is not None:
                on_progress(self.snapshot())

        execution = self.deployment.wait(execution_arn, timeout=timeout, on_poll=poll)
        report = execution.report or {}
        invocations = {
            name: count - self._calls_before.get(name, 0)
            for name, count in sorted(self.deployment.invocations.items())
            if count - self._calls_before.get(name, 0) > 0
        }
        return DryRunResult(
            release=self.manifest.release,
            status=str(report.get("status") or "FAILED"),
            report=report,
            execution=execution,
            wall_seconds=time.monotonic() - self._started,
            lambda_invocations=invocations,
            metric_queries=self.deployment.metric_calls - self._metric_calls_before,
            messages=self.simulator.message_ledger(),
            message_mismatches=self.simulator.ledger_mismatches(),
            notifications=self.deployment.notifications(),
            hotfixes_handed_over=list(self._handed),
            engine="embedded" if self.remote is None else self.remote.url,
        )

    def run(self, timeout: float = 300.0, on_progress: Progress | None = None) -> DryRunResult:
        """Start the release and follow it to its end."""
        return self.finish(self.start(), timeout=timeout, on_progress=on_progress)


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


def dump(result: DryRunResult) -> str:
    return json.dumps(result.contract(), indent=2, default=str)
