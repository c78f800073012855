"""`rollout local serve` and `rollout local-lambda` as real processes, driven over HTTP.

Each server runs in its own subprocess (one embedded engine per process), on a free loopback port.
Every wait has a timeout, and every subprocess is killed in a ``finally`` if it is still running.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.cli.connect import ENGINE_STATE_MACHINE
from orchestrator.local.engine import wait_for_execution
from orchestrator.local.sfn_deploy import deploy_to_step_functions, function_name
from orchestrator.steps import step_handlers
from tests.processes import CLI, cli_env, free_port, run_cli

ROOT = Path(__file__).resolve().parents[2]
SEED = "examples/seed.yaml"
HEALTHY = "examples/scenarios/seed-healthy.yaml"
RELEASE = "2026-11-28.1"
START_TIMEOUT = 90.0
"""Importing moto and seeding the account takes a few seconds; a loaded CI machine, more."""
RUN_TIMEOUT = 180.0
STOP_TIMEOUT = 30.0

ROLLOUT = CLI


class Server:
    """A `rollout ...` subprocess that prints one ready line on stdout, then serves."""

    def __init__(self, *args: str, stderr_path: Path) -> None:
        self.args = args
        self._stderr = stderr_path.open("w")
        self.process = subprocess.Popen(
            [*ROLLOUT, *args],
            cwd=ROOT,
            env=cli_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self._stderr_path = stderr_path
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def ready_line(self, timeout: float = START_TIMEOUT) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no ready line within {timeout:g}s: {self.stderr()}") from None
        assert line is not None, f"exited {self.process.poll()} before ready: {self.stderr()}"
        return line.strip()

    def stderr(self) -> str:
        self._stderr.flush()
        return self._stderr_path.read_text()

    def stop(self, sig: signal.Signals) -> int:
        """Send ``sig``; the exit code (fails after STOP_TIMEOUT)."""
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {STOP_TIMEOUT:g}s after {sig.name}") from None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
        self._stderr.close()


def rollout(*args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=ROOT, timeout=timeout)


def client(service: str, url: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(
        service,  # type: ignore[call-overload]
        endpoint_url=url,
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=60),
    )


def wait_until_answers(url: str, timeout: float = START_TIMEOUT) -> list[str]:
    """Poll ListStateMachines until the engine answers; the state machine names."""
    sfn = client("stepfunctions", url)
    deadline = time.monotonic() + timeout
    while True:
        try:
            machines = sfn.list_state_machines()["stateMachines"]
            return [m["name"] for m in machines]
        except (BotoCoreError, ClientError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# -- a seeded, simulated server -------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any]]]:
    port = free_port()
    logs = tmp_path_factory.mktemp("serve")
    server = Server(
        "local",
        "serve",
        "--port",
        str(port),
        "--manifest",
        SEED,
        "--scenario",
        HEALTHY,
        "--format",
        "json",
        stderr_path=logs / "serve.err",
    )
    try:
        document = json.loads(server.ready_line())
        yield server, document
    finally:
        server.kill()


def test_serve_prints_one_json_line_and_answers_step_functions(
    seeded: tuple[Server, dict[str, Any]],
) -> None:
    _, document = seeded
    url = document["endpoint_url"]

    assert url.startswith("http://127.0.0.1:")
    assert document["state_machine_arn"].endswith(":stateMachine:rollout")
    assert document["release"] == RELEASE
    assert document["simulated"] is True
    assert sorted(wait_until_answers(url)) == ["rollout", "rollout-shift-component"]
    # the account is seeded from the manifest: functions with their aliases
    lam = client("lambda", url)
    assert lam.get_alias(FunctionName="enrich", Name="live")["FunctionVersion"] == "17"


def test_a_whole_release_runs_through_rollout_start_engine(
    seeded: tuple[Server, dict[str, Any]],
) -> None:
    _, document = seeded
    url = document["endpoint_url"]
    wait_until_answers(url)

    done = rollout("start", SEED, "--engine", url, "--wait", "--format", "json")

    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "SUCCEEDED"
    assert report["final"]["ingest"]["weights"] == {"43": 100.0}
    assert report["final"]["enrich"]["weights"] == {"18": 100.0}
    again = rollout("start", SEED, "--engine", url, "--format", "json")
    assert again.returncode == 1, again.stderr  # it already ran: nothing was started
    assert json.loads(again.stdout)["already_started"] is True


def test_deploy_to_step_functions_creates_then_updates_a_state_machine(
    seeded: tuple[Server, dict[str, Any]],
) -> None:
    _, document = seeded
    sfn = client("stepfunctions", document["endpoint_url"])

    arn = deploy_to_step_functions(sfn, name="rollout-on-sfn-local")
    assert deploy_to_step_functions(sfn, name="rollout-on-sfn-local") == arn

    definition = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
    resources = {s["Resource"] for s in definition["States"].values() if "Resource" in s}
    assert "arn:aws:lambda:us-east-1:123456789012:function:rollout-ValidateAndPlan" in resources
    assert "${" not in json.dumps(definition)


def test_sigint_stops_the_server_cleanly(seeded: tuple[Server, dict[str, Any]]) -> None:
    server, document = seeded

    assert server.stop(signal.SIGINT) == 0, server.stderr()
    with pytest.raises((BotoCoreError, ClientError)):
        client("stepfunctions", document["endpoint_url"]).list_state_machines()


# -- a plain server, and local-lambda in front of it ----------------------------------------------


def invoke_plan(lam: Any, manifest: dict[str, Any]) -> dict[str, Any]:
    """Invoke ValidateAndPlan (by ARN); its JSON payload (an error payload for a bad manifest)."""
    response = lam.invoke(
        FunctionName="arn:aws:lambda:us-east-1:123456789012:function:rollout-ValidateAndPlan",
        Payload=json.dumps({"manifest": manifest, "options": {}}),
    )
    assert response["FunctionError"] == "Unhandled"
    error: dict[str, Any] = json.loads(response["Payload"].read())
    return error


def failed_task_errors(url: str, manifest: dict[str, Any]) -> list[str]:
    """Run a release of ``manifest`` on the engine at ``url``; the error names of failed tasks."""
    sfn = client("stepfunctions", url)
    arn = sfn.start_execution(
        stateMachineArn=ENGINE_STATE_MACHINE,
        name=f"bad-{time.monotonic_ns()}",
        input=json.dumps({"manifest": manifest, "options": {}}),
    )["executionArn"]
    wait_for_execution(sfn, arn, timeout=RUN_TIMEOUT)
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    failed = [e for e in events if e["type"] in ("TaskFailed", "LambdaFunctionFailed")]
    details = [
        e.get("taskFailedEventDetails") or e["lambdaFunctionFailedEventDetails"] for e in failed
    ]
    return [str(d["error"]) for d in details]


def test_plain_serve_local_lambda_taken_ports_and_sigterm(tmp_path: Path) -> None:
    """A server without a manifest whose step handlers run behind its own Lambda endpoint
    (--lambda-port), and `rollout local-lambda` serving handlers bound to its account."""
    port, served_lambda_port, lambda_port = free_port(), free_port(), free_port()
    server = Server(
        "local",
        "serve",
        "--port",
        str(port),
        "--lambda-port",
        str(served_lambda_port),
        stderr_path=tmp_path / "serve.err",
    )
    lambdas: Server | None = None
    try:
        line = server.ready_line()
        url = f"http://127.0.0.1:{port}"
        assert line.startswith(f"engine {url} state machine arn:aws:states:"), line
        assert line.endswith(f"Lambda endpoint http://127.0.0.1:{served_lambda_port}"), line
        assert sorted(wait_until_answers(url)) == ["rollout", "rollout-shift-component"]
        # the engine's Lambda calls go through the proxies to the endpoint, errors keep their name
        assert failed_task_errors(url, {"release": "x"}) == ["ManifestError"]
        served = client("lambda", f"http://127.0.0.1:{served_lambda_port}").list_functions()
        assert len(served["Functions"]) == len(step_handlers())

        taken = rollout("local", "serve", "--port", str(port), timeout=START_TIMEOUT)
        assert taken.returncode == 3, taken.stdout + taken.stderr
        assert f"port {port} is taken" in taken.stderr

        lambdas = Server(
            "local-lambda",
            "--port",
            str(lambda_port),
            "--aws-endpoint",
            url,
            "--deploy-to",
            url,
            "--format",
            "json",
            stderr_path=tmp_path / "lambda.err",
        )
        document = json.loads(lambdas.ready_line())
        assert document["lambda_endpoint_url"] == f"http://127.0.0.1:{lambda_port}"
        assert document["functions"] == sorted(function_name(s) for s in step_handlers())
        assert document["state_machine_arn"].endswith(":stateMachine:rollout")

        lam = client("lambda", document["lambda_endpoint_url"])
        names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
        assert function_name("Advance") in names
        # the real handler, bound to the served account: a bad manifest is a named function error
        assert invoke_plan(lam, {"release": "x"})["errorType"] == "ManifestError"

        taken = rollout(
            "local-lambda", "--port", str(lambda_port), "--aws-endpoint", url, timeout=START_TIMEOUT
        )
        assert taken.returncode == 3, taken.stdout + taken.stderr

        deployed = rollout("local", "deploy", url, "--format", "json", timeout=START_TIMEOUT)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert json.loads(deployed.stdout)["state_machine_arn"] == ENGINE_STATE_MACHINE

        assert lambdas.stop(signal.SIGTERM) == 0, lambdas.stderr()
        assert server.stop(signal.SIGTERM) == 0, server.stderr()
    finally:
        if lambdas is not None:
            lambdas.kill()
        server.kill()


def test_local_lambda_exits_3_when_the_account_is_unreachable() -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    failed = rollout(
        "local-lambda", "--port", str(free_port()), "--aws-endpoint", closed, timeout=START_TIMEOUT
    )

    assert failed.returncode == 3, failed.stdout + failed.stderr
    assert "cannot reach" in failed.stderr
    not_deployed = rollout("local", "deploy", closed, timeout=START_TIMEOUT)
    assert not_deployed.returncode == 3, not_deployed.stdout + not_deployed.stderr


def test_help_shows_examples() -> None:
    for command in (
        ["local", "serve", "--help"],
        ["local", "deploy", "--help"],
        ["local-lambda", "--help"],
    ):
        shown = rollout(*command, timeout=START_TIMEOUT)
        assert shown.returncode == 0, shown.stderr
        assert "Example" in shown.stdout
        assert "rollout local" in shown.stdout
