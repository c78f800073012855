"""The on-call commands against running releases on the embedded engine (issue 9).

Each test drives the real CLI with ``--engine engine.endpoint_url`` against a release the real ASL
runs: a hotfix request is checked against the stored release before anything is sent, an ended
release says so (exit 1), ``status`` and ``abort`` work whatever the release stored, every failed
end carries its cause, ``redrive`` refuses while the version that dead-lettered is live, and
``abort --force`` leaves no lease behind.
"""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.operations import waiting_token
from orchestrator.release import ledger
from tests.factories import manifest_data
from tests.workflow.conftest import MakeRun, rollout, wait_until

pytestmark = pytest.mark.workflow

ROOT = Path(__file__).resolve().parents[2]
SEED = yaml.safe_load((ROOT / "examples" / "seed.yaml").read_text())
SEED_BREAKS = yaml.safe_load(
    (ROOT / "examples" / "scenarios" / "seed-enrich-breaks.yaml").read_text()
)
RELEASE = SEED["release"]
TIMEOUT = 120.0
RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def errors(out: Any) -> list[dict[str, str]]:
    document: dict[str, Any] = json.loads(out.stdout)
    return list(document["errors"])


def seed() -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(SEED)
    data["defaults"]["strategy"]["bake_seconds"] = 60
    return data


def publish_enrich_19(engine: Any) -> None:
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


def waiting_seed(dry: MakeRun, engine: Any, timeout_seconds: int = 120) -> tuple[Any, str]:
    """The seed story without a scenario hotfix: it waits for an enrich hotfix; enrich@19 is
    published."""
    run = dry(
        seed(),
        {**SEED_BREAKS, "hotfixes": []},
        auto_hotfix=False,
        hotfix_timeout_seconds=timeout_seconds,
    )
    publish_enrich_19(engine)
    arn = run.start()
    assert run.deployment is not None
    wait_until(lambda: waiting_token(run.deployment.ports, RELEASE), TIMEOUT, "the hotfix wait")
    return run, arn


def timestamps(document: Any, key: str = "") -> list[tuple[str, Any]]:
    """Every value under a key that names a time (``at``, ``since``, ``started`` ...)."""
    found: list[tuple[str, Any]] = []
    if isinstance(document, dict):
        for k, v in document.items():
            found.extend(timestamps(v, k))
    elif isinstance(document, list):
        for v in document:
            found.extend(timestamps(v, key))
    elif key in {"at", "since", "started", "stopped", "deadline", "promoted_at"}:
        found.append((key, document))
    return found


def weight_values(document: Any) -> list[Any]:
    found: list[Any] = []
    if isinstance(document, dict):
        for k, v in document.items():
            if k in {"weights", "previous", "expected"} and isinstance(v, dict):
                found.extend(v.values())
            else:
                found.extend(weight_values(v))
    elif isinstance(document, list):
        for v in document:
            found.extend(weight_values(v))
    return found


def test_a_hotfix_request_is_checked_against_the_stored_release_before_anything_is_sent(
    dry: MakeRun, engine: Any
) -> None:
    """Blocker 1 and the Minor input items: undeclared queues name --reads/--writes, schemas of
    the wrong kind, a non-numeric version and a non-ASCII digit are refused with exit 2, and the
    release keeps waiting on the same token."""
    run, arn = waiting_seed(dry, engine)
    assert run.deployment is not None
    ports = run.deployment.ports
    token = waiting_token(ports, RELEASE)
    base = ["hotfix", RELEASE, "--component", "enrich", "--format", "json"]

    refused = rollout(engine, *base, "--version", "19", "--reads", "nosuchq=1")
    assert refused.exit_code == 2, refused.stdout + refused.stderr
    [error] = errors(refused)
    assert error["path"] == "--reads"
    assert "'nosuchq' is not a queue of release" in error["message"]
    assert "enriched, orders" in error["message"]

    refused = rollout(engine, *base, "--version", "19", "--writes", "nosuchq=1")
    assert refused.exit_code == 2, refused.stdout + refused.stderr
    [error] = errors(refused)
    assert error["path"] == "--writes"
    assert "'nosuchq' is not a queue" in error["message"]

    refused = rollout(engine, *base, "--version", "19", "--reads", "orders=a,b")
    assert refused.exit_code == 2, refused.stdout + refused.stderr
    [error] = errors(refused)
    assert error["path"] == "--reads"
    assert "integers" in error["message"] and "short tokens" in error["message"]

    for bad in ("$LATEST", "live"):
        refused = rollout(engine, *base, "--version", bad, "--reads", "orders=1,2")
        assert refused.exit_code == 2, refused.stdout + refused.stderr
        [error] = errors(refused)
        assert error["path"] == "--version"
        assert "--version must be a published version number" in error["message"]

    refused = rollout(engine, *base, "--version", "19", "--reads", "orders=²")
    assert refused.exit_code == 2, refused.stdout + refused.stderr
    assert refused.exception is None or isinstance(refused.exception, SystemExit)
    assert errors(refused)[0]["path"] == "--reads"

    assert waiting_token(ports, RELEASE) == token  # nothing was sent: still the same wait
    handed = rollout(engine, *base, "--version", "19", "--reads", "orders=1,2")
    assert handed.exit_code == 0, handed.stdout + handed.stderr
    result = run.finish(arn, timeout=TIMEOUT)
    assert result.status == "ROLLED_FORWARD"


def test_status_while_waiting_structured_one_clock_and_hints_repeat_the_engine(
    dry: MakeRun, engine: Any
) -> None:
    """Major 5 (time left from one clock, as a duration) and the status JSON items: structured
    queues, RFC 3339 Z timestamps, null for absent values, weights as floats (as in the dry-run
    JSON); the copy-paste hints repeat --engine."""
    run, arn = waiting_seed(dry, engine, timeout_seconds=120)
    out = rollout(engine, "status", RELEASE, "--format", "json")
    assert out.exit_code == 0, out.stdout + out.stderr
    document = json.loads(out.stdout)
    waiting = document["waiting_for_hotfix"]
    assert waiting["broken"] == "enrich"
    assert 0 < waiting["seconds_left"] <= 120, waiting  # the engine's clock, not simulated time
    assert waiting["timeout_seconds"] == 120  # hotfix_timeout_seconds: the wait as it stands
    assert waiting["max_wait_seconds"] >= 120  # what --extend can make of it
    assert re.fullmatch(r"(1m \d\ds|\d+s|2m 00s)", waiting["left"]), waiting["left"]
    orders = next(q for q in document["queues"] if q["queue"] == "orders")
    assert orders["dlq"]["messages"] > 0
    assert {"visible", "in_flight", "oldest_age_seconds", "url", "error"} <= set(orders)
    assert document["execution"]["status"] == "RUNNING"
    assert document["execution"]["stopped"] is None  # null, not ""
    stamps = timestamps(document)
    assert stamps and all(v is None or RFC3339_Z.match(v) for _, v in stamps), stamps
    assert all(v is not None for k, v in stamps if k != "stopped")
    values = weight_values(document)
    assert values and all(isinstance(v, float) for v in values)

    text = rollout(engine, "status", RELEASE)
    assert text.exit_code == 0, text.stderr
    flat = " ".join(text.stdout.split())
    assert "Waiting for a hotfix of enrich" in flat
    assert re.search(r", (1m \d\ds|\d+s|2m 00s) left \(until ", flat), flat
    assert f"--engine {engine.endpoint_url}" in flat  # the hand-over hint reaches this engine

    again = rollout(engine, "start", "examples/seed.yaml")
    assert again.exit_code == 0, again.stdout + again.stderr
    assert "already started" in again.stdout and "started:" not in again.stdout.split()[0:1]
    assert f"rollout status {RELEASE} --engine {engine.endpoint_url}" in again.stdout
    again = rollout(engine, "start", "examples/seed.yaml", "-f", "json")
    assert json.loads(again.stdout)["already_started"] is True

    missing = rollout(engine, "status", "no-such-release", "-f", "json")
    assert missing.exit_code == 2, missing.stdout
    assert f"known releases: {RELEASE}" in errors(missing)[0]["message"]

    aborted = rollout(engine, "abort", RELEASE, "--reason", "test")
    assert aborted.exit_code == 0, aborted.stderr
    assert f"rollout status {RELEASE} --engine {engine.endpoint_url}" in aborted.stdout
    result = run.finish(arn, timeout=TIMEOUT)
    assert result.status == "FAILED"

    ended = rollout(engine, "start", "examples/seed.yaml")
    assert ended.exit_code == 1, ended.stdout + ended.stderr
    assert "already ran (FAILED)" in " ".join(ended.stderr.split())
    assert "already started" not in ended.stdout + ended.stderr


def test_after_a_hotfix_wait_timed_out_the_release_is_not_waiting(
    dry: MakeRun, engine: Any
) -> None:
    """Major 5: the token left in the table by a wait that timed out is no wait: status says
    FAILED with the cause, hotfix exits 1 "is not waiting for a hotfix" (never 3 InvalidToken),
    abort exits 1 saying the release has ended."""
    run, arn = waiting_seed(dry, engine, timeout_seconds=3)
    result = run.finish(arn, timeout=TIMEOUT)
    assert result.status == "FAILED"
    assert result.report["error"]["Error"] == "States.Timeout"

    text = rollout(engine, "status", RELEASE)
    assert text.exit_code == 0, text.stderr
    assert "Waiting for a hotfix" not in text.stdout
    assert "final status: FAILED" in text.stdout
    assert "States.Timeout at WaitForHotfix" in text.stdout
    document = json.loads(rollout(engine, "status", RELEASE, "-f", "json").stdout)
    assert document["waiting_for_hotfix"] is None
    assert document["cause"]["error"] == "States.Timeout"
    assert document["cause"]["state"] == "WaitForHotfix"

    late = rollout(
        engine, "hotfix", RELEASE, "--component", "enrich", "--version", "19", "--reads",
        "orders=1,2",
    )  # fmt: skip
    assert late.exit_code == 1, late.stdout + late.stderr
    assert "is not waiting for a hotfix" in " ".join(late.stderr.split())

    aborted = rollout(engine, "abort", RELEASE, "-f", "json")
    assert aborted.exit_code == 1, aborted.stdout + aborted.stderr
    assert "has ended (FAILED)" in errors(aborted)[0]["message"]
    assert rollout(engine, "resume", RELEASE).exit_code == 1


def test_a_failure_at_the_start_carries_its_cause(
    dry: MakeRun, engine: Any, tmp_path: Path
) -> None:
    """Major 6: an alias moved before the start fails ValidateAndPlan with AliasDriftError;
    `start --wait` (text and JSON) and `status` (text and JSON) say so, not `cause: null`."""
    data = seed()
    dry(data)  # seeds the account: aliases on the `from` versions
    engine.client("lambda").update_alias(FunctionName="ingest", Name="live", FunctionVersion="43")
    manifest = tmp_path / "release.yaml"
    manifest.write_text(yaml.safe_dump(data))

    out = rollout(engine, "start", str(manifest), "--wait", "--format", "json", "--timeout", "60")
    assert out.exit_code == 1, out.stdout + out.stderr
    document = json.loads(out.stdout)
    assert document["status"] == "FAILED"
    cause = document["cause"]
    assert cause["error"] == "AliasDriftError"
    assert cause["state"] == "ValidateAndPlan"
    assert "alias ingest:live is on [43: 100%]" in cause["message"]

    status = rollout(engine, "status", RELEASE, "-f", "json")
    assert status.exit_code == 0, status.stdout + status.stderr  # not "no plan is stored" (2)
    shown = json.loads(status.stdout)
    assert shown["execution"]["status"] == "FAILED"
    assert shown["cause"]["error"] == "AliasDriftError"
    assert "alias ingest:live" in shown["cause"]["message"]
    text = rollout(engine, "status", RELEASE)
    assert text.exit_code == 0
    assert "AliasDriftError at ValidateAndPlan: alias ingest:live" in " ".join(text.stdout.split())

    data["release"] = f"{RELEASE}-text"
    manifest.write_text(yaml.safe_dump(data))
    out = rollout(engine, "start", str(manifest), "--wait", "--timeout", "60")
    assert out.exit_code == 1, out.stdout + out.stderr
    flat = " ".join(out.stdout.split())
    assert "Cause: AliasDriftError at ValidateAndPlan: alias ingest:live is on [43: 100%]" in flat


def test_status_and_abort_work_when_the_stored_manifest_no_longer_validates(
    dry: MakeRun, engine: Any
) -> None:
    """Blocker 1: a stored hotfix naming an undeclared queue (what the old CLI let through)
    makes the stored manifest invalid; status shows the problem (exit 0), abort ends the wait
    (exit 0), hotfix refuses with exit 1 (a stored-data problem is never bad input), and once
    the release ended abort says so."""
    run, arn = waiting_seed(dry, engine)
    assert run.deployment is not None
    records = run.deployment.ports.records
    item = ledger.context_document(records, RELEASE)
    broken = {"version": "19", "reads": {"nosuchq": [1]}, "writes": {}}
    ledger.write_context_document(records, RELEASE, {**item, "hotfixes": {"enrich": [broken]}})

    out = rollout(engine, "status", RELEASE, "-f", "json")
    assert out.exit_code == 0, out.stdout + out.stderr
    document = json.loads(out.stdout)
    assert any("nosuchq" in p for p in document["problems"]), document["problems"]
    assert document["components"]["enrich"]["weights"] == {"18": 100.0}
    assert document["waiting_for_hotfix"]["broken"] == "enrich"
    text = rollout(engine, "status", RELEASE)
    assert text.exit_code == 0, text.stderr
    assert "nosuchq" in text.stdout

    refused = rollout(
        engine, "hotfix", RELEASE, "-c", "enrich", "--version", "19", "--reads", "orders=1,2"
    )
    assert refused.exit_code == 1, refused.stdout + refused.stderr
    assert "stored record has a problem" in " ".join(refused.stderr.split())
    redrive = rollout(engine, "redrive", RELEASE, "--queue", "orders")
    assert redrive.exit_code == 1, redrive.stdout + redrive.stderr

    aborted = rollout(engine, "abort", RELEASE, "--reason", "stored data is broken", "-f", "json")
    assert aborted.exit_code == 0, aborted.stdout + aborted.stderr
    assert json.loads(aborted.stdout)["was_waiting"] is True
    sfn = run.deployment.sfn
    wait_until(
        lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING",
        TIMEOUT,
        "the aborted execution to end",
    )
    after = rollout(engine, "status", RELEASE, "-f", "json")
    assert after.exit_code == 0, after.stdout + after.stderr
    assert json.loads(after.stdout)["waiting_for_hotfix"] is None
    again = rollout(engine, "abort", RELEASE)
    assert again.exit_code == 1
    assert "has ended" in again.stderr


def test_redrive_refuses_while_the_version_that_dead_lettered_is_live(
    dry: MakeRun, engine: Any
) -> None:
    """Major 8: after an abort enrich is still on 18, the version that failed the messages (it
    declares reading schema 2, so a schema check alone passes): redrive refuses (exit 1, nothing
    moved); --force moves them and says so."""
    run, arn = waiting_seed(dry, engine)
    assert rollout(engine, "abort", RELEASE, "--reason", "no fix today").exit_code == 0
    result = run.finish(arn, timeout=TIMEOUT)
    assert result.status == "FAILED"
    dead = result.messages["orders-dlq"]["queued"]
    assert dead > 0

    sqs = engine.client("sqs")

    def depth(name: str) -> int:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attrs = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attrs["Attributes"]["ApproximateNumberOfMessages"])

    refused = rollout(engine, "redrive", RELEASE, "--queue", "orders", "-f", "json")
    assert refused.exit_code == 1, refused.stdout + refused.stderr
    message = errors(refused)[0]["message"]
    assert "enrich@18 is live and is the version that failed messages" in message
    assert "--force" in message
    assert depth("orders-dlq") == dead  # nothing moved

    forced = rollout(engine, "redrive", RELEASE, "--queue", "orders", "--force", "-f", "json")
    assert forced.exit_code == 0, forced.stdout + forced.stderr
    document = json.loads(forced.stdout)
    assert document["forced"] is True
    assert any("enrich@18" in o for o in document["overridden"])
    assert depth("orders-dlq") == 0
    text = rollout(engine, "redrive", RELEASE, "--queue", "orders", "--force")
    assert text.exit_code == 0, text.stderr
    assert "(forced)" in text.stdout


def test_abort_force_gives_back_the_leases_and_writes_the_report(dry: MakeRun, engine: Any) -> None:
    """The --force runbook line: the execution is stopped mid-bake, and the CLI does the cleanup
    the stopped execution cannot: no lease of the release is left, the report is written."""
    run = dry(seed(), time_scale=0.2)  # a 60 s bake takes 12 s: the abort lands mid-bake
    run.start()
    assert run.deployment is not None
    ports = run.deployment.ports
    wait_until(
        lambda: ports.leases.holder("enrich:live", run.clock.now()) == RELEASE,
        TIMEOUT,
        "the release's leases",
    )
    time.sleep(0.5)
    out = rollout(engine, "abort", RELEASE, "--reason", "must stop now", "--force", "-f", "json")
    assert out.exit_code == 0, out.stdout + out.stderr
    document = json.loads(out.stdout)
    assert document["stopped"] is True
    assert "enrich:live" in document["leases_released"]
    for lease in ("enrich:live", "ingest:live"):
        assert ports.leases.holder(lease, run.clock.now()) is None, lease
    report = ports.records.get(RELEASE, "report")
    assert report is not None and report["status"] == "FAILED"
    status = rollout(engine, "status", RELEASE)
    assert status.exit_code == 0, status.stderr
    assert "final status: FAILED" in status.stdout
    assert "ReleaseAbortedError" in status.stdout


def test_a_held_release_is_shown_held_and_resumed_from_the_cli(dry: MakeRun, engine: Any) -> None:
    """The hold path (failed-gate.md, "a held release"): status says Held with the time left and
    the resume line, not "Waiting for a hotfix"; hotfix refuses it (exit 1); `rollout resume`
    continues it and the release completes."""
    data = manifest_data(
        {"solo": {"from": {"version": "1"}, "to": {"version": "2"}}},
        release="solo",
        defaults={"strategy": {"steps": [10, 100], "bake_seconds": 60}},
    )
    run = dry(data, {"traffic_per_minute": 50}, auto_hotfix=False, hotfix_timeout_seconds=120)
    arn = run.start()
    assert run.deployment is not None and run.simulator is not None
    ports = run.deployment.ports
    parked = wait_until(lambda: waiting_token(ports, "solo"), TIMEOUT, "the hold")
    assert parked["purpose"] == "resume"

    text = rollout(engine, "status", "solo")
    assert text.exit_code == 0, text.stderr
    flat = " ".join(text.stdout.split())
    assert "Waiting for a hotfix" not in flat
    assert "Held: the gate of solo@2 at 10" in flat and "not-enough-traffic" in flat
    assert f"rollout resume solo --engine {engine.endpoint_url}" in flat
    document = json.loads(rollout(engine, "status", "solo", "-f", "json").stdout)
    assert document["waiting_for_hotfix"] is None
    assert 0 < document["held"]["seconds_left"] <= 120

    refused = rollout(engine, "hotfix", "solo", "-c", "solo", "--version", "3")
    assert refused.exit_code == 1, refused.stdout + refused.stderr
    assert "is held" in " ".join(refused.stderr.split())

    run.simulator.scenario = run.simulator.scenario.model_copy(update={"traffic_per_minute": 600})
    resumed = rollout(engine, "resume", "solo")
    assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
    assert f"rollout status solo --engine {engine.endpoint_url}" in resumed.stdout
    result = run.finish(arn, timeout=TIMEOUT)
    assert result.status == "SUCCEEDED", result.report.get("error")
    assert rollout(engine, "resume", "solo").exit_code == 1  # ended: nothing to resume
