"""`rollout dry-run --engine URL` against a Step Functions endpoint in another process.

Step Functions Local needs Java or Docker, so its stand-in is `rollout local serve
--lambda-endpoint http://127.0.0.1:L`: an embedded engine in a subprocess that runs the state
machine and sends every `rollout-*` Lambda task to the Lambda endpoint on port L, as Step
Functions Local does with its `LAMBDA_ENDPOINT`. The dry run, another subprocess, keeps the
simulated account and the step handlers, serves the handlers on L (`--lambda-port L`), deploys
the state machine on the stand-in and runs the release there.

Every wait has a timeout; every subprocess is killed in a ``finally`` if it is still running.
"""

from __future__ import annotations

import json
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from orchestrator.errors import EnvironmentProblemError
from orchestrator.local.engine import EmbeddedEngine
from tests.processes import CLI, cli_env, free_port, run_cli

ROOT = Path(__file__).resolve().parents[2]
SEED = "examples/seed.yaml"
ENRICH_BREAKS = "examples/scenarios/seed-enrich-breaks.yaml"
RELEASE = "2026-11-28.1"
START_TIMEOUT = 90.0
"""Importing moto and starting the engine takes a few seconds; a loaded CI machine, more."""
RUN_TIMEOUT = 180.0
STOP_TIMEOUT = 30.0


def rollout(*args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=ROOT, timeout=timeout)


def sfn_client(url: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(
        "stepfunctions",
        endpoint_url=url,
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=60),
    )


@dataclass
class StandIn:
    """The `rollout local serve --lambda-endpoint` subprocess and its ports."""

    process: subprocess.Popen[str]
    url: str
    lambda_port: int
    ready: dict[str, Any]
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text()


def read_ready_line(process: subprocess.Popen[str], timeout: float) -> str | None:
    """The first stdout line, or None at EOF; AssertionError after ``timeout`` seconds."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        lines.put(process.stdout.readline() or None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"no ready line within {timeout:g}s") from None


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    port, lambda_port = free_port(), free_port()
    stderr_path = tmp_path_factory.mktemp("stand-in") / "serve.err"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [
                *CLI,
                "local",
                "serve",
                "--port",
                str(port),
                "--lambda-endpoint",
                f"http://127.0.0.1:{lambda_port}",
                "--format",
                "json",
            ],
            cwd=ROOT,
            env=cli_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        line = read_ready_line(process, START_TIMEOUT)
        assert line is not None, f"exited {process.poll()}: {stderr_path.read_text()}"
        yield StandIn(
            process, f"http://127.0.0.1:{port}", lambda_port, json.loads(line), stderr_path
        )
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=STOP_TIMEOUT)
        if process.stdout is not None:
            process.stdout.close()


def dry_run_there(stand_in: StandIn, *extra: str) -> dict[str, Any]:
    done = rollout(
        "dry-run",
        SEED,
        "--engine",
        stand_in.url,
        "--lambda-port",
        str(stand_in.lambda_port),
        "--format",
        "json",
        *extra,
    )
    assert done.returncode == 0, done.stdout + done.stderr + "\nstand-in:\n" + stand_in.stderr()
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def remote_execution(stand_in: StandIn, arn: str) -> dict[str, Any]:
    described: dict[str, Any] = sfn_client(stand_in.url).describe_execution(executionArn=arn)
    return described


def test_the_stand_in_proxies_lambda_tasks(stand_in: StandIn) -> None:
    assert stand_in.ready["endpoint_url"] == stand_in.url
    assert stand_in.ready["lambda_proxied_to"] == f"http://127.0.0.1:{stand_in.lambda_port}"
    assert stand_in.ready["lambda_endpoint_url"] is None


def test_a_healthy_dry_run_on_the_remote_engine(stand_in: StandIn) -> None:
    document = dry_run_there(stand_in)

    assert document["status"] == "SUCCEEDED"
    assert document["events"] > 0
    assert document["transitions"] > 0
    assert document["engine"] == stand_in.url
    assert document["final"]["ingest"]["weights"] == {"43": 100.0}
    assert document["final"]["enrich"]["weights"] == {"18": 100.0}
    # the handlers ran here, called over HTTP by the remote engine
    assert document["lambda_invocations"]["rollout-ValidateAndPlan"] == 1
    assert document["lambda_invocations"]["rollout-Advance"] > 0
    # the execution is the remote engine's, and its history is what the report counts
    arn = document["execution"]["arn"]
    assert arn.startswith(
        stand_in.ready["state_machine_arn"].replace(":stateMachine:", ":execution:")
    )
    assert arn.split(":")[-1].startswith(f"{RELEASE}-dry-run-")
    assert remote_execution(stand_in, arn)["status"] == "SUCCEEDED"


def test_a_roll_forward_on_the_remote_engine_hands_the_hotfix_over_there(
    stand_in: StandIn,
) -> None:
    document = dry_run_there(stand_in, "--scenario", ENRICH_BREAKS)

    assert document["status"] == "ROLLED_FORWARD", document.get("failure")
    assert document["final"]["enrich"]["version"] == "19"
    assert document["final"]["enrich"]["weights"] == {"19": 100.0}
    assert [(h["component"], h["version"]) for h in document["hotfixes"]] == [("enrich", "19")]
    assert document["lambda_invocations"]["rollout-WaitForHotfix"] >= 1
    assert document["lambda_invocations"]["rollout-ApplyHotfix"] >= 1
    assert document["events"] > 0
    # SendTaskSuccess went to the remote engine: its execution got past WaitForHotfix
    assert remote_execution(stand_in, document["execution"]["arn"])["status"] == "SUCCEEDED"


def test_an_engine_url_that_does_not_answer_is_exit_3() -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    started = time.monotonic()
    failed = rollout("dry-run", SEED, "--engine", closed, "--lambda-port", str(free_port()))

    assert failed.returncode == 3, failed.stdout + failed.stderr
    assert f"no Step Functions endpoint answers at {closed}" in failed.stderr.replace("\n", " ")
    assert time.monotonic() - started < 30


def test_engine_and_lambda_port_options_are_checked_before_anything_starts() -> None:
    not_a_url = rollout("dry-run", SEED, "--engine", "localhost:8084", "--format", "json")
    assert not_a_url.returncode == 2, not_a_url.stdout + not_a_url.stderr
    assert json.loads(not_a_url.stdout)["errors"][0]["path"] == "--engine"

    same_port = rollout(
        "dry-run", SEED, "--engine", "http://localhost:8083", "--format", "json"
    )  # the default --lambda-port is 8083 too
    assert same_port.returncode == 2, same_port.stdout + same_port.stderr
    assert json.loads(same_port.stdout)["errors"][0]["path"] == "--lambda-port"


def test_the_engine_port_check_lets_a_port_in_time_wait_through() -> None:
    """A restart on the same port right after a stop: the server closed connections first, so
    they sit in TIME_WAIT on its port; the probe must bind as the server will (SO_REUSEADDR)."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug does
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = int(listener.getsockname()[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as peer:
            accepted, _ = listener.accept()
            accepted.close()  # the server side closes first: it ends in TIME_WAIT
            assert peer.recv(1) == b""
    with socket.socket() as plain:
        try:
            plain.bind(("127.0.0.1", port))
        except OSError:
            pass
        else:
            pytest.skip("this platform lets a plain bind through TIME_WAIT: nothing to test")

    EmbeddedEngine._check_port_free(port)  # no error

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(EnvironmentProblemError, match="is taken"):
            EmbeddedEngine._check_port_free(int(busy.getsockname()[1]))
