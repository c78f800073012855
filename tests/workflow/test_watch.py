"""`rollout watch` during real dry runs on the embedded engine (issue 13, item 1).

The seed story waits for a hotfix of enrich (a state that lasts), then the test hands one over
and lets the release finish while `rollout watch` follows it from another process, as on-call
would: ``--format json`` streams one object per change, and the sequence of states is what the
release did; on a terminal (a pty) the live view shows the wait, the command that answers it,
and the end with the release's exit code. Bakes take real seconds here (``time_scale``) so a
watcher reading every 0.2 s sees each step; what is asserted holds whatever it missed between two
reads (states only move forward).
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import pty
import queue
import re
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from orchestrator.cli.app import app
from orchestrator.cli.watch_view import RELEASE_STATES, STATES, change_key
from orchestrator.operations import waiting_token
from tests.workflow.conftest import MakeRun, wait_until

pytestmark = pytest.mark.workflow

ROOT = Path(__file__).resolve().parents[2]
SEED = yaml.safe_load((ROOT / "examples" / "seed.yaml").read_text())
SEED_BREAKS = yaml.safe_load(
    (ROOT / "examples" / "scenarios" / "seed-enrich-breaks.yaml").read_text()
)
RELEASE = SEED["release"]
TIMEOUT = 180.0
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")
CLEAN_ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in ("ROLLOUT_STATE_MACHINE_ARN", "ROLLOUT_TABLE_NAME", "ROLLOUT_TOPIC_ARN")
}
cli = CliRunner()


def waiting_seed(dry: MakeRun, engine: Any) -> tuple[Any, str]:
    """The seed story with 60 s bakes at 1/50 speed (1.2 s each), no scenario hotfix: it waits
    for a hotfix of enrich; enrich@19 is published for the test to hand over."""
    data: dict[str, Any] = copy.deepcopy(SEED)
    data["defaults"]["strategy"]["bake_seconds"] = 60
    run = dry(
        data,
        {**SEED_BREAKS, "hotfixes": []},
        auto_hotfix=False,
        hotfix_timeout_seconds=900,
        time_scale=0.02,
    )
    lam = engine.client("lambda")
    lam.update_function_configuration(FunctionName="enrich", Description="hotfix")
    wait_until(
        lambda: (
            lam.get_function(FunctionName="enrich")["Configuration"]["LastUpdateStatus"]
            == "Successful"
        ),
        what="enrich updated",
    )
    assert lam.publish_version(FunctionName="enrich")["Version"] == "19"
    arn = run.start()
    assert run.deployment is not None
    ports = run.deployment.ports
    wait_until(lambda: waiting_token(ports, RELEASE), TIMEOUT, "the hotfix wait")
    return run, arn


def hand_over(engine: Any) -> None:
    out = cli.invoke(
        app,
        [
            "hotfix",
            RELEASE,
            "--component",
            "enrich",
            "--version",
            "19",
            "--reads",
            "orders=1,2",
            "--engine",
            engine.endpoint_url,
        ],
        env={"ROLLOUT_STATE_MACHINE_ARN": None, "ROLLOUT_TABLE_NAME": None},
    )
    assert out.exit_code == 0, out.stdout + out.stderr


class JsonWatch:
    """`rollout watch --format json` in its own process; its lines as they come."""

    def __init__(self, engine: Any) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orchestrator.cli",
                "watch",
                RELEASE,
                "--engine",
                engine.endpoint_url,
                "--format",
                "json",
                "--interval",
                "0.2",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=CLEAN_ENV,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.objects: list[dict[str, Any]] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next(self, timeout: float) -> dict[str, Any] | None:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no JSON line from `rollout watch` in {timeout:g}s") from None
        if line is None:
            return None
        document: dict[str, Any] = json.loads(line)
        self.objects.append(document)
        return document

    def rest(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.next(max(0.1, deadline - time.monotonic())) is not None:
            pass
        return self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def states_of(objects: list[dict[str, Any]], component: str) -> list[tuple[str, Any]]:
    """The component's (state, version) through the stream, consecutive repeats removed."""
    seen: list[tuple[str, Any]] = []
    for document in objects:
        [row] = [r for r in document["components"] if r["component"] == component]
        pair = (row["state"], row["version"])
        if not seen or seen[-1] != pair:
            seen.append(pair)
    return seen


def dedup(values: list[Any]) -> list[Any]:
    return [v for i, v in enumerate(values) if i == 0 or values[i - 1] != v]


def test_watch_json_streams_the_states_of_a_roll_forward_in_order(
    dry: MakeRun, engine: Any
) -> None:
    run, arn = waiting_seed(dry, engine)
    watch = JsonWatch(engine)
    try:
        first = watch.next(60)
        assert first is not None, watch.process.stderr.read() if watch.process.stderr else ""
        assert first["state"] == "waiting-for-hotfix"
        assert first["rollforward"]["waits_for"] == "hotfix"
        assert first["rollforward"]["component"] == "enrich"
        assert first["rollforward"]["round"] == 1
        assert first["rollforward"]["requirements"]["reads"] == {"orders": [1, 2]}
        assert first["rollforward"]["command"].startswith(f"rollout hotfix {RELEASE} ")
        assert 0 < first["rollforward"]["seconds_left"] <= 900
        rows = {r["component"]: r for r in first["components"]}
        assert rows["enrich"]["state"] == "promoted" and rows["enrich"]["version"] == "18"
        assert rows["ingest"]["state"] == "pulled-back"
        assert rows["ingest"]["weights"] == {"42": 100.0}
        assert rows["ingest"]["verdict"]["phase"] == "FAILED"
        assert rows["ingest"]["verdict"]["step"] == 10.0
        assert rows["ingest"]["verdict"]["figures"]["invocations"] > 0
        assert rows["ingest"]["execution"].endswith(f"{RELEASE}--ingest--r0")
        assert rows["store"]["state"] == "unchanged"
        orders = next(q for q in first["queues"] if q["queue"] == "orders")
        assert orders["dlq_messages"] > 0

        hand_over(engine)
        result = run.finish(arn, timeout=TIMEOUT)
        assert result.status == "ROLLED_FORWARD"
        code = watch.rest(60)
    finally:
        watch.stop()
    objects = watch.objects
    assert code == 0
    last = objects[-1]
    assert (last["state"], last["status"], last["exit_code"]) == ("ended", "ROLLED_FORWARD", 0)
    assert dedup([o["state"] for o in objects]) == ["waiting-for-hotfix", "running", "ended"]
    for document in objects:
        assert document["state"] in RELEASE_STATES
        assert all(r["state"] in STATES for r in document["components"])
    keys = [change_key(o) for o in objects]
    assert all(a != b for a, b in itertools.pairwise(keys)), "one object per change"

    enrich = states_of(objects, "enrich")
    assert enrich[0] == ("promoted", "18") and enrich[-1] == ("promoted", "19"), enrich
    moving = [s for s, v in enrich[1:-1] if v == "19"]
    assert moving and set(moving) <= {"baking", "shifting"}, enrich
    ingest = states_of(objects, "ingest")
    assert ingest[0][0] == "pulled-back" and ingest[-1] == ("promoted", "43"), ingest
    middle = {s for s, _ in ingest[1:-1]}
    assert middle and middle <= {"waiting", "starting", "baking", "shifting"}, ingest
    assert {"baking", "shifting"} & middle, ingest
    assert set(states_of(objects, "store")) == {("unchanged", "5")}

    for name, version in (("enrich", "19"), ("ingest", "43")):
        weights = [
            r["weight"]
            for o in objects
            for r in o["components"]
            if r["component"] == name and r["version"] == version and r["weight"] is not None
        ]
        assert weights == sorted(weights), (name, weights)  # never backwards
        assert any(0 < w < 100 for w in weights), (name, weights)
        assert weights[-1] == 100.0
    baking = [r for o in objects for r in o["components"] if r["state"] == "baking" and r["bake"]]
    assert baking and all(re.fullmatch(r"\d+:\d\d", r["bake"]["left"]) for r in baking)
    assert all(r["detail"].startswith("baking at ") for r in baking)
    assert objects[-1]["round"] == 1


def on_a_terminal(args: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    leader, follower = pty.openpty()
    env = {**CLEAN_ENV, "TERM": "xterm-256color", "COLUMNS": "200", "LINES": "60"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    return process, leader


class Screen:
    """What a pty showed, ANSI codes removed."""

    def __init__(self, leader: int, process: subprocess.Popen[bytes]) -> None:
        self.leader = leader
        self.process = process
        self.text = ""

    def read(self, timeout: float) -> bool:
        """Read what comes within ``timeout``; False once the other end closed."""
        ready, _, _ = select.select([self.leader], [], [], timeout)
        if not ready:
            return self.process.poll() is None
        try:
            data = os.read(self.leader, 65536)
        except OSError:
            return False
        if not data:
            return False
        self.text += ANSI.sub("", data.decode("utf-8", "replace"))
        return True

    def wait_for(self, *needles: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not all(n in self.flat() for n in needles):
            if time.monotonic() > deadline or not self.read(0.2):
                missing = [n for n in needles if n not in self.flat()]
                raise AssertionError(f"the screen never showed {missing}: {self.text[-3000:]}")

    def until_exit(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.read(0.2):
            pass
        return self.process.wait(timeout=30)

    def flat(self) -> str:
        return " ".join(self.text.split())


def test_watch_on_a_terminal_shows_the_wait_then_the_end_and_exits_with_its_code(
    dry: MakeRun, engine: Any
) -> None:
    run, arn = waiting_seed(dry, engine)
    process, leader = on_a_terminal(["watch", RELEASE, "--engine", engine.endpoint_url])
    screen = Screen(leader, process)
    try:
        screen.wait_for(
            f"{RELEASE}: waiting for a hotfix of enrich (roll-forward round 1)",
            "execution RUNNING",
            "pulled-back",
            "pulled back to 42: 100% after FAILED at 10%",
            "promoted 18",
            "not shifted",
            "Roll-forward round 1: waits for a hotfix of enrich",
            f"answer it: rollout hotfix {RELEASE} --component enrich --version <VERSION> "
            f"--engine {engine.endpoint_url}",
            "orders: ",
            "dead-letter queue",
        )
        hand_over(engine)
        result = run.finish(arn, timeout=TIMEOUT)
        assert result.status == "ROLLED_FORWARD"
        code = screen.until_exit(60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        os.close(leader)
    assert code == 0, screen.text[-3000:]
    flat = screen.flat()
    assert "baking at " in flat, "a bake of the hotfix or of ingest was on screen"
    assert flat.rstrip().endswith(f"{RELEASE}: ended ROLLED_FORWARD (exit 0)"), flat[-500:]
    assert "promoted 19" in flat and "promoted 43" in flat
    assert "Traceback" not in screen.text


def test_dry_run_progress_plain_logs_each_change_and_none_logs_nothing() -> None:
    plain = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "dry-run",
            "examples/seed.yaml",
            "--progress",
            "plain",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        cwd=ROOT,
        env=CLEAN_ENV,
    )
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert json.loads(plain.stdout)["status"] == "SUCCEEDED"
    lines = [re.sub(r"^\[\d+s\] ", "", line) for line in plain.stderr.splitlines()]
    assert "starting release 2026-11-28.1" in lines
    assert "store: not shifted (stays on 5: 100%)" in lines
    enrich = [x for x in lines if x.startswith("enrich: ")]
    moving = ("enrich: baking at ", "enrich: shifting at ", "enrich: its child execution")
    assert all(x.startswith(moving) for x in enrich[:-1]), enrich  # sampled: steps may be missed
    assert enrich[-1].startswith("enrich: promoted 18; last verdict PASSED at 100% of 18"), enrich
    ingest = [x for x in lines if x.startswith("ingest: ")]
    # sampled: a fast run's first picture may already show ingest shifting
    shifting = ingest[1:] if ingest[0] == "ingest: waits for enrich" else ingest
    assert ingest[-1].startswith("ingest: promoted 43; last verdict PASSED at 100% of 43"), ingest
    assert shifting and lines.index(enrich[-1]) < lines.index(shifting[0]), (
        "ingest waits for enrich"
    )
    assert lines[-1] == "2026-11-28.1: ended SUCCEEDED (exit 0)", lines[-5:]

    quiet = subprocess.run(
        [
            *(sys.executable, "-m", "orchestrator.cli", "dry-run", "examples/seed.yaml"),
            *("--progress", "none", "--format", "json"),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        cwd=ROOT,
        env=CLEAN_ENV,
    )
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert quiet.stderr == ""


def test_watch_of_a_release_that_is_not_stored_exits_2_and_lists_the_known_ones(
    dry: MakeRun, engine: Any
) -> None:
    run = dry(copy.deepcopy(SEED))
    run.finish(run.start(), timeout=TIMEOUT)
    out = cli.invoke(
        app,
        ["watch", "no-such-release", "--engine", engine.endpoint_url, "--format", "json"],
        env={"ROLLOUT_STATE_MACHINE_ARN": None, "ROLLOUT_TABLE_NAME": None},
    )
    assert out.exit_code == 2, out.stdout + out.stderr
    [error] = json.loads(out.stdout)["errors"]
    assert "no release 'no-such-release' is stored" in error["message"]
    assert RELEASE in error["message"]  # the known releases

    ended = cli.invoke(
        app,
        ["watch", RELEASE, "--engine", engine.endpoint_url, "--format", "json"],
        env={"ROLLOUT_STATE_MACHINE_ARN": None, "ROLLOUT_TABLE_NAME": None},
    )
    assert ended.exit_code == 0, ended.stdout + ended.stderr
    [line] = ended.stdout.splitlines()  # an ended release: one picture, its exit code
    assert json.loads(line)["status"] == "SUCCEEDED"
