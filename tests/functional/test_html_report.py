"""The HTML picture of a release (`rollout report --html`, `dry-run --html`) without a browser:
the page is self-contained, has a lane per component with its markers in time order, escapes
what it shows, and the `--html` option refuses a FILE it cannot write before anything runs.
(``tests/workflow/test_release_picture.py`` opens it in headless Chromium.)"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from orchestrator.cli.app import app
from orchestrator.cli.html_report import render_html
from orchestrator.release.history import release_picture
from orchestrator.testing import FakeRecordStore
from tests.ledger_stories import T0, running_story, seed_story

ROOT = Path(__file__).resolve().parents[2]


class Elements(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def having(self, tag: str, klass: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and klass in a.get("class", "").split()]


def parse(page: str) -> Elements:
    parser = Elements()
    parser.feed(page)
    return parser


@pytest.fixture
def page() -> str:
    records = FakeRecordStore()
    seed_story(records)
    return render_html(release_picture(records, "2026-11-28.1"))


def test_the_page_is_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    tags = {tag for tag, _ in parse(page).tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed"}
    # the only URL is the SVG namespace: nothing is fetched
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+[^\s\"')]*", page))
    assert urls == {"http://www.w3.org/2000/svg"}
    assert "url(#arrow-" in page  # in-document references only
    assert "default-src 'none'" in page


def test_a_lane_per_component_with_its_markers_in_time_order(page: str) -> None:
    dom = parse(page)
    lanes = [a["data-component"] for a in dom.having("g", "lane")]
    assert lanes == ["enrich", "ingest", "store"]
    verdicts = dom.having("g", "verdict")
    assert len(verdicts) == 10
    ats = [v["data-at"] for v in verdicts]
    per_lane: dict[int, list[str]] = {}
    order = [int(v["data-order"]) for v in verdicts]
    lane = -1
    for at, rank in zip(ats, order, strict=True):
        lane += rank == 0
        per_lane.setdefault(lane, []).append(at)
    assert all(times == sorted(times) for times in per_lane.values())
    assert [v["data-phase"] for v in verdicts].count("FAILED") == 1
    actions = [a["data-action"] for a in dom.having("g", "action")]
    assert actions.count("pull-back") == 1
    assert actions.count("hotfix-shift") == 3
    assert len(dom.having("g", "freeze")) == 1
    assert [r["data-round"] for r in dom.having("g", "round")] == ["1"]
    assert len(dom.having("g", "bake")) == 10
    assert [n["data-component"] for n in dom.having("g", "node")] == ["enrich", "ingest", "store"]
    assert {e["data-kind"] for e in dom.having("g", "edge")} == {"none", "consumer-first"}


def test_the_figures_are_on_hover_and_the_final_state_is_shown(page: str) -> None:
    assert "downstream consumer enrich@18 error rate 0.0500" in page
    assert "invocations=300" in page
    assert "19: 100%" in page and "43: 100%" in page
    assert "ROLLED_FORWARD" in page
    assert "Hotfix enrich@19 accepted" in page


def test_what_the_page_shows_is_escaped() -> None:
    records = FakeRecordStore()
    seed_story(records)
    picture = release_picture(records, "2026-11-28.1")
    picture["components"][1]["verdicts"][0]["reasons"] = ['<script>alert("x")</script>']
    picture["findings"] = ["<img src=x onerror=alert(1)>"]
    page = render_html(picture)
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;" in page


def test_a_running_release_and_an_empty_one_still_draw() -> None:
    records = FakeRecordStore()
    running_story(records, "r2", T0)
    page = render_html(release_picture(records, "r2"))
    assert "RUNNING" in page
    assert "baking" in page  # the bake that has no verdict yet
    picture = release_picture(records, "r2")
    for comp in picture["components"]:
        comp["actions"], comp["verdicts"] = [], []
    picture["started"] = None
    assert 'id="timeline-empty"' in render_html(picture)


def test_the_dry_run_page_counts_the_messages() -> None:
    records = FakeRecordStore()
    seed_story(records)
    counts = {"orders": {"sent": 120, "consumed": 120, "queued": 0, "dead_lettered": 0}}
    page = render_html(release_picture(records, "2026-11-28.1"), messages=counts)
    assert 'id="messages"' in page and ">120<" in page


cli = CliRunner()
NO_AWS: dict[str, str | None] = {
    "ROLLOUT_STATE_MACHINE_ARN": None,
    "ROLLOUT_TABLE_NAME": None,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def error_of(result: Any) -> dict[str, str]:
    [error] = json.loads(result.stdout)["errors"]
    return dict(error)


@pytest.mark.parametrize("command", ["report", "dry-run"])
def test_an_html_file_that_cannot_be_written_is_bad_input(command: str, tmp_path: Path) -> None:
    target = "2026-11-28.1" if command == "report" else str(ROOT / "examples" / "seed.yaml")
    for where, expect in (
        (tmp_path / "missing" / "r.html", "mkdir -p"),
        (tmp_path, "is a directory"),
    ):
        result = cli.invoke(app, [command, target, "--html", str(where), "-f", "json"], env=NO_AWS)
        assert result.exit_code == 2, result.stdout + result.stderr
        error = error_of(result)
        assert error["path"] == "--html"
        assert expect in error["message"]


def test_dry_run_keeps_stdout_for_its_report() -> None:
    seed = str(ROOT / "examples" / "seed.yaml")
    result = cli.invoke(app, ["dry-run", seed, "--html", "-", "-f", "json"], env=NO_AWS)
    assert result.exit_code == 2
    assert error_of(result)["path"] == "--html"


def test_report_checks_the_release_id_first() -> None:
    result = cli.invoke(app, ["report", "no such/id", "--html", "x.html", "-f", "json"], env=NO_AWS)
    assert result.exit_code == 2
    assert error_of(result)["path"] == "RELEASE"


def test_report_help_teaches() -> None:
    result = cli.invoke(app, ["report", "--help"], env=NO_AWS)
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for needle in ("--html", "self-contained", "rollout report 2026-11-28.1 --html release.html"):
        assert needle in text
    dry = " ".join(cli.invoke(app, ["dry-run", "--help"], env=NO_AWS).stdout.split())
    assert "--html" in dry


def test_the_example_page_in_docs_is_the_seed_roll_forward_story() -> None:
    page = (ROOT / "docs" / "example-release.html").read_text()
    dom = parse(page)
    assert [a["data-component"] for a in dom.having("g", "lane")] == ["enrich", "ingest", "store"]
    assert "ROLLED_FORWARD" in page and "Hotfix enrich@19 accepted" in page
    assert not {tag for tag, _ in dom.tags} & {"script", "link", "img"}
