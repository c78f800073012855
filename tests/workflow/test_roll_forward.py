"""Roll forward instead of rolling back: the real ASL on the embedded engine, end to end."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from orchestrator.cli.app import app
from orchestrator.operations import waiting_token
from tests.factories import manifest_data
from tests.workflow.conftest import MakeRun, assert_sound, moves, moves_of, wait_until

pytestmark = pytest.mark.workflow

ROOT = Path(__file__).resolve().parents[2]
SEED = yaml.safe_load((ROOT / "examples" / "seed.yaml").read_text())
SEED_BREAKS = yaml.safe_load(
    (ROOT / "examples" / "scenarios" / "seed-enrich-breaks.yaml").read_text()
)
TIMEOUT = 120.0
cli = CliRunner()


def seed(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(SEED)
    data["defaults"]["strategy"]["bake_seconds"] = 60
    data.update(changes)
    return data


def three_waves(**extra: Any) -> dict[str, Any]:
    """src -> q1 -> mid -> q2 -> sink: waves [sink], [mid], [src] (consumer-first twice)."""
    data = manifest_data(
        {
            "src": {
                "from": {"version": "1", "writes": {"q1": 1}},
                "to": {"version": "2", "writes": {"q1": 2}},
            },
            "mid": {
                "from": {"version": "1", "reads": {"q1": [1]}, "writes": {"q2": 1}},
                "to": {"version": "2", "reads": {"q1": [1, 2]}, "writes": {"q2": 2}},
            },
            "sink": {
                "from": {"version": "1", "reads": {"q2": [1]}},
                "to": {"version": "2", "reads": {"q2": [1, 2]}},
            },
        },
        release="three-waves",
        defaults={"strategy": {"steps": [10, 50, 100], "bake_seconds": 60}},
        **extra,
    )
    for name in ("q1", "q2"):
        data["queues"][name]["dlq_url"] = data["queues"][name]["url"] + "-dlq"
    return data


def test_the_seed_story(dry: MakeRun) -> None:
    """enrich@18 (wave 1) breaks on ingest@43's schema 2 (wave 2): roll forward with enrich@19."""
    run = dry(seed(), SEED_BREAKS)
    result = run.run(timeout=TIMEOUT)
    assert result.status == "ROLLED_FORWARD", result.report.get("error")
    report = result.report
    failure = report["failure"]
    assert (failure["component"], failure["broken"]) == ("ingest", "enrich")
    # ingest's canary pulled back (safe: ingest@42 writes schema 1, which enrich reads)
    ingest = moves_of(result, "ingest")
    assert [m["action"] for m in ingest][:2] == ["shift", "pull-back"]
    assert ingest[1]["weights"] == {"42": 100.0}
    # enrich held at 18, never back to 17: its queue holds schema 2 and enrich@17 reads only 1
    enrich = moves_of(result, "enrich")
    assert all(m["weights"].get("17", 0) <= m["previous"].get("17", 0) for m in enrich)
    assert not any(m["action"] == "pull-back" for m in enrich)
    # the report asked for an enrich hotfix reading orders [1, 2]; enrich@19 shipped; ingest resumed
    [note] = [n for n in result.notifications if "hotfix needed" in n["subject"]]
    assert "it must read orders [1, 2]" in note["message"]
    assert "enrich@17 reads orders [1] but schema 2 may be in orders" in note["message"]
    assert [h["version"] for h in report["hotfixes"]] == ["19"]
    assert report["final"]["enrich"]["weights"] == {"19": 100.0}
    assert report["final"]["ingest"]["weights"] == {"43": 100.0}
    assert ingest[-1]["weights"] == {"43": 100.0}
    # DLQ'd messages are still there (redrivable) and nothing was lost
    assert result.messages["orders-dlq"]["queued"] > 0
    for counts in result.messages.values():
        assert counts["sent"] == counts["consumed"] + counts["queued"] + counts["dead_lettered"]
    assert run.simulator is not None
    assert run.simulator.ledger_mismatches() == {}


def test_redrive_after_the_hotfix_moves_dead_letters_back(dry: MakeRun, engine: Any) -> None:
    run = dry(seed(), SEED_BREAKS)
    result = run.run(timeout=TIMEOUT)
    assert result.status == "ROLLED_FORWARD"
    dlq = result.messages["orders-dlq"]["queued"]
    out = cli.invoke(
        app,
        [
            "redrive",
            SEED["release"],
            "--queue",
            "orders",
            "--engine",
            engine.endpoint_url,
            "--format",
            "json",
        ],
    )
    assert out.exit_code == 0, out.stdout + out.stderr
    document = json.loads(out.stdout)
    assert document["messages"] == dlq
    sqs = engine.client("sqs")

    def depth(name: str) -> int:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attrs = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attrs["Attributes"]["ApproximateNumberOfMessages"])

    assert depth("orders-dlq") == 0
    assert depth("orders") == dlq  # every dead-lettered message is back, none lost


def test_failure_in_wave_two_then_hotfix_from_the_cli(dry: MakeRun, engine: Any) -> None:
    """mid@2 (wave 2) writes schema 2 and breaks sink@2 (wave 1): mid pulled back, sink fixed."""
    scenario = {"versions": {"sink@2": {"errors_on": {"q2": {"2": 0.5}}}}}
    run = dry(three_waves(), scenario, auto_hotfix=False, hotfix_timeout_seconds=120)
    # the hotfix version must exist in the account: publish sink@3
    lam = engine.client("lambda")
    lam.update_function_configuration(FunctionName="sink", Description="hotfix")
    wait_until(
        lambda: (
            lam.get_function(FunctionName="sink")["Configuration"]["LastUpdateStatus"]
            == "Successful"
        ),
        what="sink updated",
    )
    assert lam.publish_version(FunctionName="sink")["Version"] == "3"
    arn = run.start()
    assert run.deployment is not None
    ports = run.deployment.ports
    wait_until(lambda: waiting_token(ports, "three-waves"), TIMEOUT, "the hotfix wait")

    status = cli.invoke(
        app, ["status", "three-waves", "--engine", engine.endpoint_url, "-f", "json"]
    )
    assert status.exit_code == 0, status.stderr
    assert json.loads(status.stdout)["execution"]["status"] == "RUNNING"
    waiting = json.loads(status.stdout)["waiting_for_hotfix"]
    assert waiting["broken"] == "sink"
    assert waiting["trigger"] == "mid"
    assert waiting["requirements"]["reads"] == {"q2": [1, 2]}
    assert json.loads(status.stdout)["components"]["mid"]["weights"] == {"1": 100.0}

    notes = run.deployment.notifications()
    assert notes, "the situation report was published"
    message = notes[-1]["message"]
    for line in (
        "mid: [1: 100%] (pulled-back)",
        "sink: [2: 100%] (promoted)",
        "src: [1: 100%]",
        "Queues:",
        "q2:",
        "dead-letter queue",
    ):
        assert line in message

    handed = cli.invoke(
        app,
        [
            "hotfix",
            "three-waves",
            "--component",
            "sink",
            "--version",
            "3",
            "--reads",
            "q2=1,2",
            "--engine",
            engine.endpoint_url,
            "--format",
            "json",
        ],
    )
    assert handed.exit_code == 0, handed.stdout + handed.stderr
    result = run.finish(arn, timeout=TIMEOUT)
    assert result.status == "ROLLED_FORWARD"
    final = result.report["final"]
    assert final["sink"]["weights"] == {"3": 100.0}
    assert final["mid"]["weights"] == {"2": 100.0}
    assert final["src"]["weights"] == {"2": 100.0}
    order = [(m["component"], m["action"]) for m in moves(result)]
    assert order.index(("mid", "pull-back")) < order.index(("sink", "hotfix-shift"))


def test_a_break_at_full_traffic_pulls_the_unpromoted_producer_back(dry: MakeRun) -> None:
    """The consumer breaks only once ingest is at 100%. ingest's 100% step failed its gate, so
    ingest was never promoted: going back to 42 is proven safe (enrich@18 reads schema 1) and
    happens; enrich, promoted in wave 1, is held. Promotion is Promote's verdict, not the
    weight (issue 8)."""
    data = seed()
    # a consumer 1.5% just above the 1% ceiling of the threshold rule, on exact figures
    data["defaults"]["gates"].update(max_dlq_growth=1_000_000, judge="threshold")
    scenario = copy.deepcopy(SEED_BREAKS)
    scenario["noise"] = False
    scenario["versions"] = {"enrich@18": {"errors_on": {"orders": {"2": 0.015}}}}
    run = dry(data, scenario)
    result = run.run(timeout=TIMEOUT)
    assert result.status == "ROLLED_FORWARD"
    assert result.report["failure"]["step"] == 100.0
    ingest = moves_of(result, "ingest")
    pull_backs = [m for m in moves(result) if m["action"] == "pull-back"]
    assert [(m["component"], m["previous"], m["weights"]) for m in pull_backs] == [
        ("ingest", {"43": 100.0}, {"42": 100.0})
    ]
    assert ingest[-1]["weights"] == {"43": 100.0}
    enrich = moves_of(result, "enrich")
    assert all(m["weights"].get("17", 0) <= m["previous"].get("17", 0) for m in enrich)
    held = [d for r in result.notifications for d in [r["message"]] if "held" in d]
    assert held, "the report says what was held and why"
    assert_sound(result)


def test_incompatible_hotfix_is_refused_and_the_release_keeps_waiting(
    dry: MakeRun, engine: Any
) -> None:
    run = dry(
        seed(), {**SEED_BREAKS, "hotfixes": []}, auto_hotfix=False, hotfix_timeout_seconds=120
    )
    lam = engine.client("lambda")
    for _ in range(2):  # enrich@19 and @20 exist
        lam.update_function_configuration(FunctionName="enrich", Description=f"v{_}")
        lam.publish_version(FunctionName="enrich")
    arn = run.start()
    assert run.deployment is not None
    ports = run.deployment.ports
    wait_until(lambda: waiting_token(ports, SEED["release"]), TIMEOUT, "the hotfix wait")
    refused = cli.invoke(
        app,
        [
            "hotfix",
            SEED["release"],
            "-c",
            "enrich",
            "--version",
            "19",
            "--reads",
            "orders=1",
            "--engine",
            engine.endpoint_url,
            "-f",
            "json",
        ],
    )
    assert refused.exit_code == 2
    [error] = json.loads(refused.stdout)["errors"]
    assert error["path"] == "hotfix.enrich@19.reads.orders"
    assert "schema(s) [2] may reach it" in error["message"]
    assert waiting_token(ports, SEED["release"]) is not None  # nothing was sent
    accepted = cli.invoke(
        app,
        [
            "hotfix",
            SEED["release"],
            "-c",
            "enrich",
            "--version",
            "20",
            "--reads",
            "orders=1,2",
            "--engine",
            engine.endpoint_url,
        ],
    )
    assert accepted.exit_code == 0, accepted.stderr
    result = run.finish(arn, timeout=TIMEOUT)
    assert result.status == "ROLLED_FORWARD"
    assert result.report["final"]["enrich"]["weights"] == {"20": 100.0}


def test_a_hotfix_sent_unchecked_is_rejected_by_the_workflow(dry: MakeRun) -> None:
    """The rehearsal sends scenario hotfixes unchecked: ApplyHotfix refuses and keeps waiting."""
    scenario = copy.deepcopy(SEED_BREAKS)
    scenario["hotfixes"] = [
        {
            "component": "enrich",
            "version": "19",
            "reads": {"orders": [1]},
            "writes": {"enriched": 1},
        },
        {
            "component": "enrich",
            "version": "20",
            "reads": {"orders": [1, 2]},
            "writes": {"enriched": 1},
        },
    ]
    result = dry(seed(), scenario).run(timeout=TIMEOUT)
    assert result.status == "ROLLED_FORWARD"
    assert result.report["final"]["enrich"]["weights"] == {"20": 100.0}
    assert [h["version"] for h in result.report["hotfixes"]] == ["20"]
    rejected = [n for n in result.notifications if "Rejected hotfixes" in n["message"]]
    assert rejected and "enrich@19" in rejected[-1]["message"]


def test_hotfix_timeout_fails_the_release_with_the_state_reported(dry: MakeRun) -> None:
    result = dry(seed(), {**SEED_BREAKS, "hotfixes": []}).run(timeout=TIMEOUT)
    assert result.status == "FAILED"
    assert result.execution.status == "FAILED"
    final = result.report["final"]
    assert final["enrich"]["weights"] == {"18": 100.0}
    assert final["ingest"]["weights"] == {"42": 100.0}  # pulled back, nothing half-written
    assert result.report["error"]["Error"] == "States.Timeout"


def test_abort_while_waiting(dry: MakeRun, engine: Any) -> None:
    run = dry(
        seed(), {**SEED_BREAKS, "hotfixes": []}, auto_hotfix=False, hotfix_timeout_seconds=120
    )
    arn = run.start()
    assert run.deployment is not None
    ports = run.deployment.ports
    wait_until(lambda: waiting_token(ports, SEED["release"]), TIMEOUT, "the hotfix wait")
    out = cli.invoke(
        app,
        [
            "abort",
            SEED["release"],
            "--reason",
            "bad data",
            "--engine",
            engine.endpoint_url,
            "-f",
            "json",
        ],
    )
    assert out.exit_code == 0, out.stderr
    assert json.loads(out.stdout)["was_waiting"] is True
    result = run.finish(arn, timeout=TIMEOUT)
    assert result.status == "FAILED"
    assert result.report["error"]["Error"] == "ReleaseAbortedError"
    assert result.report["final"]["enrich"]["weights"] == {"18": 100.0}
    assert ports.leases.holder("enrich:live", run.clock.now()) is None


def test_on_failure_halt_stops_after_notify(dry: MakeRun) -> None:
    result = dry(seed(on_failure="halt"), SEED_BREAKS).run(timeout=TIMEOUT)
    assert result.status == "HALTED"
    assert result.execution.error == "ReleaseHalted"
    assert [n for n in result.notifications if "halted" in n["subject"]]
    assert result.report["final"]["ingest"]["weights"] == {"42": 100.0}
    assert result.report["hotfixes"] == []


def test_second_round_after_a_failing_hotfix(dry: MakeRun) -> None:
    scenario = copy.deepcopy(SEED_BREAKS)
    scenario["versions"]["enrich@19"] = {"error_rate": 0.5}
    scenario["hotfixes"] = [
        {
            "component": "enrich",
            "version": "19",
            "reads": {"orders": [1, 2]},
            "writes": {"enriched": 1},
        },
        {
            "component": "enrich",
            "version": "20",
            "reads": {"orders": [1, 2]},
            "writes": {"enriched": 1},
        },
    ]
    result = dry(seed(), scenario).run(timeout=TIMEOUT)
    assert result.status == "ROLLED_FORWARD"
    report = result.report
    assert [r["round"] for r in report["rounds"]] == [1, 2]
    assert report["rounds"][1]["failure"]["component"] == "enrich"
    assert [h["version"] for h in report["hotfixes"]] == ["19", "20"]
    assert report["final"]["enrich"]["weights"] == {"20": 100.0}
    enrich = moves_of(result, "enrich")
    assert ("pull-back", {"18": 100.0}) in [(m["action"], m["weights"]) for m in enrich]


def test_dry_run_cli_rehearses_the_roll_forward_path() -> None:
    """As the README runs it: its own process, its own embedded engine."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "dry-run",
            "examples/seed.yaml",
            "--scenario",
            "examples/scenarios/seed-enrich-breaks.yaml",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    document = json.loads(out.stdout)
    assert document["status"] == "ROLLED_FORWARD"
    assert {"release", "status", "final", "actions", "events", "transitions"} <= set(document)
    assert document["final"]["enrich"]["version"] == "19"


def test_a_scenario_without_a_hotfix_for_the_broken_component_ends_without_waiting(
    dry: MakeRun,
) -> None:
    """The scenario offers a hotfix, but not for what broke: the rehearsal ends FAILED at once
    (a real release would wait hotfix_timeout_seconds, then fail the same way)."""
    scenario = copy.deepcopy(SEED_BREAKS)
    scenario["hotfixes"] = [
        {"component": "ingest", "version": "44", "reads": {}, "writes": {"orders": 2}}
    ]
    result = dry(seed(), scenario).run(timeout=TIMEOUT)
    assert result.status == "FAILED"
    assert result.report["error"]["Error"] == "NoHotfixInScenario"
    assert result.wall_seconds < 60  # far below the 120 s the wait would otherwise take
    assert result.report["final"]["enrich"]["weights"] == {"18": 100.0}
