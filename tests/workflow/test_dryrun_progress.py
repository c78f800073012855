"""A dry run shows progress from its first second, and its report gives the release's wall time
and the command's (issue 9: it was silent for 15-20 s while the engine started, and its "wall
time" of 5.8 s was not the 26.8 s the command took)."""

from __future__ import annotations

import copy
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.workflow.conftest import MakeRun

pytestmark = pytest.mark.workflow

ROOT = Path(__file__).resolve().parents[2]
SEED = yaml.safe_load((ROOT / "examples" / "seed.yaml").read_text())
TIMEOUT = 300.0
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def on_a_terminal(*args: str, timeout: float = TIMEOUT) -> tuple[list[tuple[float, str]], int]:
    """Run `rollout ARGS` with a terminal on stdout and stderr (Rich shows live progress only
    there): what it printed, chunk by chunk with the seconds since it started, and its exit code."""
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "50"}
    env.pop("NO_COLOR", None)
    began = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    chunks: list[tuple[float, str]] = []
    try:
        while time.monotonic() - began < timeout:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    data = os.read(leader, 65536)
                except OSError:  # the other end closed: the process ended
                    break
                if not data:
                    break
                chunks.append((time.monotonic() - began, data.decode("utf-8", "replace")))
            elif process.poll() is not None:
                break
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        os.close(leader)
    return chunks, code


def test_progress_shows_before_the_engine_is_up_and_the_report_gives_both_times() -> None:
    raw, code = on_a_terminal("dry-run", "examples/seed.yaml")
    chunks = [(at, ANSI.sub("", chunk)) for at, chunk in raw]
    text = "".join(t for _, t in chunks)
    assert code == 0, text[-3000:]

    def first(needle: str) -> float | None:
        seen = ""
        for at, chunk in chunks:
            seen += chunk
            if needle in seen:
                return at
        return None

    engine_start = first("starting the embedded engine")
    report = first("Release 2026-11-28.1:")
    assert engine_start is not None and report is not None, text[-3000:]
    assert engine_start < 5.0, "progress from the first seconds (imports take 1-2 s)"
    assert engine_start < report
    assert "seeding the emulated account: 3 function(s) and 2 queue(s)" in text
    assert "wall time: release " in text and "engine start and seeding " in text
    assert ", command " in text


def test_the_json_report_gives_setup_release_and_command_seconds() -> None:
    began = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "dry-run", "examples/seed.yaml", "-f", "json"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        cwd=ROOT,
    )
    took = time.monotonic() - began
    assert out.returncode == 0, out.stdout + out.stderr
    document = json.loads(out.stdout)
    release, setup, command = (
        document["wall_seconds"],
        document["setup_seconds"],
        document["command_wall_seconds"],
    )
    assert release > 0 and setup > 0
    assert release + setup <= command <= took + 0.5, (release, setup, command, took)
    assert command > took * 0.6, "the command's time counts from the process's start"


def test_setup_says_what_it_does_before_the_release_starts(dry: MakeRun) -> None:
    stages: list[str] = []
    data: dict[str, Any] = copy.deepcopy(SEED)
    run = dry(data, on_stage=stages.append)
    assert stages == [
        "seeding the emulated account: 3 function(s) and 2 queue(s) of release 2026-11-28.1",
        "deploying the orchestrator (state machine, step functions, table, topic)",
    ], "the session's engine runs already: no engine start"
    assert run.setup_seconds > 0
    result = run.run(timeout=TIMEOUT)
    assert result.setup_seconds == run.setup_seconds
    assert result.contract()["setup_seconds"] == round(run.setup_seconds, 3)
