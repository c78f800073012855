"""The picture of a release and the history, on the seed's roll-forward story run by the real ASL.

One dry run of examples/seed.yaml under seed-enrich-breaks.yaml on the session's engine (enrich@18
breaks on schema 2, ingest is pulled back, hotfix enrich@19 ships, ingest is promoted), then:

* headless Chromium opens the page and the test asserts on the rendered DOM: a lane per component,
  each lane's verdict markers left to right in time order and inside the timeline, the freeze
  inside the round; a screenshot is saved under pytest's tmp dir;
* `rollout report RELEASE --html FILE --engine URL` draws the same story from the ledger;
* `rollout history --engine URL` lists the release with its versions, status and round;
* `rollout dry-run ... --html FILE` (its own process and engine) writes the page too.

The browser is installed by the test set-up where it is missing and the machine allows it
(``tests/browser.py``: Debian's ``chromium`` with apt-get, as root); elsewhere the browser test
skips and says why.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from orchestrator.cli.app import app
from orchestrator.cli.html_report import render_html
from orchestrator.local.dry_run import DryRun
from orchestrator.local.engine import EmbeddedEngine
from orchestrator.local.scenario import scenario_from_data
from orchestrator.model.load import manifest_from_data
from orchestrator.release.history import release_picture
from tests.browser import Browser, find_or_install_chromium
from tests.processes import cli_env

pytestmark = pytest.mark.workflow

ROOT = Path(__file__).resolve().parents[2]
SEED = yaml.safe_load((ROOT / "examples" / "seed.yaml").read_text())
BREAKS = yaml.safe_load((ROOT / "examples" / "scenarios" / "seed-enrich-breaks.yaml").read_text())
RELEASE = SEED["release"]
CLEAN_ENV: dict[str, str | None] = {
    "ROLLOUT_STATE_MACHINE_ARN": None,
    "ROLLOUT_TABLE_NAME": None,
    "ROLLOUT_TOPIC_ARN": None,
    "ROLLOUT_REGION": None,
}
cli = CliRunner()


@dataclass
class Story:
    engine: EmbeddedEngine
    picture: dict[str, Any]
    page: Path
    result: Any


@pytest.fixture(scope="module")
def story(engine: EmbeddedEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    engine.reset()
    manifest = manifest_from_data(SEED)
    run = DryRun(manifest, SEED, scenario_from_data(BREAKS, manifest), engine=engine)
    run.setup()
    try:
        result = run.run(timeout=180)
        assert result.status == "ROLLED_FORWARD", result.report
        assert run.deployment is not None
        picture = release_picture(run.deployment.ports.records, RELEASE, result.report)
        page = tmp_path_factory.mktemp("picture") / "seed-roll-forward.html"
        page.write_text(render_html(picture, messages=result.messages, source="a dry run"))
        yield Story(engine, picture, page, result)
    finally:
        run.close()


def rollout(story: Story, *args: str) -> Any:
    return cli.invoke(app, [*args, "--engine", story.engine.endpoint_url], env=CLEAN_ENV)


def test_the_picture_tells_the_roll_forward_story(story: Story) -> None:
    picture = story.picture
    assert picture["status"] == "ROLLED_FORWARD"
    names = [c["name"] for c in picture["components"]]
    assert names == ["enrich", "ingest", "store"]
    [round_] = picture["rounds"]
    assert (round_["component"], round_["broken"]) == ("ingest", "enrich")
    assert round_["hotfix"]["version"] == "19"
    assert round_["at"] < round_["resolved_at"] <= picture["finished"]
    [freeze] = picture["freezes"]
    assert freeze["at"] == round_["at"]
    enrich, ingest, store = picture["components"]
    assert enrich["hotfixes"] == ["19"] and enrich["final"]["weights"] == {"19": 100.0}
    assert [a["action"] for a in ingest["actions"]].count("pull-back") == 1
    assert ingest["verdicts"][0]["phase"] == "FAILED"
    assert store["status"] == "unchanged" and not store["actions"]
    assert picture["plan"]["waves"] == [["enrich"], ["ingest"]]


@pytest.fixture(scope="module")
def chromium() -> str:
    path, why = find_or_install_chromium()
    if path is None:
        print(f"\nSKIPPED the browser test: {why}")
        pytest.skip(why)
    return path


LAYOUT = """(() => {
  const box = (el) => { const r = el.getBoundingClientRect();
    return {x: r.x + r.width / 2, y: r.y + r.height / 2, w: r.width, h: r.height}; };
  const svg = document.querySelector('svg#timeline');
  return {
    timeline: box(svg),
    lanes: [...svg.querySelectorAll('g.lane')].map((lane) => ({
      component: lane.dataset.component,
      box: box(lane),
      verdicts: [...lane.querySelectorAll('g.verdict')].map((v) => ({
        at: v.dataset.at, phase: v.dataset.phase, title: v.querySelector('title').textContent,
        ...box(v.querySelector('circle')) })),
      actions: [...lane.querySelectorAll('g.action')].map((a) => ({
        at: a.dataset.at, action: a.dataset.action, ...box(a) })),
      weights: lane.querySelectorAll('rect.weight').length,
    })),
    freezes: [...svg.querySelectorAll('g.freeze line')].map(box),
    rounds: [...svg.querySelectorAll('g.round rect')].map((r) => {
      const b = r.getBoundingClientRect(); return {left: b.left, right: b.right}; }),
    nodes: [...document.querySelectorAll('svg#plan g.node')].map((n) => n.dataset.component),
    status: document.querySelector('#status').textContent,
    title: document.title,
  };
})()"""


def test_chromium_renders_a_lane_per_component_with_markers_in_order(
    story: Story, chromium: str, tmp_path: Path
) -> None:
    with Browser(chromium) as browser:
        browser.open(story.page)
        layout = browser.evaluate(LAYOUT)
        shot = browser.screenshot(tmp_path / "seed-roll-forward.png")
    print(f"\nscreenshot: {shot}")
    assert shot.stat().st_size > 10_000
    assert layout["status"] == "ROLLED_FORWARD"
    assert [lane["component"] for lane in layout["lanes"]] == ["enrich", "ingest", "store"]
    timeline = layout["timeline"]
    left, right = timeline["x"] - timeline["w"] / 2, timeline["x"] + timeline["w"] / 2
    ys = [lane["box"]["y"] for lane in layout["lanes"]]
    assert ys == sorted(ys) and len(set(ys)) == 3  # lanes stacked, one under the other
    for lane, component in zip(layout["lanes"], story.picture["components"], strict=True):
        verdicts = lane["verdicts"]
        assert len(verdicts) == len(component["verdicts"])
        assert [v["at"] for v in verdicts] == sorted(v["at"] for v in verdicts)
        xs = [v["x"] for v in verdicts]
        assert xs == sorted(xs), f"{lane['component']}: markers out of order {xs}"
        assert all(left <= x <= right and v["w"] > 0 for x, v in zip(xs, verdicts, strict=True))
        assert all(abs(v["y"] - lane["box"]["y"]) < lane["box"]["h"] for v in verdicts)
        actions = lane["actions"]
        assert [a["x"] for a in actions] == sorted(a["x"] for a in actions)
        assert lane["weights"] >= 1
    ingest = layout["lanes"][1]["verdicts"]
    assert ingest[0]["phase"] == "FAILED" and "enrich@18" in ingest[0]["title"]
    [freeze] = layout["freezes"]
    [round_] = layout["rounds"]
    assert round_["left"] - 1 <= freeze["x"] <= round_["right"]
    failed_x = ingest[0]["x"]
    assert abs(failed_x - freeze["x"]) < 2  # the freeze is the failed verdict
    assert layout["nodes"] == ["enrich", "ingest", "store"]
    assert "2026-11-28.1" in layout["title"]


def test_report_draws_the_release_from_the_ledger(story: Story, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = rollout(story, "report", RELEASE, "--html", str(out))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert f"wrote {out}" in " ".join(result.stderr.split())
    page = out.read_text()
    for name in ("enrich", "ingest", "store"):
        assert f'data-component="{name}"' in page
    assert page.count('class="verdict"') == sum(
        len(c["verdicts"]) for c in story.picture["components"]
    )
    document = json.loads(rollout(story, "report", RELEASE, "-f", "json").stdout)
    assert document["status"] == "ROLLED_FORWARD"
    assert document["rounds"][0]["hotfix"]["version"] == "19"
    text = rollout(story, "report", RELEASE)
    assert text.exit_code == 0 and "round 1" in text.stdout
    missing = rollout(story, "report", "2026-01-01.9", "-f", "json")
    assert missing.exit_code == 2
    assert json.loads(missing.stdout)["errors"][0]["path"] == "RELEASE"


def test_history_lists_the_release(story: Story) -> None:
    result = rollout(story, "history", "-f", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    [release] = [r for r in document["releases"] if r["release"] == RELEASE]
    assert release["status"] == "ROLLED_FORWARD"
    assert release["rounds"] == 1
    assert release["components"]["enrich"]["hotfixes"] == ["19"]
    assert release["started"] < release["finished"]
    text = rollout(story, "history", "--component", "enrich", "--limit", "1")
    assert text.exit_code == 0
    assert "17 -> 18 -> 19" in text.stdout
    unknown = rollout(story, "history", "--component", "nope", "-f", "json")
    assert unknown.exit_code == 2
    error = json.loads(unknown.stdout)["errors"][0]
    assert error["path"] == "--component" and "enrich" in error["message"]


def test_dry_run_writes_the_page(tmp_path: Path) -> None:
    out = tmp_path / "dry.html"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "dry-run",
            "examples/seed.yaml",
            "--scenario",
            "examples/scenarios/seed-enrich-breaks.yaml",
            "--html",
            str(out),
            "--format",
            "json",
        ],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(done.stdout)
    assert document["status"] == "ROLLED_FORWARD"
    assert document["html"] == str(out)
    page = out.read_text()
    assert page.count('class="lane"') == 3
    assert 'id="messages"' in page
    # the example users open is this very page: the same story, element for element
    example = (ROOT / "docs" / "example-release.html").read_text()
    assert drawn(example) == drawn(page), (
        "docs/example-release.html is not what the seed's roll-forward draws today; regenerate "
        "it: rollout dry-run examples/seed.yaml --scenario "
        "examples/scenarios/seed-enrich-breaks.yaml --html docs/example-release.html"
    )


class _Drawn(HTMLParser):
    KINDS = frozenset({"lane", "verdict", "action", "bake", "freeze", "round", "edge", "node"})

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        kinds = self.KINDS & set((found.get("class") or "").split())
        if tag == "g" and kinds:
            data = {k: v for k, v in found.items() if k.startswith("data-") and k != "data-at"}
            self.items.append((min(kinds), data))


def drawn(page: str) -> list[tuple[str, dict[str, str | None]]]:
    """What a page draws, in order, without the times (a dry run starts at the current minute):
    lanes, bakes, moves, verdicts, the freeze, the round, the plan's nodes and edges."""
    parser = _Drawn()
    parser.feed(page)
    return parser.items
