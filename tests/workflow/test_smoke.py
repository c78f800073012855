"""Pre-traffic smoke tests (issue 13 item 4) on the embedded engine.

``components.<name>.smoke`` makes PrepareShift invoke the new version directly (its version
qualifier: 0% traffic) before the first weight. The dry run's simulator answers the invocation
(moto runs no Lambda code): ``versions: {enrich@18: {smoke: fail}}`` makes it raise. A failed smoke
test is a FAILED verdict of the 0% step and takes the usual roll-forward path: nothing to pull
back, then the hotfix.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.release import ledger
from tests.workflow.conftest import MakeRun, moves_of

pytestmark = pytest.mark.workflow

ROOT = Path(__file__).resolve().parents[2]
SEED = yaml.safe_load((ROOT / "examples" / "seed.yaml").read_text())
TIMEOUT = 120.0
SMOKE = {"payload": {"order": "smoke-1"}, "expect": {"payload": {"status": "enriched"}}}


def seed_with_smoke() -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(SEED)
    data["defaults"]["strategy"]["bake_seconds"] = 60
    data["components"]["enrich"]["smoke"] = copy.deepcopy(SMOKE)
    return data


def test_a_passing_smoke_test_is_a_passed_verdict_before_the_first_weight(dry: MakeRun) -> None:
    run = dry(seed_with_smoke())
    result = run.finish(run.start(), timeout=TIMEOUT)
    assert result.status == "SUCCEEDED", result.report.get("error")
    assert run.deployment is not None
    record = ledger.get_component(run.deployment.ports.records, run.manifest.release, "enrich")
    smoke = record.verdicts[0]
    assert (smoke.phase.value, smoke.step, smoke.version) == ("PASSED", 0.0, "18")
    assert smoke.reasons[0].startswith("smoke test passed")
    assert record.verdicts[1].step == 10.0  # then the canary steps, as ever


def test_a_failed_smoke_test_rolls_forward_with_nothing_to_pull_back(dry: MakeRun) -> None:
    scenario = {
        "traffic_per_minute": 600,
        "versions": {"enrich@18": {"smoke": "fail"}},
        "hotfixes": [
            {
                "component": "enrich",
                "version": "19",
                "reads": {"orders": [1, 2]},
                "writes": {"enriched": 1},
            }
        ],
    }
    run = dry(seed_with_smoke(), scenario)
    result = run.finish(run.start(), timeout=TIMEOUT)
    assert result.status == "ROLLED_FORWARD", result.report.get("error")
    assert run.deployment is not None
    ports = run.deployment.ports
    release = run.manifest.release
    enrich = moves_of(result, "enrich")
    # enrich@18 never had weight: the first move of enrich is the hotfix's
    assert all("18" not in m["weights"] for m in enrich), enrich
    assert enrich[0]["action"] == "hotfix-shift"
    assert result.report["final"]["enrich"]["weights"] == {"19": 100.0}
    rollforward = ledger.get_rollforward(ports.records, release)
    assert rollforward.broken == "enrich"
    failure = rollforward.failure or {}
    assert (failure.get("step"), failure.get("phase")) == (0.0, "FAILED")
    assert any("smoke test" in r for r in failure.get("reasons", [])), failure
    pulled = [d for d in rollforward.decisions if d.get("action") == "pull-back"]
    assert not [d for d in pulled if d.get("component") == "enrich"], rollforward.decisions
