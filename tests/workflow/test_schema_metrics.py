"""Per-schema message metrics end to end (issue 12, item 2): the simulator publishes them for
``contracts: true`` versions, DrainQueues and Verify read them from the emulated CloudWatch.

What the drain test shows, in figures: the per-schema counts reach DrainQueues (its waiting
reasons name the old schema's last reception), and the drain is proven at the same simulated
instant as without them. It cannot be sooner: the counts see the messages consumers received,
never those still queued, so they are a second condition on the age rule, never a proof
before it (``orchestrator/planning/schema_metrics.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from orchestrator.steps import drain_queues
from tests.factories import manifest_data
from tests.workflow.conftest import MakeRun

pytestmark = pytest.mark.workflow

BAKE = 300
STEPS = [10, 50, 100]
RUN_TIMEOUT = 300


def producer_first(release: str, p: str, c: str) -> dict[str, Any]:
    """p moves q from schema 1 to 2; c@2 drops schema 1: p first, drain q of 1, then c."""
    return manifest_data(
        {
            p: {
                "from": {"version": "1", "writes": {"q": 1}},
                "to": {"version": "2", "writes": {"q": 2}},
            },
            c: {
                "from": {"version": "1", "reads": {"q": [1, 2]}},
                "to": {"version": "2", "reads": {"q": [2]}},
            },
        },
        release=release,
        defaults={"alias": "live", "strategy": {"steps": STEPS, "bake_seconds": BAKE}},
    )


def drain_run(dry: MakeRun, contracts: bool) -> tuple[dict[str, Any], list[str], Any]:
    """40 schema-1 messages worked off at 2 a minute: some left when p is cut over. The two runs
    share the emulated account: each has its own functions (p/c, or pc/cc with contracts)."""
    p, c = ("pc", "cc") if contracts else ("p", "c")
    data = producer_first(f"schema-drain-{c}", p, c)
    scenario: dict[str, Any] = {
        "queues": {"q": {"backlog": {"1": 40}, "drain_per_minute": 2}},
        "noise": False,
    }
    if contracts:
        scenario["versions"] = {f"{c}@1": {"contracts": True}, f"{c}@2": {"contracts": True}}
    run = dry(data, scenario)
    assert run.deployment is not None
    pending: list[str] = []
    check = drain_queues.drained

    def drained(*args: Any) -> str | None:
        waiting = check(*args)
        if waiting is not None:
            pending.append(waiting)
        return waiting

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(drain_queues, "drained", drained)
        result = run.run(timeout=RUN_TIMEOUT)
    assert result.status == "SUCCEEDED", result.report.get("error")
    record = run.deployment.ports.records.get(data["release"], "drained#q#1")
    assert record is not None
    return record, pending, result


def test_drain_with_per_schema_counts_is_proven_when_the_age_rule_would_prove_it(
    dry: MakeRun,
) -> None:
    plain, plain_pending, _ = drain_run(dry, contracts=False)
    counted, counted_pending, result = drain_run(dry, contracts=True)

    # the counts reached DrainQueues: while schema 1 was still worked off, it said so
    assert not any("schema 1" in p for p in plain_pending)
    assert any("schema 1 last received by cc until" in p for p in counted_pending), counted_pending
    # the same proof at the same simulated instant after the cutover: 0 s sooner, 0 s later
    assert plain["kind"] == counted["kind"] == "empty"

    def after_cutover(record: dict[str, Any]) -> float:
        proven = datetime.fromisoformat(str(record["at"]))
        return (proven - datetime.fromisoformat(str(record["cutover"]))).total_seconds()

    assert after_cutover(counted) == after_cutover(plain) == 300.0  # 10 left, 2 a minute
    assert result.messages["q"]["queued"] == 0


def test_verify_puts_a_downstream_failure_on_the_new_schema(dry: MakeRun) -> None:
    """c@1 fails half of the schema-2 messages p@2 writes: p's canary fails at 10% with c
    broken, and the verdict says the failures are on schema 2, not on schema 1."""
    data = manifest_data(
        {
            "p": {
                "from": {"version": "1", "writes": {"q": 1}},
                "to": {"version": "2", "writes": {"q": 2}},
            },
            "c": {"from": {"version": "1", "reads": {"q": [1, 2]}}},
        },
        release="schema-verify",
        defaults={
            "alias": "live",
            "strategy": {"steps": STEPS, "bake_seconds": BAKE},
            "gates": {"judge": "threshold", "max_error_rate": 0.01},
        },
    )
    scenario = {
        "versions": {"c@1": {"contracts": True, "errors_on": {"q": {"2": 0.5}}}},
        "noise": False,
    }
    result = dry(data, scenario).run(timeout=RUN_TIMEOUT)
    assert result.status in ("HALTED", "FAILED")
    failure = result.report["failure"]
    assert failure["component"] == "p" and failure["step"] == 10.0
    line = next(r for r in failure["reasons"] if r.startswith("c on q: schema 2: "))
    assert "the failures are on p@2's new schema 2" in line
    assert "schema 1: 0 of " in line
