"""Every example scenario under examples/scenarios/ keeps the invariant on its manifest.

The scenario files are named after the manifest they go with (``seed-*.yaml`` with
``examples/seed.yaml``); each runs through the real ASL on the embedded engine, and the ``dry``
fixture checks ``assert_sound`` on the result: no delivery of a schema its receiver does not read
(``unreadable == 0`` for every queue), no message lost, no backwards move, a terminal status.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.workflow.conftest import MakeRun, unreadable_deliveries

pytestmark = pytest.mark.workflow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCENARIOS = sorted((EXAMPLES / "scenarios").glob("*.yaml"))


def manifest_for(scenario: Path) -> Path:
    return EXAMPLES / f"{scenario.name.split('-', 1)[0]}.yaml"


def test_every_scenario_has_its_manifest() -> None:
    assert SCENARIOS
    for scenario in SCENARIOS:
        assert manifest_for(scenario).is_file(), scenario


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_example_scenario_keeps_the_invariant(dry: MakeRun, scenario: Path) -> None:
    manifest = yaml.safe_load(manifest_for(scenario).read_text())
    result = dry(manifest, yaml.safe_load(scenario.read_text())).run(timeout=300)
    assert result.status in ("SUCCEEDED", "ROLLED_FORWARD"), result.report.get("error")
    assert unreadable_deliveries(result) == {}
    assert result.contract()["messages"], "the report counts messages per queue"
