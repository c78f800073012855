"""Helpers for tests that run `rollout` as a separate process, on loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "orchestrator.cli"]
"""`rollout`, as the installed console script runs it."""


def free_port() -> int:
    """A loopback port that is free now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cli_env() -> dict[str, str]:
    """The environment for a `rollout` subprocess: loopback never proxied, no AWS stack named."""
    out = dict(os.environ)
    out["NO_PROXY"] = out["no_proxy"] = "127.0.0.1,localhost"
    out.pop("ROLLOUT_STATE_MACHINE_ARN", None)
    out.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return out


def run_cli(*args: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run `rollout ARGS` to completion, capturing its output (never raises on exit code)."""
    return subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
