"""The whole workflow with every Lambda task over HTTP (the Step Functions Local path, DESIGN §6).

``route_lambda_over_http`` serves the dry run's step handlers on a ``LambdaEndpoint`` and makes
the engine call them through HTTP proxies, so each task goes through the Lambda Invoke API and
every function error comes back as an ``X-Amz-Function-Error`` payload that the proxy raises again
by name. The release must end exactly as it does in-process.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.local.dry_run import DryRunResult
from orchestrator.local.engine import EmbeddedEngine
from orchestrator.local.serve import route_lambda_in_process, route_lambda_over_http
from orchestrator.local.sfn_deploy import function_name
from orchestrator.release.leases import lease_key
from tests.workflow.conftest import MakeRun

pytestmark = pytest.mark.workflow

ROOT = Path(__file__).resolve().parents[2]
SEED = yaml.safe_load((ROOT / "examples" / "seed.yaml").read_text())
SCENARIOS = ROOT / "examples" / "scenarios"
TIMEOUT = 120.0


def scenario(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((SCENARIOS / name).read_text())
    return data


def outcome(result: DryRunResult) -> dict[str, Any]:
    """What must not depend on the transport: status, final state, alias moves per component."""
    per_component: dict[str, list[tuple[str, dict[str, float]]]] = defaultdict(list)
    for move in result.report.get("actions", []):
        per_component[move["component"]].append((move["action"], move["weights"]))
    return {
        "status": result.status,
        # simulated times start at the run's own minute: compare everything but them
        "final": {
            name: {k: v for k, v in c.items() if k not in ("started_at", "finished_at")}
            for name, c in result.contract()["final"].items()
        },
        "moves": dict(per_component),
        "failure": (result.report.get("failure") or {}).get("broken"),
        "hotfixes": [(h["component"], h["version"]) for h in result.report.get("hotfixes", [])],
    }


@pytest.mark.parametrize(
    ("scenario_file", "status"),
    [("seed-healthy.yaml", "SUCCEEDED"), ("seed-enrich-breaks.yaml", "ROLLED_FORWARD")],
)
def test_the_seed_ends_the_same_with_lambda_over_http(
    dry: MakeRun, engine: EmbeddedEngine, scenario_file: str, status: str
) -> None:
    in_process = dry(SEED, scenario(scenario_file)).run(timeout=TIMEOUT)
    assert in_process.status == status, in_process.report.get("error")

    engine.reset()
    run = dry(SEED, scenario(scenario_file))
    assert run.deployment is not None
    endpoint = route_lambda_over_http(run.deployment)
    try:
        over_http = run.run(timeout=TIMEOUT)
        served = endpoint.invocations
    finally:
        endpoint.stop()
        route_lambda_in_process(run.deployment)

    assert over_http.status == status, over_http.report.get("error")
    assert outcome(over_http) == outcome(in_process)
    # every task went through the endpoint: one HTTP invocation per proxied call
    assert dict(served) == over_http.lambda_invocations
    assert served[function_name("ValidateAndPlan")] == 1
    assert served[function_name("Advance")] > 0
    assert sum(served.values()) == sum(in_process.lambda_invocations.values())
    if status == "ROLLED_FORWARD":  # the failure path ran over HTTP too
        for step in ("AssessSafety", "WaitForHotfix", "ApplyHotfix"):
            assert served[function_name(step)] > 0, step


def test_a_function_error_over_http_reaches_the_state_machine_by_name(
    dry: MakeRun, engine: EmbeddedEngine
) -> None:
    """A lock held by another release: AcquireLocks raises LockConflictError over HTTP, and the
    execution fails with that error name, as it does in-process."""
    run = dry(SEED, scenario("seed-healthy.yaml"))
    assert run.deployment is not None
    enrich = lease_key(run.manifest.component("enrich"))
    run.deployment.ports.leases.acquire(enrich, "another-release", 3600, run.clock.now())
    endpoint = route_lambda_over_http(run.deployment)
    try:
        result = run.run(timeout=TIMEOUT)
    finally:
        endpoint.stop()
        route_lambda_in_process(run.deployment)

    assert result.status == "FAILED"
    assert result.execution.error == "LockConflictError"
    assert endpoint.invocations[function_name("AcquireLocks")] >= 1
    history_errors = {
        e.get("taskFailedEventDetails", e.get("lambdaFunctionFailedEventDetails", {})).get("error")
        for e in result.execution.history
        if e["type"] in ("TaskFailed", "LambdaFunctionFailed")
    }
    assert "LockConflictError" in history_errors
