"""`start --wait`'s live view is what `rollout status` shows: a hotfix wait and a hold appear there
with the commands that answer them (issue 9)."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from orchestrator.cli.views import status_view


def rendered(document: dict[str, Any], hint: str = "") -> str:
    console = Console(record=True, width=200)
    console.print(status_view(document, hint))
    return console.export_text()


BASE: dict[str, Any] = {
    "release": "r1",
    "execution": {"status": "RUNNING", "arn": "arn:x"},
    "components": {},
    "queues": [],
}


def test_the_live_view_shows_the_hotfix_wait_and_the_command() -> None:
    document = {
        **BASE,
        "waiting_for_hotfix": {
            "broken": "enrich",
            "trigger": "ingest",
            "requirements": {"reads": {"orders": [1, 2]}, "writes": {}},
            "reasons": ["enrich@18 error rate 0.05 > 0.01"],
            "seconds_left": 3600,
        },
    }
    text = rendered(document, " --engine http://localhost:4566")
    assert "Waiting for a hotfix of enrich" in text
    assert (
        "rollout hotfix r1 --component enrich --version <VERSION> --reads orders=1,2 "
        "--engine http://localhost:4566" in text
    )


def test_the_live_view_shows_a_hold_and_its_ways_on() -> None:
    document = {
        **BASE,
        "held": {"component": "solo", "version": "2", "step": 10, "why": "not-enough-traffic"},
    }
    text = rendered(document)
    assert "Held" in text and "could not judge (not-enough-traffic)" in text
    assert "rollout resume r1" in text and "rollout abort r1" in text
