"""PrepareShift's pre-traffic smoke test through the fakes, and the judge of its answer.

``components.<name>.smoke`` invokes the new version directly (version qualifier, 0% traffic)
before the first weight (``orchestrator/planning/smoke.py`` judges the answer); a failure is a
FAILED verdict of the 0% step: ``GateFailedError`` with the ``failure`` record, the alias untouched.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.errors import GateFailedError, ManifestError
from orchestrator.model.load import manifest_from_data
from orchestrator.model.manifest import SmokeExpect
from orchestrator.model.steps import ComponentInput, ReleaseRef
from orchestrator.planning.smoke import mismatches, smoke_reasons
from orchestrator.ports import InvokeResult
from orchestrator.release import ledger
from orchestrator.steps.acquire_locks import acquire_locks
from orchestrator.steps.prepare_shift import handler, prepare_shift
from orchestrator.testing import Fakes
from tests.factories import manifest_data

RELEASE = "smoke-1"
SMOKE = {"payload": {"order": "o-1"}, "expect": {"payload": {"status": "ok", "items": [1]}}}


def manifest(smoke: Any = SMOKE) -> dict[str, Any]:
    return manifest_data(
        {
            "enrich": {
                "from": {"version": "17", "reads": {"orders": [1]}},
                "to": {"version": "18", "reads": {"orders": [1, 2]}},
                "smoke": smoke,
            },
        },
        release=RELEASE,
        defaults={"alias": "live", "strategy": {"steps": [10, 100], "bake_seconds": 60}},
    )


def planned(smoke: Any = SMOKE) -> Fakes:
    fakes = Fakes()
    fakes.plan_release(manifest(smoke))
    acquire_locks(ReleaseRef(release=RELEASE), fakes.ports)
    return fakes


def test_a_passing_smoke_test_runs_before_the_first_weight() -> None:
    fakes = planned()
    fakes.invoker.answer("enrich", "18", {"status": "ok", "items": [1], "extra": True})
    shift = prepare_shift(ComponentInput(release=RELEASE, component="enrich"), fakes.ports)
    assert fakes.invoker.calls == [("enrich", "18", {"order": "o-1"})]
    assert shift.weight == 10
    assert fakes.aliases.weights("enrich", "live") == {"17": 90.0, "18": 10.0}
    [verdict] = ledger.get_component(fakes.records, RELEASE, "enrich").verdicts
    assert (verdict.phase.value, verdict.step) == ("PASSED", 0.0)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (InvokeResult(200, {"status": "bad", "items": [1]}), 'payload $.status: expected "ok"'),
        (
            InvokeResult(200, {"errorType": "KeyError", "errorMessage": "'order'"}, "Unhandled"),
            "the function raised KeyError: 'order'",
        ),
        (InvokeResult(202, {"status": "ok", "items": [1]}), "status 202, expected 200"),
    ],
)
def test_a_failed_smoke_test_fails_the_zero_percent_step(answer: InvokeResult, reason: str) -> None:
    fakes = planned()
    fakes.invoker.answer("enrich", "18", answer.payload, status=answer.status, error=answer.error)
    # through the Lambda handler: production's port restrictions (``invoker`` is declared)
    with pytest.raises(GateFailedError, match="smoke test"):
        handler.invoke({"release": RELEASE, "component": "enrich"}, fakes.ports)
    assert fakes.aliases.weights("enrich", "live") == {"17": 100.0}  # nothing moved
    failure = fakes.records.get(RELEASE, "failure") or {}
    assert (failure["step"], failure["phase"], failure["broken"]) == (0.0, "FAILED", "enrich")
    assert any(reason in r for r in failure["reasons"]), failure["reasons"]  # type: ignore[attr-defined]


def test_a_resumed_shift_is_not_smoke_tested_again() -> None:
    fakes = planned()
    fakes.invoker.answer("enrich", "18", {"status": "ok", "items": [1]})
    event = ComponentInput(release=RELEASE, component="enrich")
    prepare_shift(event, fakes.ports)
    prepare_shift(event, fakes.ports)  # a retried PrepareShift resumes at 10%
    assert len(fakes.invoker.calls) == 1


def test_without_smoke_nothing_is_invoked() -> None:
    fakes = Fakes()
    data = manifest()
    del data["components"]["enrich"]["smoke"]
    fakes.plan_release(data)
    acquire_locks(ReleaseRef(release=RELEASE), fakes.ports)
    prepare_shift(ComponentInput(release=RELEASE, component="enrich"), fakes.ports)
    assert fakes.invoker.calls == []


def test_payload_matching_is_a_deep_subset() -> None:
    assert (
        mismatches({"a": {"b": [1, {"c": 2}]}}, {"a": {"b": [1, {"c": 2, "d": 3}]}, "e": 0}) == []
    )
    assert mismatches({"a": 1}, {}) == ["$.a: missing (expected 1)"]
    assert mismatches([1, 2], [1]) == ["$: expected [1, 2], got [1]"]
    assert mismatches(True, 1) == ["$: expected true, got 1"]
    assert smoke_reasons(SmokeExpect(error=True), InvokeResult(200, {"x": 1}, "Unhandled")) == []
    assert smoke_reasons(SmokeExpect(), InvokeResult(200, "not json")) == []


@pytest.mark.parametrize(
    ("smoke", "path"),
    [
        ({"expect": {"status": 42}}, "components.enrich.smoke.expect.status"),
        ({"payload": {"x": 1}, "expct": {}}, "components.enrich.smoke.expct"),
        ({"payload": "x" * 40_000}, "components.enrich.smoke.payload"),
    ],
)
def test_bad_smoke_input_names_the_field(smoke: Any, path: str) -> None:
    with pytest.raises(ManifestError) as refused:
        manifest_from_data(manifest(smoke))
    assert refused.value.exit_code == 2
    assert path in [issue.path for issue in refused.value.issues], refused.value.issues
