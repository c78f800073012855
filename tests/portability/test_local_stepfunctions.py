"""The state machines mean the same on an independent ASL interpreter (issue 11, portability).

moto's interpreter, the embedded engine's, is a copy of LocalStack's; ``aws-local-stepfunctions``
(npm, pinned in package.json, installed by ``npm ci``) is written independently, so running the
same two definitions on it is the one check here of what the ASL *means*.

The healthy seed release (``examples/seed.yaml`` under ``seed-healthy.yaml``) runs twice from the
same simulated account and clock:

- on the embedded engine, as every dry run does (the reference);
- on aws-local-stepfunctions (``local_sfn_driver.cjs``): the parent and each child execution are
  the package's, every Lambda task is its own AWS SDK call to the step handlers served over HTTP
  by :class:`~orchestrator.local.lambda_endpoint.LambdaEndpoint` (what ``rollout local serve
  --lambda-port`` serves), in front of the same emulated account. The package has no service
  integrations and no task tokens, and nothing in it starts executions, so this test is the Step
  Functions service around it: StartShifts' and FinishShift's ``StartExecution`` (the ``shifts``
  port) run the child definition there, and the children's ``SendTaskSuccess`` (the
  ``callbacks`` port) is relayed to the parent's ``WaitForShifts``, which the driver answers
  through the package's documented Task override.

Compared: every execution (the parent, one child per component) enters the same states in the
same order, and the release makes the same alias moves and ends with the same report. Without
Node.js or the npm package the test skips (fails under CI) and says why.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.definition import load_child_definition, load_definition
from orchestrator.local.dry_run import DryRun
from orchestrator.local.engine import EmbeddedEngine, fill_placeholders
from orchestrator.local.lambda_endpoint import LambdaEndpoint
from orchestrator.local.scenario import scenario_from_data
from orchestrator.local.sfn_deploy import function_name
from orchestrator.local.simulator import SimClock
from orchestrator.model.load import manifest_from_data
from orchestrator.release import ledger
from orchestrator.steps import step_handlers

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("local_sfn_driver.cjs")
PACKAGE = ROOT / "node_modules" / "aws-local-stepfunctions"
SEED = ROOT / "examples" / "seed.yaml"
HEALTHY = ROOT / "examples" / "scenarios" / "seed-healthy.yaml"
BREAKS = ROOT / "examples" / "scenarios" / "seed-enrich-breaks.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"
RUN_TIMEOUT = 120.0
CHILD_STATE_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:rollout-shift-component"

ENGINE_SPECIFIC = frozenset({"execution", "executions", "events", "transitions", "engine"})
"""Report fields that describe the engine, not the release (execution ARNs, history sizes)."""


def node_or_skip() -> str:
    node = shutil.which("node")
    problem = None
    if node is None:
        problem = "node (Node.js) is not on PATH"
    elif not (PACKAGE / "package.json").exists():
        problem = "node_modules/aws-local-stepfunctions is missing: run `npm ci` at the repo root"
    if problem is not None:
        message = f"aws-local-stepfunctions unavailable: {problem} (package.json pins it)"
        print(message)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    assert node is not None
    return node


def load_yaml(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


@dataclass(frozen=True)
class Case:
    scenario: Path
    auto_hotfix: bool = True
    """False: nobody hands a hotfix over, so a failed gate waits 1 s for one and halts."""


CASES = {
    "healthy": Case(HEALTHY),
    # no task token is answered by a person: the gate fails in a child, ShiftFailed answers the
    # parent's token with the error, the parent rolls forward, waits for a hotfix (1 s) and halts
    "gate-fails-no-hotfix": Case(BREAKS, auto_hotfix=False),
}


def make_run(engine: EmbeddedEngine, start: datetime, case: Case) -> DryRun:
    """The seed release's dry run, its simulated clock at ``start`` (the same for both engines,
    so that every simulated time in the two reports can be compared)."""
    data = load_yaml(SEED)
    manifest = manifest_from_data(data)
    scenario = scenario_from_data(load_yaml(case.scenario), manifest)
    run = DryRun(manifest, data, scenario, engine=engine, auto_hotfix=case.auto_hotfix)
    run.clock = SimClock(start)
    run.setup()
    return run


def integral_floats_as_ints(value: Any) -> Any:
    """JSON as a JavaScript engine writes it back: 90.0 -> 90 (one number type)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integral_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral_floats_as_ints(v) for v in value]
    return value


def entered(history: list[dict[str, Any]]) -> list[str]:
    """The states an execution entered, in order (an embedded engine history)."""
    return [
        str(e["stateEnteredEventDetails"]["name"])
        for e in history
        if e["type"].endswith("StateEntered")
    ]


def release_facts(report: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in ENGINE_SPECIFIC}


@dataclass
class Observed:
    """What one engine did: states entered per execution name, how each ended, the report."""

    states: dict[str, list[str]] = field(default_factory=dict)
    ended: dict[str, dict[str, Any]] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    """The parent's output (the Report step's report, as the interpreter passed it on)."""
    stored: dict[str, Any] = field(default_factory=dict)
    """The report the Report step stored in the ledger (written by Python, not the engine)."""
    log: list[dict[str, Any]] = field(default_factory=list)
    """Retries, catches and failed states (aws-local-stepfunctions only)."""
    tokens: list[str] = field(default_factory=list)
    """Task tokens parked (aws-local-stepfunctions only)."""


# --- the reference: the embedded engine ----------------------------------------------------------


def run_embedded(engine: EmbeddedEngine, start: datetime, case: Case) -> Observed:
    run = make_run(engine, start, case)
    try:
        result = run.run(timeout=RUN_TIMEOUT)
        assert run.deployment is not None
        deployment = run.deployment
        release = run.manifest.release
        arn = result.execution.execution_arn
        observed = Observed(report=result.report)
        observed.stored = dict(ledger.load_report(deployment.ports.records, release) or {})
        observed.states[release] = entered(deployment.history(arn))
        observed.ended[release] = {"status": result.status}
        for child in deployment.children(release):
            observed.states[child["name"]] = entered(deployment.history(child["executionArn"]))
            observed.ended[child["name"]] = {"status": child["status"]}
        return observed
    finally:
        run.close()


# --- the same release on aws-local-stepfunctions ---------------------------------------------


class Driver:
    """``local_sfn_driver.cjs`` in a subprocess: run executions, relay token answers."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._write = threading.Lock()
        self.stderr: list[str] = []

    def start(self, node: str, setup_file: Path, lambda_url: str) -> None:
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL_LAMBDA": lambda_url,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        env.pop("AWS_PROFILE", None)
        self.process = subprocess.Popen(
            [node, str(DRIVER), str(setup_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=self._pump_stderr, daemon=True).start()

    def _pump(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip():
                self.events.put(json.loads(line))
        self.events.put(None)

    def _pump_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        self.stderr.extend(self.process.stderr)

    def send(self, **message: Any) -> None:
        with self._write:
            assert self.process is not None and self.process.stdin is not None
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()

    def close(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(Exception):
            self.send(cmd="exit")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


class DriverLauncher:
    """The ``shifts`` port on the driver: StartExecution of the child definition there. A start
    by a name already used is the same execution (Step Functions' idempotence by name)."""

    def __init__(self, driver: Driver, on_start: Any) -> None:
        self.driver = driver
        self.on_start = on_start
        self.started: list[str] = []
        self._lock = threading.Lock()

    def execution_arn(self, name: str) -> str:
        return CHILD_STATE_MACHINE.replace(":stateMachine:", ":execution:") + f":{name}"

    def start(self, name: str, payload: Mapping[str, object]) -> str:
        self.on_start(name, payload)
        with self._lock:
            fresh = name not in self.started
            if fresh:
                self.started.append(name)
        if fresh:
            self.driver.send(cmd="run", id=name, machine="child", input=dict(payload))
        return self.execution_arn(name)

    def stop(self, execution: str, error: str, cause: str) -> None:
        self.driver.send(cmd="stop", id=execution.rsplit(":", 1)[-1])

    def status(self, execution: str) -> str:
        """The ``shift_status`` port: a child the driver runs is running to the parent's periodic
        check (the driver reports how each ended; the check only looks for a child that died,
        which the package's children here never do)."""
        name = execution.rsplit(":", 1)[-1]
        with self._lock:
            return "RUNNING" if name in self.started else "MISSING"


class DriverCallbacks:
    """The ``callbacks`` port on the driver: SendTaskSuccess / SendTaskFailure relayed there."""

    def __init__(self, driver: Driver, on_answer: Any) -> None:
        self.driver = driver
        self.on_answer = on_answer
        self.answers: list[tuple[str, str]] = []

    def succeed(self, token: str, output: Mapping[str, object]) -> bool:
        self.on_answer(token)
        self.answers.append((token, "success"))
        self.driver.send(cmd="answer", token=token, output=dict(output))
        return True

    def fail(self, token: str, error: str, cause: str) -> bool:
        self.on_answer(token)
        self.answers.append((token, error))
        self.driver.send(cmd="answer", token=token, error=error, cause=cause)
        return True


def lambda_arn(step: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name(step)}"


def run_on_local_stepfunctions(
    engine: EmbeddedEngine, node: str, tmp_path: Path, start: datetime, case: Case
) -> Observed:
    run = make_run(engine, start, case)
    driver = Driver()
    endpoint: LambdaEndpoint | None = None
    try:
        deployment, timeline = run.deployment, run.timeline
        assert deployment is not None and timeline is not None
        substitutions = {f"{step}Arn": lambda_arn(step) for step in step_handlers()}
        machines = {
            "parent": json.loads(fill_placeholders(load_definition(), substitutions)),
            "child": json.loads(fill_placeholders(load_child_definition(), substitutions)),
        }
        launcher = DriverLauncher(driver, timeline.child_started)
        callbacks = DriverCallbacks(driver, timeline.answered)
        # the same ports the embedded engine's handlers use, but children and tokens go to the
        # driver; the simulated clock follows them exactly as in a dry run
        deployment.ports = dataclasses.replace(
            deployment.ports, shifts=launcher, shift_status=launcher, callbacks=callbacks
        )
        endpoint = LambdaEndpoint(deployment.handlers(), region=REGION, account_id=ACCOUNT)
        endpoint.start()
        setup_file = tmp_path / "setup.json"
        setup_file.write_text(json.dumps({"machines": machines, "lambda": endpoint.url}))
        driver.start(node, setup_file, endpoint.url)
        ready = driver.events.get(timeout=30)
        assert ready == {"event": "ready"}, f"{ready}\n{''.join(driver.stderr)}"

        release = run.manifest.release
        timeline.parent_started()
        driver.send(
            cmd="run",
            id=release,
            machine="parent",
            input={
                "manifest": run.manifest_data,
                "options": run.options(),
            },
        )
        observed = Observed()
        running = {release}
        deadline = time.monotonic() + RUN_TIMEOUT
        while running or len(observed.ended) < len(launcher.started) + 1:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"timed out; still running: {sorted(running)}"
            try:
                event = driver.events.get(timeout=remaining)
            except queue.Empty:
                continue
            assert event is not None, f"the driver ended:\n{''.join(driver.stderr)}"
            execution = str(event.get("id"))
            if event["event"] == "state":
                observed.states.setdefault(execution, []).append(str(event["name"]))
                running.add(execution)
            elif event["event"] == "done":
                observed.ended[execution] = event
                running.discard(execution)
                if execution == release:
                    timeline.parent_ended()
                    observed.report = dict(event.get("output") or {})
            elif event["event"] == "token":
                observed.tokens.append(str(event["token"]))
            else:
                observed.log.append(event)
        observed.stored = dict(ledger.load_report(deployment.ports.records, release) or {})
        return observed
    finally:
        driver.close()
        if endpoint is not None:
            endpoint.stop()
        run.close()


def test_package_json_pins_aws_local_stepfunctions() -> None:
    package = json.loads((ROOT / "package.json").read_text())
    version = package["devDependencies"]["aws-local-stepfunctions"]
    assert version.count(".") == 2 and version.replace(".", "").isdigit(), f"pin it, not {version}"
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/aws-local-stepfunctions"]["version"] == version


# --- the test ----------------------------------------------------------------------------------


@pytest.fixture
def node() -> str:
    """Node.js and the package, checked before anything starts (skip, or fail under CI)."""
    return node_or_skip()


@pytest.fixture
def fresh_engine(engine: EmbeddedEngine) -> Iterator[EmbeddedEngine]:
    """The session's engine, emptied (one engine runs per process: moto's state is global)."""
    engine.reset()
    yield engine
    engine.reset()


@pytest.mark.timeout(240)
@pytest.mark.parametrize("case", list(CASES))
def test_release_means_the_same_on_aws_local_stepfunctions(
    node: str, fresh_engine: EmbeddedEngine, tmp_path: Path, case: str
) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    local = run_on_local_stepfunctions(fresh_engine, node, tmp_path, start, CASES[case])
    fresh_engine.reset()
    embedded = run_embedded(fresh_engine, start, CASES[case])

    release = load_yaml(SEED)["release"]
    parent = local.ended[release]
    if parent.get("error") == "States.Runtime" and (
        "hotfix_max_wait_seconds" in parent["cause"] or "hotfix_timeout_seconds" in parent["cause"]
    ):
        # A difference between the interpreters (the finding this test exists for): the
        # package resolves WaitForHotfix's TimeoutSecondsPath ($.hotfix_max_wait_seconds)
        # against the input *after* Parameters ({FunctionName, Payload}), where AWS and moto
        # resolve it against the state's input; the parent fails there with States.Runtime.
        # Up to that state everything must still agree.
        wait_at = embedded.states[release].index("WaitForHotfix")
        assert local.states[release] == embedded.states[release][:wait_at]
        for name in set(embedded.states) - {release}:
            assert local.states[name] == embedded.states[name], name
            assert local.ended[name]["status"] == embedded.ended[name]["status"], name
        pytest.xfail(
            "aws-local-stepfunctions resolves TimeoutSecondsPath against the effective "
            f"(post-Parameters) input: {parent['cause']}"
        )
    # the same executions (the parent, one child per component started), each entering the
    # same states in the same order and ending the same way
    assert sorted(local.states) == sorted(embedded.states)
    for name, states in embedded.states.items():
        assert local.states[name] == states, f"{name}: states entered differ"
        assert local.ended[name]["status"] == embedded.ended[name]["status"], name
    # the same alias moves, in the same (simulated) order and time, and the same report
    assert local.stored["actions"] == embedded.stored["actions"]
    assert release_facts(local.stored) == release_facts(embedded.stored)
    # the parent's output is the Report step's summary of the stored report, on both
    summary = local.report or {}
    assert summary["status"] == local.stored["status"]
    assert summary["components"] == len(local.stored["final"])
    assert summary["actions"] == len(local.stored["actions"])
    if case == "healthy":
        assert local.ended[release]["status"] == "SUCCEEDED", local.ended[release]
        assert len(local.states) == 3, sorted(local.states)
        assert len(local.stored["actions"]) == 6  # two components, three steps each
        assert not local.log, local.log  # no retry, no catch, no failed state
        # one round: the parent parked one token, the last child answered it
        assert local.tokens == [f"{release}#token"]
