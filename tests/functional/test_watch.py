"""`rollout watch` without an engine: its input checks, its help, the polling loop (one picture
per change, a failed read now and then skipped, a read that keeps failing ends it) and the text
it renders. The runs against real releases are in tests/workflow/test_watch.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from rich.console import Console
from typer.testing import CliRunner

from orchestrator.cli import watch_commands
from orchestrator.cli.app import app
from orchestrator.cli.watch_commands import follow_views, render_view
from orchestrator.errors import EnvironmentProblemError, ReleaseNotFoundError
from tests.unit.test_watch_view import facts, record

cli = CliRunner()
ENV: dict[str, str | None] = {"ROLLOUT_STATE_MACHINE_ARN": None, "COLUMNS": "100"}


def test_help_teaches_the_states_the_stream_and_the_exit_codes() -> None:
    out = cli.invoke(app, ["watch", "--help"], env=ENV)
    assert out.exit_code == 0
    text = " ".join(out.stdout.split())
    for needle in (
        "Watch a release live until it ends; exit with its exit code.",
        "baking at N% with the time left",
        "exit 0 SUCCEEDED or ROLLED_FORWARD, 1 HALTED, FAILED or aborted",
        "one JSON object on its own line",
        "rollout watch 2026-11-28.1",
        "--interval",
    ):
        assert needle in text, needle


@pytest.mark.parametrize(
    ("args", "path", "says"),
    [
        (["watch", "not a release!"], "RELEASE", "is not a release id"),
        (["watch", "r1", "--interval", "0"], "--interval", "from 0.1 to 60 (e.g. --interval 2)"),
        (["watch", "r1", "--interval", "600"], "--interval", "seconds between two reads"),
        (["watch", "r1", "--engine", "localhost:4566"], "--engine", "is not the URL of an engine"),
    ],
)
def test_bad_input_exits_2_naming_the_field_and_the_fix(
    args: list[str], path: str, says: str
) -> None:
    out = cli.invoke(app, [*args, "--format", "json"], env=ENV)
    assert out.exit_code == 2, out.stdout + out.stderr
    [error] = json.loads(out.stdout)["errors"]
    assert error["path"] == path and says in error["message"], error


def test_dry_run_progress_takes_live_plain_or_none() -> None:
    out = cli.invoke(app, ["dry-run", "examples/seed.yaml", "--progress", "loud"], env=ENV)
    assert out.exit_code == 2
    said = " ".join(out.stderr.split())
    assert "--progress" in said and "live" in said and "plain" in said and "none" in said
    helped = cli.invoke(app, ["dry-run", "--help"], env={**ENV, "COLUMNS": "400"})
    assert "[default: live on a terminal, plain otherwise]" in helped.stdout


def picture(**changes: Any) -> dict[str, Any]:
    return facts(**changes)


def ended() -> dict[str, Any]:
    return picture(
        records={
            "enrich": record("promoted", "18", {"18": 100.0}),
            "ingest": record("promoted", "43", {"43": 100.0}),
        },
        status__execution={"status": "SUCCEEDED", "arn": "x"},
        status__report={"status": "SUCCEEDED"},
    )


class Script:
    """Reads that return (or raise) what they are given, in order; the last one repeats."""

    def __init__(self, *steps: Any) -> None:
        self.steps = list(steps)
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        step = self.steps[min(self.calls, len(self.steps) - 1)]
        self.calls += 1
        if isinstance(step, BaseException):
            raise step
        result: dict[str, Any] = step
        return result


def test_one_picture_per_change_until_the_release_ends() -> None:
    running = picture()
    later = picture(now="2026-11-28T12:10:30Z")  # only a reading moved
    moving = picture(records={"enrich": record("shifting", "18", {"17": 90.0, "18": 10.0})})
    read = Script(running, later, moving, moving, ended())
    told: list[tuple[str, bool]] = []
    last = follow_views(
        read,
        lambda v, changed: told.append((v["state"], changed)),
        interval=0,
        sleep=lambda _: None,
    )
    assert last["exit_code"] == 0 and last["status"] == "SUCCEEDED"
    assert [changed for _, changed in told] == [True, False, True, False, True]
    assert read.calls == 5


def test_a_failed_read_is_skipped_and_one_that_lasts_ends_the_watch() -> None:
    boom = EndpointConnectionError(endpoint_url="http://localhost:1")
    read = Script(picture(), boom, ended())
    views: list[dict[str, Any]] = []
    follow_views(read, lambda v, _: views.append(v), interval=0, sleep=lambda _: None)
    assert "the last read failed (retrying)" in views[1]["problems"][0]
    assert views[-1]["state"] == "ended"

    now = [0.0]

    def tick(seconds: float) -> None:
        now[0] += 10.0

    with pytest.raises(EnvironmentProblemError, match="could not be read for 60s"):
        follow_views(
            Script(picture(), boom),
            lambda v, _: None,
            interval=1,
            sleep=tick,
            clock=lambda: now[0],
        )
    with pytest.raises(ReleaseNotFoundError):  # the first read's error is the command's
        follow_views(Script(ReleaseNotFoundError("no release")), lambda v, _: None, interval=0)


def test_the_text_view_shows_rows_queues_and_the_command_that_answers_a_wait() -> None:
    from orchestrator.cli.watch_view import build_view

    data = picture(
        records={
            "ingest": record("pulled-back", "43", {"42": 100.0}),
            "enrich": record("promoted", "18", {"18": 100.0}),
        },
        status__waiting_for_hotfix={
            "broken": "enrich",
            "trigger": "ingest",
            "requirements": {"reads": {"orders": [1, 2]}, "writes": {}},
            "reasons": ["enrich@18 failed half the schema-2 messages"],
            "left": "23h 59m",
        },
        status__rollforward={"round": 1},
    )
    console = Console(record=True, width=200)
    console.print(render_view(build_view(data), " --engine http://localhost:4566"))
    text = console.export_text()
    assert "r1: waiting for a hotfix of enrich (roll-forward round 1), 23h 59m left" in text
    assert "pulled back to 42: 100%" in text and "promoted 18" in text
    assert "orders: 12 visible, 3 in flight, oldest 40s; dead-letter queue 0" in text
    assert "Roll-forward round 1: waits for a hotfix of enrich, 23h 59m left" in text
    assert "  - enrich@18 failed half the schema-2 messages" in text
    assert (
        "answer it: rollout hotfix r1 --component enrich --version <VERSION> "
        "--engine http://localhost:4566" in text
    )


def test_plain_output_logs_changes_with_their_time() -> None:
    console = Console(record=True, width=200)
    read = Script(picture(), picture(now="2026-11-28T12:10:01Z"), ended())
    last = watch_commands._plain(read, 0.1, console)
    assert last["exit_code"] == 0
    lines = console.export_text().splitlines()
    assert lines[0] == "2026-11-28T12:10:00Z r1: running"
    assert lines[-1] == "2026-11-28T12:10:00Z r1: ended SUCCEEDED (exit 0)"
    assert len([x for x in lines if "ingest: waits for enrich" in x]) == 1


def test_a_live_display_leaves_the_process_streams_alone() -> None:
    """A display stopping while another command of the process (a CliRunner, a thread) has its
    own stdout in place must not put the old one back (Rich's default does): that command's
    output would vanish mid-line."""
    import io
    import sys

    from orchestrator.cli.base import live_display

    outer = sys.stdout
    live = live_display(
        Console(file=io.StringIO(), force_terminal=True), "watching", transient=True
    )
    live.start()
    try:
        assert sys.stdout is outer
        mine = io.StringIO()
        sys.stdout = mine  # another command takes stdout while the display runs
        live.stop()
        assert sys.stdout is mine
    finally:
        sys.stdout = outer
