"""`rollout hotfix RELEASE --extend DURATION` (issue 13 item 6) on the embedded engine.

The extension is a SendTaskHeartbeat on the parked task token: the wait's HeartbeatSeconds
(``hotfix_timeout_seconds``) restarts from now, the release's leases are renewed, and `rollout
status` shows the new deadline and the extensions. The wait's TimeoutSeconds
(``hotfix_max_wait_seconds``, a week by default: the parent's TimeoutSecondsPath) still caps it:
with a cap equal to the heartbeat an extension past it is refused (exit 1) and nothing is sent;
with the cap above it, heartbeats keep the wait open past ``hotfix_timeout_seconds``.

These waits are wall-clock (the engine's task timeouts are real seconds), so the heartbeat test
keeps every margin at several seconds.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.definition import load_definition
from orchestrator.errors import InputError
from orchestrator.operations import parse_duration, waiting_token
from tests.workflow.conftest import MakeRun, rollout, wait_until

pytestmark = pytest.mark.workflow

ROOT = Path(__file__).resolve().parents[2]
SEED = yaml.safe_load((ROOT / "examples" / "seed.yaml").read_text())
BREAKS = yaml.safe_load((ROOT / "examples" / "scenarios" / "seed-enrich-breaks.yaml").read_text())
RELEASE = SEED["release"]
TIMEOUT = 120.0


def waiting_seed(dry: MakeRun, wait_seconds: int, max_wait_seconds: int | None = None) -> Any:
    data: dict[str, Any] = copy.deepcopy(SEED)
    data["defaults"]["strategy"]["bake_seconds"] = 60
    if max_wait_seconds is not None:
        data["hotfix_timeout_seconds"] = wait_seconds
        data["hotfix_max_wait_seconds"] = max_wait_seconds
    return dry(
        data,
        {**BREAKS, "hotfixes": []},
        auto_hotfix=False,
        hotfix_timeout_seconds=wait_seconds,
    )


def status(engine: Any) -> dict[str, Any]:
    out = rollout(engine, "status", RELEASE, "--format", "json")
    assert out.exit_code == 0, out.stdout + out.stderr
    document: dict[str, Any] = json.loads(out.stdout)
    return document


def test_durations() -> None:
    assert [parse_duration(t) for t in ("2h", "90m", "1h30m", "1d", "45s", "3600")] == [
        7200,
        5400,
        5400,
        86400,
        45,
        3600,
    ]
    for bad in ("2x", "", "h", "-5", "0", "1.5h"):
        with pytest.raises(InputError) as refused:
            parse_duration(bad)
        assert refused.value.exit_code == 2, bad
        assert refused.value.issues[0].path == "--extend"


def test_extend_is_a_heartbeat_capped_by_the_waits_timeout(dry: MakeRun, engine: Any) -> None:
    run = waiting_seed(dry, 120, max_wait_seconds=120)
    arn = run.start()
    assert run.deployment is not None
    ports = run.deployment.ports
    wait_until(lambda: waiting_token(ports, RELEASE), TIMEOUT, "the hotfix wait")
    before = status(engine)["waiting_for_hotfix"]
    assert before["heartbeat_seconds"] == 120 and before["extensions"] == []

    too_long = rollout(engine, "hotfix", RELEASE, "--extend", "2h")
    assert too_long.exit_code == 2, too_long.stdout
    assert "--extend" in too_long.stdout + too_long.stderr
    mixed = rollout(engine, "hotfix", RELEASE, "--extend", "1m", "--version", "19")
    assert mixed.exit_code == 2 and "--version" in mixed.stdout + mixed.stderr
    neither = rollout(engine, "hotfix", RELEASE)
    assert neither.exit_code == 2 and "--component" in neither.stdout + neither.stderr

    ok = rollout(engine, "hotfix", RELEASE, "--extend", "1m", "--format", "json")
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    answer = json.loads(ok.stdout)
    assert answer["extended_by_seconds"] == 60
    after = status(engine)["waiting_for_hotfix"]
    assert len(after["extensions"]) == 1 and after["extended_at"] == answer["heartbeat_at"]
    # TimeoutSeconds == HeartbeatSeconds: the heartbeat cannot push the end past the cap
    assert after["deadline"] == before["deadline"]
    text = rollout(engine, "status", RELEASE)
    assert "extended 1 time" in text.stdout and "--extend 2h" in text.stdout

    capped = rollout(engine, "hotfix", RELEASE, "--extend", "120s")
    assert capped.exit_code == 1, capped.stdout
    assert "whatever the heartbeats" in capped.stdout + capped.stderr
    assert len(status(engine)["waiting_for_hotfix"]["extensions"]) == 1  # nothing was sent

    aborted = rollout(engine, "abort", RELEASE, "--reason", "done with the test")
    assert aborted.exit_code == 0, aborted.stdout
    result = run.finish(arn, timeout=TIMEOUT)
    assert result.status == "FAILED"
    late = rollout(engine, "hotfix", RELEASE, "--extend", "1m")
    assert late.exit_code == 1 and "has ended" in late.stdout + late.stderr


def test_the_waits_take_their_cap_from_the_plan() -> None:
    definition = json.loads(load_definition())
    for name in ("WaitForHotfix", "WaitForResume"):
        state = definition["States"][name]
        assert state["TimeoutSecondsPath"] == "$.hotfix_max_wait_seconds", name
        assert state["HeartbeatSecondsPath"] == "$.heartbeat_seconds", name
        assert "TimeoutSeconds" not in state and "HeartbeatSeconds" not in state, name


def test_heartbeats_keep_the_wait_open_past_hotfix_timeout_seconds(
    dry: MakeRun, engine: Any
) -> None:
    heartbeat = 8
    run = waiting_seed(dry, heartbeat, max_wait_seconds=300)
    arn = run.start()
    assert run.deployment is not None
    ports = run.deployment.ports
    wait_until(lambda: waiting_token(ports, RELEASE), TIMEOUT, "the hotfix wait")
    parked_at = time.monotonic()
    extensions = 0
    # a heartbeat every 2 s keeps an 8 s heartbeat wait open (real seconds: the engine's own
    # heartbeat clock is what is tested); short gaps leave a loaded machine 6 s per CLI call
    while time.monotonic() - parked_at <= heartbeat + 2:
        time.sleep(2)
        out = rollout(engine, "hotfix", RELEASE, "--extend", f"{heartbeat}s")
        assert out.exit_code == 0, out.stdout + out.stderr
        extensions += 1
    described = run.deployment.sfn.describe_execution(executionArn=arn)
    assert described["status"] == "RUNNING"  # past the wait without heartbeats
    waiting = status(engine)["waiting_for_hotfix"]
    assert len(waiting["extensions"]) == extensions
    # the wait as it stands (its heartbeat) and the most --extend can make of it
    assert waiting["timeout_seconds"] == heartbeat == waiting["heartbeat_seconds"]
    assert waiting["max_wait_seconds"] == 300

    lam = engine.client("lambda")  # publish enrich@19 and hand it over: the release goes on
    lam.update_function_configuration(FunctionName="enrich", Description="hotfix")
    wait_until(
        lambda: (
            lam.get_function(FunctionName="enrich")["Configuration"]["LastUpdateStatus"]
            == "Successful"
        ),
        what="enrich updated",
    )
    assert lam.publish_version(FunctionName="enrich")["Version"] == "19"
    handed = rollout(
        engine,
        "hotfix",
        RELEASE,
        "--component",
        "enrich",
        "--version",
        "19",
        "--reads",
        "orders=1,2",
        "--writes",
        "enriched=1",
    )
    assert handed.exit_code == 0, handed.stdout + handed.stderr
    result = run.finish(arn, timeout=TIMEOUT)
    assert result.status == "ROLLED_FORWARD", result.report.get("error")
