"""Advance through the in-memory fakes: every verdict's response and the re-bake limits.

The release is planned by the real ValidateAndPlan step on the fakes (``Fakes.plan_release``),
its leases taken by AcquireLocks and the first weight set by PrepareShift, exactly as the state
machine does; then each test scripts the metrics CloudWatch would show after the bake and calls
``advance`` (or its Lambda handler, with production's port restrictions).
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.errors import (
    GateFailedError,
    MetricsUnreadableError,
    NotEnoughTrafficError,
    TransientError,
)
from orchestrator.model.steps import ComponentInput, Phase, ReleaseRef, ShiftState
from orchestrator.release import ledger
from orchestrator.steps.acquire_locks import acquire_locks
from orchestrator.steps.advance import advance, handler
from orchestrator.steps.prepare_shift import prepare_shift
from orchestrator.testing import Fakes
from tests.factories import manifest_data

RELEASE = "advance-1"
BAKE = 300


def manifest(**gates: Any) -> dict[str, Any]:
    """enrich 17 -> 18 in steps 10/50/100; store@5 (unchanged) reads what enrich writes."""
    return manifest_data(
        {
            "enrich": {
                "from": {"version": "17", "reads": {"orders": [1]}, "writes": {"enriched": 1}},
                "to": {"version": "18", "reads": {"orders": [1, 2]}, "writes": {"enriched": 1}},
            },
            "store": {"from": {"version": "5", "reads": {"enriched": [1]}}},
        },
        release=RELEASE,
        defaults={
            "alias": "live",
            "strategy": {"steps": [10, 50, 100], "bake_seconds": BAKE},
            "gates": {
                "judge": "threshold",
                "min_invocations": 20,
                "max_inconclusive": 2,
                "max_errors": 2,
                **gates,
            },
        },
    )


class Release:
    """One release on the fakes, shifted up to its first step."""

    def __init__(self, **gates: Any) -> None:
        self.fakes = Fakes()
        self.context = self.fakes.plan_release(manifest(**gates))
        acquire_locks(ReleaseRef(release=RELEASE), self.fakes.ports)
        self.shift = prepare_shift(
            ComponentInput(release=RELEASE, component="enrich"), self.fakes.ports
        )
        self.fakes.metrics.set_lambda("store", "live", "5", invocations=1000)

    def bake(
        self,
        invocations: float | None,
        errors: float | None = 0.0,
        throttles: float | None = 0.0,
        *,
        complete: bool = True,
    ) -> None:
        """The bake passes; CloudWatch then shows these figures for enrich@18."""
        self.fakes.clock.advance(BAKE)
        self.fakes.metrics.set_lambda(
            "enrich",
            "live",
            "18",
            invocations=invocations,
            errors=errors,
            throttles=throttles,
            complete=complete,
        )

    def advance(self) -> ShiftState:
        self.shift = advance(
            ComponentInput(release=RELEASE, component="enrich", shift=self.shift),
            self.fakes.ports,
        )
        return self.shift

    def weights(self) -> dict[str, float]:
        return self.fakes.aliases.weights("enrich", "live")

    def record(self, kind: str) -> dict[str, object] | None:
        return self.fakes.records.get(RELEASE, kind)

    def verdicts(self) -> list[Phase]:
        record = ledger.get_component(self.fakes.records, RELEASE, "enrich")
        return [v.phase for v in record.verdicts]


@pytest.fixture
def release() -> Release:
    return Release()


def test_prepare_shift_set_the_first_step(release: Release) -> None:
    assert [m.weights for m in release.fakes.aliases.moves] == [{"17": 90.0, "18": 10.0}]
    assert (release.shift.step_index, release.shift.weight) == (0, 10.0)


def test_passed_moves_to_the_next_weight(release: Release) -> None:
    release.bake(invocations=300)
    shift = release.advance()
    assert (shift.step_index, shift.weight) == (1, 50.0)
    assert shift.started_at == release.fakes.clock.now()
    assert (shift.inconclusive, shift.errors, shift.done) == (0, 0, False)
    assert release.fakes.aliases.moves[-1].weights == {"17": 50.0, "18": 50.0}
    assert release.weights() == {"17": 50.0, "18": 50.0}
    assert release.verdicts() == [Phase.PASSED]


def test_the_last_step_passed_returns_done(release: Release) -> None:
    for _ in range(3):
        release.bake(invocations=300)
        shift = release.advance()
    assert shift.done
    assert shift.weight == 100.0
    assert [m.weights for m in release.fakes.aliases.moves] == [
        {"17": 90.0, "18": 10.0},
        {"17": 50.0, "18": 50.0},
        {"18": 100.0},
    ]
    assert release.verdicts() == [Phase.PASSED] * 3
    # a repeat of a finished shift changes nothing
    assert release.advance() == shift
    assert len(release.fakes.aliases.moves) == 3


def test_failed_raises_gate_failed_and_writes_failure(release: Release) -> None:
    release.bake(invocations=300, errors=30)
    with pytest.raises(GateFailedError) as raised:
        release.advance()
    assert "gate failed at 10%" in str(raised.value)
    assert (raised.value.component, raised.value.version) == ("enrich", "18")
    failure = release.record("failure")
    assert failure is not None
    assert (failure["component"], failure["broken"], failure["phase"]) == (
        "enrich",
        "enrich",
        "FAILED",
    )
    assert release.record("hold") is None
    assert release.weights() == {"17": 90.0, "18": 10.0}  # nothing moved


def test_one_error_in_three_invocations_rebakes_instead_of_failing(release: Release) -> None:
    """Regression: 1 error in 3 invocations FAILED the gate and demanded a hotfix."""
    release.bake(invocations=3, errors=1)
    shift = release.advance()
    assert (shift.step_index, shift.inconclusive) == (0, 1)
    assert release.record("failure") is None
    assert release.verdicts() == [Phase.INCONCLUSIVE]


def test_inconclusive_rebakes_up_to_max_inconclusive_then_not_enough_traffic(
    release: Release,
) -> None:
    """Regression: an exhausted INCONCLUSIVE raised GateFailedError and wrote ``failure``."""
    for expected in (1, 2):
        release.bake(invocations=7)
        shift = release.advance()
        assert (shift.step_index, shift.weight, shift.inconclusive) == (0, 10.0, expected)
    release.bake(invocations=7)
    with pytest.raises(NotEnoughTrafficError) as raised:
        release.advance()
    error = raised.value
    assert not isinstance(error, GateFailedError)
    message = str(error)
    assert message.startswith("not enough traffic to judge enrich@18 at 10%")
    assert "3 inconclusive checks" in message
    assert "7 invocations < min_invocations 20" in message
    assert (error.component, error.version) == ("enrich", "18")
    assert release.record("failure") is None
    hold = release.record("hold")
    assert hold is not None
    assert hold["why"] == "not-enough-traffic"
    assert (hold["component"], hold["version"], hold["step"], hold["phase"]) == (
        "enrich",
        "18",
        10.0,
        "INCONCLUSIVE",
    )
    assert hold["values"] == {
        "invocations": 7.0,
        "errors": 0.0,
        "throttles": 0.0,
        "error_rate": 0.0,
        "downstream.store@5.errors": 0.0,
        "downstream.store@5.invocations": 1000.0,
    }
    assert hold["at"] == release.fakes.clock.now().isoformat()
    assert release.weights() == {"17": 90.0, "18": 10.0}  # no pull-back, no move
    assert release.verdicts() == [Phase.INCONCLUSIVE] * 3


def test_error_rebakes_up_to_max_errors_then_metrics_unreadable(release: Release) -> None:
    """Regression: an exhausted ERROR raised GateFailedError and wrote ``failure``."""
    release.fakes.metrics.fail_next("query", TransientError("Rate exceeded"), times=3)
    for expected in (1, 2):
        release.bake(invocations=300)
        shift = release.advance()
        assert (shift.step_index, shift.errors) == (0, expected)
    release.bake(invocations=300)
    with pytest.raises(MetricsUnreadableError) as raised:
        release.advance()
    message = str(raised.value)
    assert message.startswith("CloudWatch could not be read to judge enrich@18 at 10%")
    assert "environment problem" in message
    assert "no hotfix needed" in message
    assert "Rate exceeded" in message
    assert release.record("failure") is None
    hold = release.record("hold")
    assert hold is not None
    assert (hold["why"], hold["phase"]) == ("metrics-unreadable", "ERROR")
    assert release.weights() == {"17": 90.0, "18": 10.0}


def test_an_incomplete_series_rebakes_as_error(release: Release) -> None:
    """Regression: a partial series was trusted and PASSED (the alias moved to 50%)."""
    release.bake(invocations=300, errors=0, complete=False)
    shift = release.advance()
    assert (shift.step_index, shift.errors) == (0, 1)
    assert release.verdicts() == [Phase.ERROR]
    assert release.weights() == {"17": 90.0, "18": 10.0}


def test_failed_reads_count_only_in_a_row(release: Release) -> None:
    """A check that could read the metrics (here INCONCLUSIVE) resets the failed-read count.

    Regression: ERROR, ERROR, INCONCLUSIVE, ERROR ended the release (3 > max_errors 2)."""
    release.fakes.metrics.fail_next("query", TransientError("Rate exceeded"), times=2)
    for _ in range(2):
        release.bake(invocations=300)
        release.advance()
    release.bake(invocations=3)
    assert release.advance().errors == 0
    release.fakes.metrics.fail_next("query", TransientError("Rate exceeded"))
    release.bake(invocations=300)
    shift = release.advance()
    assert (shift.errors, shift.inconclusive) == (1, 1)
    assert release.verdicts() == [Phase.ERROR, Phase.ERROR, Phase.INCONCLUSIVE, Phase.ERROR]


def test_the_handler_runs_with_its_declared_ports(release: Release) -> None:
    """The Lambda handler restricts the ports to Advance's PORTS, as in production: a move
    renews the lease, so ``leases`` must be among them."""
    release.bake(invocations=300)
    event = {
        "release": RELEASE,
        "component": "enrich",
        "shift": release.shift.model_dump(mode="json"),
    }
    out = handler.invoke(event, release.fakes.ports)
    assert (out["step_index"], out["weight"]) == (1, 50.0)
    assert release.weights() == {"17": 50.0, "18": 50.0}


# -- the sequential judge (gates.judge: sequential, the default) ----------------------------------


class Sequential(Release):
    """The release with the sequential judge: Bake waits one look (a minute) at a time."""

    def __init__(self, **gates: Any) -> None:
        super().__init__(judge="sequential", **gates)

    def look(self, new: tuple[float, float], old: tuple[float, float]) -> ShiftState:
        """A minute passes; CloudWatch shows (invocations, errors) of enrich@18 and @17."""
        self.fakes.clock.advance(self.shift.nominal_bake_seconds)
        for version, (invocations, errors) in (("18", new), ("17", old)):
            self.fakes.metrics.set_lambda(
                "enrich", "live", version, invocations=invocations, errors=errors
            )
        return self.advance()


def test_sequential_bakes_in_looks_and_records_only_decisions() -> None:
    release = Sequential()
    assert release.shift.judge is not None
    assert (release.shift.nominal_bake_seconds, release.shift.judge.bake_seconds) == (60, BAKE)
    for minute in range(1, 5):
        shift = release.look((60, 0), (540, 3))
        assert (shift.step_index, shift.weight) == (0, 10.0)  # keep baking
        assert shift.judge is not None and shift.judge.baked_seconds == 60 * minute
    assert release.verdicts() == []  # a look that decides nothing is no verdict
    shift = release.look((60, 0), (540, 3))
    assert (shift.step_index, shift.weight) == (1, 50.0)  # the bake's end: PASSED
    assert release.verdicts() == [Phase.PASSED]
    assert shift.judge is not None and shift.judge.baked_seconds == 0
    assert release.weights() == {"17": 50.0, "18": 50.0}
    # the evidence carries on into the next step
    own = shift.judge.own
    assert (own["new_invocations"], own["old_invocations"], own["step_invocations"]) == (
        300,
        2700,
        0,
    )


def test_sequential_fails_early_with_the_evidence_in_the_failure() -> None:
    release = Sequential()
    release.look((60, 0), (540, 2))
    with pytest.raises(GateFailedError, match="gate failed at 10%"):
        release.look((60, 12), (540, 2))
    failure = release.record("failure")
    assert failure is not None
    reasons = failure["reasons"]
    assert isinstance(reasons, list)
    assert reasons[0].startswith(
        "enrich@18: 12 errors / 120 invocations vs enrich@17: 4 / 1,080; ratio 27.0 (95% interval"
    )
    assert "FAILED at 10% after 2 of 5 minutes" in reasons[0]
    record = ledger.get_component(release.fakes.records, RELEASE, "enrich")
    verdict = record.verdicts[-1]
    assert verdict.early
    assert verdict.evidence[0]["new_errors"] == 12
    assert verdict.evidence[0]["ratio"] == pytest.approx(27.0)


def test_sequential_zero_error_baseline_does_not_pass_a_canary_with_errors() -> None:
    release = Sequential(max_error_rate=0.5)  # the ceiling out of the way
    phases = []
    try:
        for _ in range(5):
            phases.append(release.look((60, 3), (540, 0)).step_index)
    except GateFailedError:
        phases.append(-1)
    assert phases[-1] == -1  # failed, within the 10% bake
    assert all(p == 0 for p in phases[:-1])


def test_sequential_passes_early_when_the_evidence_is_conclusive() -> None:
    """A new version with far fewer errors than the old one: the step ends before its bake."""
    release = Sequential(max_error_rate=0.5)
    for _ in range(5):
        shift = release.look((3000, 0), (27000, 2700))
        if shift.step_index == 1:
            break
    assert shift.step_index == 1
    record = ledger.get_component(release.fakes.records, RELEASE, "enrich")
    assert record.verdicts[-1].early
    assert record.verdicts[-1].phase is Phase.PASSED


def test_sequential_no_traffic_re_bakes_then_holds() -> None:
    release = Sequential()
    for _ in range(5 * 3 - 1):
        release.look((0, 0), (0, 0))
    with pytest.raises(NotEnoughTrafficError):
        release.look((0, 0), (0, 0))
    assert release.record("failure") is None
    assert release.verdicts() == [Phase.INCONCLUSIVE] * 3


def test_sequential_unreadable_metrics_are_error_then_hold() -> None:
    release = Sequential()
    release.fakes.metrics.fail_next("query", TransientError("Rate exceeded"), times=3)
    release.look((60, 0), (540, 0))
    release.look((60, 0), (540, 0))
    with pytest.raises(MetricsUnreadableError):
        release.look((60, 0), (540, 0))
    assert release.verdicts() == [Phase.ERROR] * 3
