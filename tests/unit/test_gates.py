"""Gate verdicts (``planning.gates.evaluate``, pure), and what ``steps.verify`` feeds them.

The pure cases build an ``Observation`` by hand; the cases whose data problem is detected while
reading CloudWatch (incomplete or missing series, which downstream consumers must meet the new
data) go through ``verify`` on the in-memory fakes of ``orchestrator.testing``.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.errors import TransientError
from orchestrator.model.manifest import Gates
from orchestrator.model.steps import Phase, ShiftState, Verdict
from orchestrator.planning.gates import Observation, VersionFigures, evaluate
from orchestrator.release.verify import verify
from orchestrator.testing import Fakes
from tests.factories import manifest_data

GATES = Gates(max_error_rate=0.01, max_throttles=0, min_invocations=20)


def own(invocations: float, errors: float = 0.0, throttles: float = 0.0) -> VersionFigures:
    return VersionFigures("enrich", "18", invocations, errors, throttles)


def judge(seen: Observation, gates: Gates = GATES) -> Verdict:
    return evaluate(gates, "enrich", "18", 10.0, seen)


# -- ERROR ----------------------------------------------------------------------------------------


def test_a_failed_read_is_error_never_failed() -> None:
    seen = Observation(own=own(300, errors=300), failed_reads=["Errors of enrich@18"])
    verdict = judge(seen)
    assert verdict.phase is Phase.ERROR
    assert verdict.reasons == ["could not read Errors of enrich@18"]


def test_no_own_figures_is_error() -> None:
    assert judge(Observation(own=None)).phase is Phase.ERROR


def test_an_unknown_alarm_state_is_error() -> None:
    """Regression: a state other than OK/ALARM/INSUFFICIENT_DATA was ignored (PASSED)."""
    verdict = judge(Observation(own=own(300), alarms={"orders-5xx": "BROKEN"}))
    assert verdict.phase is Phase.ERROR
    assert "orders-5xx" in verdict.reasons[0]


# -- too little traffic never FAILS -------------------------------------------------------------


def test_one_error_in_three_invocations_is_inconclusive_not_failed() -> None:
    """Regression: FAILED was decided before min_invocations (1/3 = 33% > 1%)."""
    verdict = judge(Observation(own=own(3, errors=1)))
    assert verdict.phase is Phase.INCONCLUSIVE
    assert verdict.reasons == ["enrich@18 had 3 invocations < min_invocations 20"]


def test_the_error_rate_fails_once_the_sample_is_big_enough() -> None:
    verdict = judge(Observation(own=own(20, errors=1)))
    assert verdict.phase is Phase.FAILED
    assert verdict.broken == "enrich"
    reason = verdict.reasons[0]
    assert "error rate 0.0500 > max_error_rate 0.01 (1 errors / 20 invocations)" in reason


def test_zero_invocations_is_inconclusive() -> None:
    verdict = judge(Observation(own=own(0)))
    assert verdict.phase is Phase.INCONCLUSIVE


def test_zero_invocations_never_pass_whatever_the_configuration() -> None:
    """Regression: ``min_invocations: 0`` PASSED a version that never ran. The manifest now
    refuses 0; the gate requires one invocation even from a Gates built around that check."""
    gates = Gates.model_construct(**{**GATES.model_dump(), "min_invocations": 0})
    verdict = judge(Observation(own=own(0)), gates)
    assert verdict.phase is Phase.INCONCLUSIVE
    assert verdict.reasons == ["enrich@18 had 0 invocations < min_invocations 1"]


def test_downstream_errors_with_few_invocations_do_not_fail() -> None:
    """Regression: a downstream version had no minimum (2 errors in 4 invocations FAILED)."""
    seen = Observation(
        own=own(300), downstream=[VersionFigures("store", "5", invocations=4, errors=2)]
    )
    verdict = judge(seen)
    assert verdict.phase is Phase.PASSED
    assert verdict.values["downstream.store@5.errors"] == 2


def test_downstream_errors_with_enough_invocations_fail_and_name_the_consumer() -> None:
    seen = Observation(
        own=own(300),
        downstream=[
            VersionFigures("store", "5", invocations=100, errors=10),
            VersionFigures("store", "6", invocations=3, errors=3),  # too few to count
        ],
    )
    verdict = judge(seen)
    assert verdict.phase is Phase.FAILED
    assert verdict.broken == "store"
    assert len(verdict.reasons) == 1
    assert verdict.reasons[0].startswith("downstream consumer store@5 error rate 0.1000")


def test_downstream_that_has_not_met_the_new_data_keeps_the_step_inconclusive() -> None:
    seen = Observation(
        own=VersionFigures("enrich", "19", 300, 0),
        downstream=[
            VersionFigures("store", "5", invocations=2, errors=0),
            VersionFigures("store", "6", invocations=1, errors=0),
        ],
        new_data_readers={"store": ["enriched"]},
    )
    verdict = evaluate(GATES, "enrich", "19", 10.0, seen)
    assert verdict.phase is Phase.INCONCLUSIVE
    assert verdict.reasons == [
        "downstream store has not met enrich@19's new data yet: 3 invocations < "
        "min_invocations 20 (it reads enriched)"
    ]


def test_downstream_meets_the_new_data_summed_over_its_live_versions() -> None:
    seen = Observation(
        own=own(300),
        downstream=[VersionFigures("store", "5", 10, 0), VersionFigures("store", "6", 10, 0)],
        new_data_readers={"store": ["enriched"]},
    )
    assert judge(seen).phase is Phase.PASSED


# -- what FAILS whatever the sample -------------------------------------------------------------


def test_an_alarm_in_alarm_fails_even_with_few_invocations() -> None:
    verdict = judge(Observation(own=own(2), alarms={"orders-5xx": "ALARM"}))
    assert verdict.phase is Phase.FAILED
    assert verdict.reasons == ["alarm orders-5xx is in ALARM"]


def test_throttles_fail_even_with_few_invocations() -> None:
    verdict = judge(Observation(own=own(2, throttles=3)))
    assert verdict.phase is Phase.FAILED
    assert verdict.reasons == ["enrich@18 throttles 3 > max_throttles 0"]


def test_dead_letter_growth_fails_even_with_few_invocations() -> None:
    verdict = judge(Observation(own=own(2), dlq_growth={"orders": 5}))
    assert verdict.phase is Phase.FAILED
    assert verdict.reasons == ["dead-letter queue of orders grew by 5 > max_dlq_growth 0"]


@pytest.mark.parametrize(
    ("policy", "phase"),
    [
        (None, Phase.INCONCLUSIVE),  # absent: inconclusive
        ("inconclusive", Phase.INCONCLUSIVE),
        ("ok", Phase.PASSED),
        ("failed", Phase.FAILED),
    ],
)
def test_insufficient_data_follows_the_alarm_policy(policy: str | None, phase: Phase) -> None:
    """Regression (inconclusive, failed and the default): INSUFFICIENT_DATA counted as OK."""
    gates = GATES.model_copy(
        update={
            "alarms": ("orders-5xx",),
            "insufficient_data": {} if policy is None else {"orders-5xx": policy},
        }
    )
    verdict = judge(Observation(own=own(300), alarms={"orders-5xx": "INSUFFICIENT_DATA"}), gates)
    assert verdict.phase is phase
    if phase is not Phase.PASSED:
        assert "alarm orders-5xx is in INSUFFICIENT_DATA" in verdict.reasons[0]


def test_passed() -> None:
    verdict = judge(Observation(own=own(300, errors=1), alarms={"orders-5xx": "OK"}))
    assert verdict.phase is Phase.PASSED
    assert verdict.reasons == []
    assert verdict.values["invocations"] == 300
    assert verdict.values["error_rate"] == pytest.approx(1 / 300, abs=1e-6)


# -- through verify, on the fakes ---------------------------------------------------------------


def chain(enrich_to_writes: int) -> dict[str, Any]:
    """enrich 18 -> 19 writes ``enriched`` 1 -> ``enrich_to_writes``; store@5 reads [1, 2]."""
    return manifest_data(
        {
            "enrich": {
                "from": {"version": "18", "reads": {"orders": [1, 2]}, "writes": {"enriched": 1}},
                "to": {
                    "version": "19",
                    "reads": {"orders": [1, 2]},
                    "writes": {"enriched": enrich_to_writes},
                },
            },
            "store": {"from": {"version": "5", "reads": {"enriched": [1, 2]}}},
        },
        defaults={
            "alias": "live",
            "strategy": {"steps": [10, 50, 100], "bake_seconds": 300},
            "gates": {"min_invocations": 20},
        },
    )


def check(fakes: Fakes, data: dict[str, Any]) -> Verdict:
    context = fakes.plan_release(data)
    shift = ShiftState(
        step_index=0,
        weight=10.0,
        bake_seconds=300,
        nominal_bake_seconds=300,
        started_at=fakes.clock.now(),
        version="19",
        base_version="18",
        steps=[10.0, 50.0, 100.0],
    )
    fakes.clock.advance(300)
    return verify(fakes.ports, context, "enrich", shift)


def test_verify_an_incomplete_series_is_error() -> None:
    """Regression: ``MetricResult.complete`` was ignored, the partial sum PASSED."""
    fakes = Fakes()
    fakes.metrics.set_lambda("enrich", "live", "19", invocations=300)
    fakes.metrics.set_lambda("store", "live", "5", invocations=300)
    dims = {"FunctionName": "enrich", "Resource": "enrich:live", "ExecutedVersion": "19"}
    fakes.metrics.set("Errors", dims, [0.0], complete=False)
    verdict = check(fakes, chain(1))
    assert verdict.phase is Phase.ERROR
    assert "Errors of enrich@19 (CloudWatch returned it incomplete)" in verdict.reasons[0]


def test_verify_errors_and_throttles_missing_while_invocations_are_there_is_error() -> None:
    """Regression: with both series missing it returned PASSED (0 errors / 300 invocations)."""
    fakes = Fakes()
    fakes.metrics.set_lambda("enrich", "live", "19", invocations=300, errors=None, throttles=None)
    fakes.metrics.set_lambda("store", "live", "5", invocations=300)
    verdict = check(fakes, chain(1))
    assert verdict.phase is Phase.ERROR
    assert "Errors of enrich@19 (no datapoints while Invocations has 300)" in verdict.reasons[0]
    # an empty Throttles series is normal (throttled requests run no version): not a failed read
    assert "Throttles of enrich@19" not in verdict.reasons[0]


def test_verify_a_downstream_errors_series_missing_is_error() -> None:
    """Regression: a downstream consumer without its Errors series counted 0 errors."""
    fakes = Fakes()
    fakes.metrics.set_lambda("enrich", "live", "19", invocations=300)
    fakes.metrics.set_lambda("store", "live", "5", invocations=300, errors=None)
    verdict = check(fakes, chain(1))
    assert verdict.phase is Phase.ERROR
    assert "Errors of store@5" in verdict.reasons[0]


def test_verify_a_version_without_any_datapoint_is_inconclusive_not_error() -> None:
    fakes = Fakes()  # nothing scripted: CloudWatch has no data for enrich@19
    fakes.metrics.set_lambda("store", "live", "5", invocations=300)
    verdict = check(fakes, chain(1))
    assert verdict.phase is Phase.INCONCLUSIVE
    assert verdict.reasons == ["enrich@19 had 0 invocations < min_invocations 20"]


def test_verify_cloudwatch_refusing_is_error() -> None:
    fakes = Fakes()
    fakes.metrics.fail_next("query", TransientError("Rate exceeded"))
    verdict = check(fakes, chain(1))
    assert verdict.phase is Phase.ERROR
    assert "Rate exceeded" in verdict.reasons[0]


def test_verify_downstream_that_has_not_met_the_new_schema_is_inconclusive() -> None:
    """Regression: store with 3 invocations PASSED although enrich@19 writes it schema 2."""
    fakes = Fakes()
    fakes.metrics.set_lambda("enrich", "live", "19", invocations=300)
    fakes.metrics.set_lambda("store", "live", "5", invocations=3)
    verdict = check(fakes, chain(2))
    assert verdict.phase is Phase.INCONCLUSIVE
    assert verdict.reasons == [
        "downstream store has not met enrich@19's new data yet: 3 invocations < "
        "min_invocations 20 (it reads enriched)"
    ]


def test_verify_downstream_of_an_unchanged_schema_need_not_show_traffic() -> None:
    fakes = Fakes()
    fakes.metrics.set_lambda("enrich", "live", "19", invocations=300)
    fakes.metrics.set_lambda("store", "live", "5", invocations=3)
    assert check(fakes, chain(1)).phase is Phase.PASSED


def test_verify_downstream_that_met_the_new_schema_passes() -> None:
    fakes = Fakes()
    fakes.metrics.set_lambda("enrich", "live", "19", invocations=300)
    fakes.metrics.set_lambda("store", "live", "5", invocations=40, errors=0)
    verdict = check(fakes, chain(2))
    assert verdict.phase is Phase.PASSED
    assert verdict.values["downstream.store.invocations"] == 40
    # one GetMetricData call for the whole check, own and downstream series
    assert len(fakes.metrics.queries) == 1
    assert verdict.at == fakes.clock.now()
