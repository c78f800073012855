"""The view model of `rollout watch` (``orchestrator/cli/watch_view.py``): facts in, rows out.

Each test builds the facts ``operations.watch_facts`` would read for one situation and checks the
picture: a component's state and what it says, the release's state, the roll-forward wait, the
exit code at the end, and what counts as a change.
"""

from __future__ import annotations

import copy
from typing import Any

from orchestrator.cli.watch_view import (
    RELEASE_STATES,
    STATES,
    build_view,
    change_key,
    changed_lines,
    clock_text,
    release_line,
)

NOW = "2026-11-28T12:10:00Z"


def facts(**changes: Any) -> dict[str, Any]:
    """A running release of ingest -> enrich -> store: enrich (wave 1) before ingest (wave 2),
    store unchanged; nothing has moved yet."""
    base: dict[str, Any] = {
        "release": "r1",
        "now": NOW,
        "release_clock": False,
        "status": {
            "release": "r1",
            "execution": {"status": "RUNNING", "arn": "arn:x"},
            "cause": None,
            "components": {
                "ingest": {
                    "wave": 2,
                    "weights": {"42": 100.0},
                    "status": "pending",
                    "target": "43",
                },
                "enrich": {
                    "wave": 1,
                    "weights": {"17": 100.0},
                    "status": "pending",
                    "target": "18",
                },
                "store": {"wave": None, "weights": {"5": 100.0}, "status": "unchanged"},
            },
            "queues": [
                {
                    "queue": "orders",
                    "visible": 12,
                    "in_flight": 3,
                    "delayed": 0,
                    "oldest_age_seconds": 40.0,
                    "dlq": {"url": "u", "messages": 0},
                    "error": None,
                }
            ],
            "rollforward": None,
            "waiting_for_hotfix": None,
            "held": None,
            "report": None,
            "problems": [],
        },
        "records": {},
        "plan": {
            "waves": [["enrich"], ["ingest"]],
            "predecessors": {"enrich": [], "ingest": ["enrich"]},
            "strategy": {
                "enrich": {"steps": [10.0, 50.0, 100.0], "bake_seconds": 300},
                "ingest": {"steps": [10.0, 50.0, 100.0], "bake_seconds": 300},
            },
            "to": {"ingest": "43", "enrich": "18", "store": "5"},
            "drains": [],
        },
        "options": {"time_scale": 1.0, "dry_run": False},
        "drains": {},
        "drained": [],
        "scheduler": {"round": 0, "max_concurrency": 10, "waiting": [], "started": {}},
    }
    for path, value in changes.items():
        target = base
        *parents, last = path.split("__")
        for key in parents:
            target = target[key]
        target[last] = value
    return base


def record(status: str, version: str, expected: dict[str, float], **more: Any) -> dict[str, Any]:
    return {
        "status": status,
        "version": version,
        "expected": expected,
        "promoted": [],
        "promoted_at": None,
        "execution": None,
        "round": 0,
        "shift_started_at": None,
        "shift_finished_at": None,
        "verdicts": 0,
        "last_verdict": None,
        "last_move": None,
        **more,
    }


def verdict(phase: str, version: str, step: float, at: str) -> dict[str, Any]:
    return {
        "phase": phase,
        "component": "enrich",
        "version": version,
        "step": step,
        "at": at,
        "values": {"invocations": 600.0, "errors": 1.0, "error_rate": 0.0017, "extra": 2.0},
        "reasons": ["fine"],
        "evidence": [{"text": "enrich@18: 1 errors / 600 invocations"}],
        "early": False,
    }


def rows(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["component"]: r for r in view["components"]}


def test_before_anything_moved_the_predecessors_are_named_and_unchanged_is_said() -> None:
    view = build_view(facts())
    assert view["state"] == "running" and view["exit_code"] is None
    got = rows(view)
    assert [r["component"] for r in view["components"]] == ["ingest", "enrich", "store"]
    assert got["ingest"]["state"] == "waiting"
    assert got["ingest"]["waiting_for"] == ["enrich"]
    assert got["ingest"]["detail"] == "waits for enrich"
    assert got["enrich"]["state"] == "waiting" and got["enrich"]["waiting_for"] == []
    assert got["store"]["state"] == "unchanged"
    assert got["store"]["detail"] == "not shifted (stays on 5: 100%)"
    assert {r["state"] for r in view["components"]} <= set(STATES)
    assert view["state"] in RELEASE_STATES


def test_a_promoted_predecessor_no_longer_blocks_and_a_started_child_is_starting() -> None:
    data = facts(
        records={"enrich": record("promoted", "18", {"18": 100.0})},
        scheduler__started={"enrich": 0, "ingest": 0},
    )
    got = rows(build_view(data))
    assert got["enrich"]["state"] == "promoted" and got["enrich"]["weight"] == 100.0
    assert got["ingest"]["state"] == "starting"


def test_a_ready_component_without_a_slot_is_queued() -> None:
    data = facts(
        records={"enrich": record("promoted", "18", {"18": 100.0})},
        scheduler__waiting=["ingest"],
        scheduler__max_concurrency=1,
    )
    ingest = rows(build_view(data))["ingest"]
    assert ingest["state"] == "queued"
    assert ingest["detail"] == "ready, waiting for a concurrency slot (max_concurrency 1)"


def test_draining_names_the_queue_and_its_depth_until_the_proof_is_stored() -> None:
    drain = {"queue": "orders", "schema": 1, "after": ["enrich"], "before": ["ingest"]}
    data = facts(
        records={"enrich": record("promoted", "18", {"18": 100.0})},
        scheduler__started={"enrich": 0, "ingest": 0},
        drains={"ingest": {"started_at": "2026-11-28T12:05:00Z", "polls": 3}},
        plan__drains=[drain],
    )
    ingest = rows(build_view(data))["ingest"]
    assert ingest["state"] == "draining"
    assert ingest["detail"] == "draining orders of schema 1 (12 visible, oldest 40s)"
    assert ingest["drain"]["polls"] == 3
    assert ingest["drain"]["queues"] == [
        {"queue": "orders", "schema": 1, "visible": 12, "oldest_age_seconds": 40.0}
    ]
    data["drained"] = ["orders#1"]
    assert rows(build_view(data))["ingest"]["state"] == "starting"


def test_baking_counts_down_from_the_last_verdict_and_shifting_once_the_bake_is_over() -> None:
    shifting = record(
        "shifting",
        "18",
        {"17": 50.0, "18": 50.0},
        shift_started_at="2026-11-28T12:00:00Z",
        last_verdict=verdict("PASSED", "18", 10.0, "2026-11-28T12:06:00Z"),
        round=0,
        execution="arn:child",
    )
    view = build_view(facts(records={"enrich": shifting}))
    enrich = rows(view)["enrich"]
    assert enrich["state"] == "baking"
    assert enrich["weight"] == 50.0
    assert enrich["bake"]["ends_at"] == "2026-11-28T12:11:00Z"
    assert enrich["bake"]["left"] == "1:00" and enrich["bake"]["seconds_left"] == 60.0
    assert enrich["detail"] == "baking at 50% of 18, 1:00 left"
    assert enrich["execution"] == "arn:child"
    shown = enrich["verdict"]
    assert shown["current"] and shown["phase"] == "PASSED" and shown["step"] == 10.0
    assert shown["figures"] == {"invocations": 600.0, "errors": 1.0, "error_rate": 0.0017}
    assert shown["evidence"] == ["enrich@18: 1 errors / 600 invocations"]

    late = build_view(facts(records={"enrich": shifting}, now="2026-11-28T12:12:00Z"))
    assert rows(late)["enrich"]["state"] == "shifting"
    assert rows(late)["enrich"]["detail"] == "shifting at 50% of 18"
    assert rows(late)["enrich"]["bake"] is None


def test_a_hotfix_shift_bakes_from_its_alias_move_and_an_older_verdict_is_not_current() -> None:
    hotfix = record(
        "shifting",
        "19",
        {"18": 90.0, "19": 10.0},
        shift_started_at="2026-11-28T11:00:00Z",
        last_verdict=verdict("PASSED", "18", 100.0, "2026-11-28T11:20:00Z"),
        last_move={"at": "2026-11-28T12:08:00Z", "action": "hotfix-shift", "step": 10.0},
    )
    data = facts(records={"enrich": hotfix}, status__components__enrich__target="19")
    enrich = rows(build_view(data))["enrich"]
    assert enrich["state"] == "baking" and enrich["bake"]["left"] == "3:00"
    assert enrich["weight"] == 10.0
    assert enrich["verdict"]["current"] is False


def test_bakes_are_scaled_on_a_real_clock_and_nominal_in_a_dry_run() -> None:
    shifting = record(
        "shifting", "18", {"17": 90.0, "18": 10.0}, shift_started_at="2026-11-28T12:09:00Z"
    )
    scaled = facts(records={"enrich": shifting}, options={"time_scale": 0.5, "dry_run": False})
    assert rows(build_view(scaled))["enrich"]["bake"]["seconds"] == 150.0
    # a dry run read from outside: its stamps are simulated, "now" is the latest of them
    dry = facts(
        records={"enrich": shifting},
        options={"time_scale": 0.0, "dry_run": True},
        now="2030-01-01T00:00:00Z",
    )
    view = build_view(dry)
    assert view["clock"] == "simulated" and view["at"] == "2026-11-28T12:09:00Z"
    assert rows(view)["enrich"]["bake"]["left"] == "5:00"
    # read in-process, the simulated clock is the one given
    dry["release_clock"] = True
    dry["now"] = "2026-11-28T12:13:30Z"
    assert rows(build_view(dry))["enrich"]["bake"]["left"] == "0:30"


def test_pulled_back_frozen_and_held_say_where_they_stand() -> None:
    failed = verdict("FAILED", "43", 10.0, "2026-11-28T12:09:00Z")
    data = facts(
        records={
            "enrich": record("frozen", "18", {"17": 50.0, "18": 50.0}),
            "ingest": record("pulled-back", "43", {"42": 100.0}, last_verdict=failed),
        }
    )
    got = rows(build_view(data))
    assert got["ingest"]["state"] == "pulled-back"
    assert got["ingest"]["detail"] == "pulled back to 42: 100% after FAILED at 10%"
    assert got["ingest"]["weight"] == 0.0
    assert got["enrich"]["state"] == "frozen"
    assert got["enrich"]["detail"] == "frozen at 17: 50%, 18: 50%"
    held = facts(records={"enrich": record("held", "18", {"17": 90.0, "18": 10.0})})
    assert rows(build_view(held))["enrich"]["detail"] == (
        "held at 17: 90%, 18: 10%: its gate could not judge"
    )


def test_a_promoted_component_with_an_accepted_hotfix_waits_for_its_shift() -> None:
    data = facts(
        records={"enrich": record("promoted", "18", {"18": 100.0})},
        status__components__enrich__target="19",
    )
    enrich = rows(build_view(data))["enrich"]
    assert enrich["state"] == "waiting"
    assert enrich["detail"] == "promoted 18; waits for its shift to 19"


def test_the_hotfix_wait_names_the_round_what_it_needs_and_the_command() -> None:
    waiting = {
        "broken": "enrich",
        "trigger": "ingest",
        "round": 1,
        "requirements": {"reads": {"orders": [1, 2]}, "writes": {}},
        "reasons": ["enrich@18 failed"],
        "deadline": "2026-11-29T12:09:00Z",
        "seconds_left": 86340.0,
        "left": "23h 59m",
    }
    data = facts(
        status__waiting_for_hotfix=waiting,
        status__rollforward={"round": 1, "kind": "gate", "trigger": "ingest", "reasons": []},
    )
    view = build_view(data)
    assert view["state"] == "waiting-for-hotfix"
    wait = view["rollforward"]
    assert (wait["round"], wait["waits_for"], wait["component"]) == (1, "hotfix", "enrich")
    assert wait["requirements"] == {"reads": {"orders": [1, 2]}, "writes": {}}
    assert wait["command"] == "rollout hotfix r1 --component enrich --version <VERSION>"
    assert release_line(view) == (
        "r1: waiting for a hotfix of enrich (roll-forward round 1), 23h 59m left"
    )
    assert rows(view)["ingest"]["detail"] == "waits for enrich"


def test_a_hold_waits_for_resume() -> None:
    held = {"component": "enrich", "version": "18", "step": 10, "why": "not-enough-traffic"}
    view = build_view(facts(status__held={**held, "reasons": ["too few"], "left": "1h 00m"}))
    assert view["state"] == "held"
    assert view["rollforward"]["waits_for"] == "resume"
    assert view["rollforward"]["command"] == "rollout resume r1"


def test_the_end_gives_the_status_and_the_exit_code() -> None:
    def ended(execution: str, report: dict[str, Any] | None) -> dict[str, Any]:
        return build_view(
            facts(status__execution={"status": execution, "arn": "x"}, status__report=report)
        )

    done = ended("SUCCEEDED", {"status": "ROLLED_FORWARD"})
    assert (done["state"], done["status"], done["exit_code"]) == ("ended", "ROLLED_FORWARD", 0)
    assert release_line(done) == "r1: ended ROLLED_FORWARD (exit 0)"
    assert ended("SUCCEEDED", {"status": "HALTED"})["exit_code"] == 1
    # reported success, then failed (the Report's output too large): not completed
    assert ended("FAILED", {"status": "SUCCEEDED"})["exit_code"] == 1
    early = ended("FAILED", None)  # failed before it stored a report
    assert (early["status"], early["exit_code"]) == ("FAILED", 1)
    assert ended("RUNNING", {"status": "SUCCEEDED"})["exit_code"] is None
    # no Step Functions view at all: the stored report says it ended
    assert ended(None, {"status": "SUCCEEDED"})["exit_code"] == 0  # type: ignore[arg-type]


def test_planning_until_the_plan_is_stored() -> None:
    data = facts(plan=None, status__components={}, options=None)
    view = build_view(data)
    assert view["state"] == "planning" and view["components"] == []
    assert release_line(view) == "r1: planning"


def test_readings_do_not_make_a_change_but_states_and_dead_letters_do() -> None:
    shifting = record(
        "shifting", "18", {"17": 90.0, "18": 10.0}, shift_started_at="2026-11-28T12:09:00Z"
    )
    before = facts(records={"enrich": shifting})
    later = copy.deepcopy(before)
    later["now"] = "2026-11-28T12:09:30Z"
    later["status"]["queues"][0].update(visible=3, in_flight=0, oldest_age_seconds=5.0)
    first, second = build_view(before), build_view(later)
    assert rows(first)["enrich"]["bake"]["left"] != rows(second)["enrich"]["bake"]["left"]
    assert change_key(first) == change_key(second)
    assert changed_lines(first, second) == []

    grown = copy.deepcopy(later)
    grown["status"]["queues"][0]["dlq"]["messages"] = 4
    assert change_key(build_view(grown)) != change_key(second)
    moved = copy.deepcopy(later)
    moved["records"]["enrich"]["expected"] = {"17": 50.0, "18": 50.0}
    assert change_key(build_view(moved)) != change_key(second)
    assert changed_lines(second, build_view(moved)) == ["enrich: baking at 50% of 18, 4:30 left"]


def test_log_lines_start_with_everything_and_end_with_the_release() -> None:
    first = build_view(facts())
    assert changed_lines(None, first) == [
        "r1: running",
        "ingest: waits for enrich",
        "enrich: waits for its start",
        "store: not shifted (stays on 5: 100%)",
    ]
    done = facts(
        records={
            "enrich": record("promoted", "18", {"18": 100.0}),
            "ingest": record("promoted", "43", {"43": 100.0}),
        },
        status__execution={"status": "SUCCEEDED", "arn": "x"},
        status__report={"status": "SUCCEEDED"},
    )
    lines = changed_lines(first, build_view(done))
    assert lines[-1] == "r1: ended SUCCEEDED (exit 0)"
    assert "ingest: promoted 43" in lines and "enrich: promoted 18" in lines


def test_clock_text() -> None:
    assert clock_text(0) == "0:00"
    assert clock_text(65.4) == "1:05"
    assert clock_text(3723) == "1:02:03"
    assert clock_text(-5) == "0:00"


def test_a_component_waiting_for_approval_and_a_paused_release_say_so() -> None:
    from orchestrator.cli.watch_view import _manual_gate

    row = {"component": "enrich", "state": "shifting", "detail": "at 10%"}
    status = {
        "approvals": [{"component": "enrich", "step": 50.0, "weight": 10.0, "left": "23h 59m"}],
        "paused": {"since": "2026-12-01T00:00:00Z", "reason": "incident"},
    }
    out = _manual_gate(status, dict(row))
    assert out["approval"]["step"] == 50.0 and out["paused"] is True
    assert out["detail"] == (
        "waiting for approval to 50% at 10%, 23h 59m left (rollout approve); "
        "paused (rollout resume)"
    )
    assert _manual_gate({}, dict(row))["detail"] == "at 10%"
