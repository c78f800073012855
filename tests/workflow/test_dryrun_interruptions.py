"""A dry run cut short is a reported outcome, never a traceback or a hang (issue 9, majors 3-4).

* ``--timeout``: the report so far (live aliases, the moves made, the verdicts), status FAILED,
  ``interrupted.reason == "timeout"``, exit 1, in JSON and in text.
* An engine-side failure (moto's ASL interpreter failing in itself, as it did on a 700-component
  release: "Unhandled termination error in item processor worker") ends the run at once with a
  clear report, whether the engine then waits for ever (an execution whose interpreter thread
  died: the parent waits for a child that never ends) or ends the child on ``States.Runtime``
  without its Catch running (nobody tells the parent).

The engine failures are injected by patching moto's ``ExecutionWorker._execution_logic`` for the
first child execution (test-only; the product touches moto's internals only in
orchestrator/local/moto_compat.py).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.local.dry_run import EngineFaultError
from tests.workflow.conftest import MakeRun

pytestmark = pytest.mark.workflow

ROOT = Path(__file__).resolve().parents[2]
SEED = yaml.safe_load((ROOT / "examples" / "seed.yaml").read_text())
TIMEOUT = 120.0
"""Far above what an interrupted run takes: the old code waited all of it, then raised."""
PROMPT = 30.0
"""What "at once" means on a loaded 2-core machine."""

WORKER = "moto.stepfunctions.parser.backend.execution_worker"


def seed() -> dict[str, Any]:
    data = copy.deepcopy(SEED)
    data["defaults"]["strategy"]["bake_seconds"] = 60
    return data


def rollout(*args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )


# -- --timeout --------------------------------------------------------------------------------


def test_a_timeout_prints_the_json_report_so_far_and_exits_1() -> None:
    """Real waits (--time-scale 1, bakes of 300 s): 3 s in, enrich sits on its 10% canary."""
    out = rollout(
        "dry-run", "examples/seed.yaml", "--time-scale", "1", "--timeout", "3", "--format", "json"
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    document = json.loads(out.stdout)
    assert document["status"] == "FAILED"
    assert document["interrupted"]["reason"] == "timeout"
    assert document["interrupted"]["after_seconds"] >= 3
    assert document["error"]["Error"] == "DryRunTimeout"
    assert document["engine_faults"] == [], "stopping the Map is not an engine fault of the run"
    assert document["final"]["enrich"]["weights"] == {"17": 90.0, "18": 10.0}
    assert document["final"]["enrich"]["status"] == "shifting"
    assert document["final"]["ingest"]["weights"] == {"42": 100.0}
    assert [(m["component"], m["weights"]) for m in document["actions"]] == [
        ("enrich", {"17": 90.0, "18": 10.0})
    ]
    assert {"release", "status", "final", "actions", "events", "transitions"} <= set(document)


def test_a_timeout_in_text_mode_says_so_and_exits_1() -> None:
    out = rollout("dry-run", "examples/seed.yaml", "--time-scale", "1", "--timeout", "3")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    assert "Release 2026-11-28.1: FAILED" in out.stdout
    assert "Stopped (timeout" in out.stdout
    assert "17: 90%, 18: 10%" in out.stdout


def test_the_library_still_raises_on_a_timeout_unless_asked_to_report(dry: MakeRun) -> None:
    data = seed()
    data["defaults"]["strategy"]["bake_seconds"] = 300
    with pytest.raises(TimeoutError):
        dry(data, time_scale=1.0).run(timeout=2)


# -- engine-side failures ---------------------------------------------------------------------


def sabotage(monkeypatch: pytest.MonkeyPatch, failure: Callable[..., None]) -> None:
    """The first child execution's interpreter runs ``failure(original, self)``'s way."""
    from moto.stepfunctions.parser.backend import execution_worker

    original = execution_worker.ExecutionWorker._execution_logic
    armed = [True]

    def execution_logic(self: Any) -> None:
        name = self._evaluation_details.execution_details.name
        if armed[0] and "--" in str(name):
            armed[0] = False
            failure(original, self)
            return
        original(self)

    monkeypatch.setattr(execution_worker.ExecutionWorker, "_execution_logic", execution_logic)


def worker_thread_dies(original: Any, self: Any) -> None:
    """The child's interpreter thread ends on an exception: the execution never ends and the
    parent waits for ever (what a 700-component release did after moto's AttributeError)."""

    def broken() -> None:
        raise AttributeError("'str' object has no attribute 'get'")

    self._get_evaluation_entrypoint = broken
    original(self)  # dies inside moto's own thread function


def worker_evaluation_fails(original: Any, self: Any) -> None:
    """moto's "Stepfunctions computation ended with exception": the program fails on a Python
    exception and the execution ends on States.Runtime, which no Catch sees."""
    program = self._get_evaluation_entrypoint()

    def broken(env: Any) -> None:
        raise AttributeError("'str' object has no attribute 'get'")

    self._get_evaluation_entrypoint = lambda: program
    program._eval_body = broken
    original(self)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_an_interpreter_thread_that_dies_ends_the_dry_run_at_once(
    dry: MakeRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    sabotage(monkeypatch, worker_thread_dies)
    began = time.monotonic()
    result = dry(seed()).run(timeout=TIMEOUT, report_interruptions=True)
    assert time.monotonic() - began < PROMPT
    assert result.status == "FAILED"
    assert result.interrupted is not None
    assert result.interrupted["reason"] == "engine-error"
    assert "failed in itself, not the release" in result.interrupted["message"]
    assert "AttributeError" in result.interrupted["message"]
    assert result.report["error"]["Error"] == "EngineError"
    assert any("died" in fault for fault in result.engine_faults), result.engine_faults
    document = result.contract()
    assert document["interrupted"]["reason"] == "engine-error"
    assert document["final"]["ingest"]["weights"] == {"42": 100.0}, "nothing moved: the report"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_without_reporting_a_dead_worker_raises_at_once(
    dry: MakeRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    sabotage(monkeypatch, worker_thread_dies)
    began = time.monotonic()
    with pytest.raises(EngineFaultError, match="failed in itself"):
        dry(seed()).run(timeout=TIMEOUT)
    assert time.monotonic() - began < PROMPT


def test_an_engine_error_no_catch_sees_is_not_passed_off_as_the_release_halting(
    dry: MakeRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child ended on States.Runtime without telling the parent: the dry run stops at once
    with an engine error instead of waiting for ever (or reporting the release HALTED)."""
    sabotage(monkeypatch, worker_evaluation_fails)
    result = dry(seed()).run(timeout=TIMEOUT, report_interruptions=True)
    assert result.status == "FAILED"
    assert result.interrupted is not None
    assert result.interrupted["reason"] == "engine-error"
    assert "failed in itself, not the release" in result.interrupted["message"]
    assert result.report["error"]["Error"] == "EngineError"


def test_a_healthy_run_has_no_engine_faults(dry: MakeRun) -> None:
    result = dry(seed()).run(timeout=TIMEOUT, report_interruptions=True)
    assert result.status == "SUCCEEDED"
    assert result.interrupted is None and result.engine_faults == []
    document = result.contract()
    assert document["interrupted"] is None and document["engine_faults"] == []
