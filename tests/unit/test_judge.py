"""The sequential judge (planning/judge.py): Kayenta's known failures are FAILED, healthy versions
are not, too little data is INCONCLUSIVE, and the e-process keeps its false-alarm bound when looked
at after every window (checked by a seeded simulation)."""

from __future__ import annotations

import math
import random

import pytest

from orchestrator.errors import ManifestError
from orchestrator.model.steps import Phase
from orchestrator.planning.judge import (
    PASS_BETS,
    JudgeConfig,
    JudgeState,
    Window,
    alpha_per_check,
    begin_step,
    beta_cdf,
    decide,
    mark_early_pass,
    observe,
    observe_before,
    pass_log_e,
    ratio_interval,
    start,
)
from tests.factories import make_manifest

# one component's check in a single-component release with the default budget
CONFIG = JudgeConfig(alpha=alpha_per_check(0.01, 1, 1), min_invocations=20)


def run(
    windows: list[Window], config: JudgeConfig = CONFIG, state: JudgeState | None = None
) -> tuple[JudgeState, list[Phase]]:
    """Observe each window, deciding after every one (as a bake that looks every minute)."""
    state = state if state is not None else start(config)
    phases = []
    for i, window in enumerate(windows):
        state = observe(config, state, window)
        phases.append(decide(config, state, bake_complete=i == len(windows) - 1).phase)
    return state, phases


def test_alpha_per_check_splits_the_release_budget() -> None:
    assert alpha_per_check(0.01, 20, 1) == pytest.approx(0.0005)
    assert alpha_per_check(0.01, 10, 3) == pytest.approx(0.01 / 30)
    assert alpha_per_check(0.01, 0, 0) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="false_alarm_rate"):
        alpha_per_check(0.0, 3)


# Kayenta's known failures, each a real regression


def test_zero_error_baseline_does_not_let_a_canary_with_errors_pass() -> None:
    """kayenta#799 / #377: a zero-error baseline made a canary with errors pass."""
    _, phases = run([Window(60, 2, 540, 0)] * 5)
    assert Phase.FAILED in phases
    assert Phase.PASSED not in phases


def test_sparse_errors_against_zeros_fail() -> None:
    """kayenta#426: per-minute canary errors [0, 1, 2, 1, 0, 0] against a baseline of zeros."""
    windows = [Window(60, k, 540, 0) for k in (0, 1, 2, 1, 0, 0)]
    state, phases = run(windows)
    assert phases[-1] is Phase.FAILED
    assert Phase.PASSED not in phases
    judgement = decide(CONFIG, state, bake_complete=True)
    assert judgement.evidence.ratio == math.inf
    assert judgement.evidence.new_errors == 4


def test_rising_canary_errors_fail() -> None:
    """kayenta#780: canary errors rising minute by minute against a steady 1% baseline."""
    windows = [Window(60, k, 540, 5) for k in (0, 1, 2, 4, 8)]
    _, phases = run(windows)
    assert phases == [Phase.INCONCLUSIVE] * 4 + [Phase.FAILED]


def test_ratio_estimate_and_interval_cover_a_regression() -> None:
    state, _ = run([Window(1200, 14, 10800, 9)])
    judgement = decide(CONFIG, state, bake_complete=True)
    assert judgement.phase is Phase.FAILED
    assert judgement.evidence.ratio == pytest.approx(14.0)
    assert judgement.evidence.interval is not None
    low, high = judgement.evidence.interval
    assert 1.25 < low < 14.0 < high


def test_beta_cdf_matches_the_binomial() -> None:
    # I_0.3(2, 5) = P(Binomial(6, 0.3) >= 2)
    assert beta_cdf(0.3, 2, 5) == pytest.approx(1 - 0.7**6 - 6 * 0.3 * 0.7**5)


# healthy versions


def test_equal_rates_do_not_fail_and_pass_at_the_bake_end() -> None:
    state, phases = run([Window(60, 1, 540, 5)] * 5)
    assert Phase.FAILED not in phases
    assert phases[-1] is Phase.PASSED
    interval = ratio_interval(state)
    assert interval is not None and interval[0] < 1.0 < interval[1]


def test_clearly_better_version_passes_early() -> None:
    _, phases = run([Window(3000, 0, 3000, 60)] * 5)
    assert phases[0] is Phase.PASSED


def test_healthy_versions_over_three_steps_rarely_fail() -> None:
    rng = random.Random(7)
    config = JudgeConfig(alpha=0.05)
    failed = 0
    for _ in range(300):
        state = start(config)
        for weight in (0.1, 0.5):
            state = begin_step(state)
            for _minute in range(5):
                n_new = round(600 * weight)
                n_old = 600 - n_new
                window = Window(
                    n_new, _binomial(rng, n_new, 0.01), n_old, _binomial(rng, n_old, 0.01)
                )
                state = observe(config, state, window)
        failed += decide(config, state, bake_complete=True).phase is Phase.FAILED
    assert failed / 300 <= 0.05


# too little data


def test_no_data_is_inconclusive() -> None:
    judgement = decide(CONFIG, start(CONFIG), bake_complete=True)
    assert judgement.phase is Phase.INCONCLUSIVE


def test_zero_invocations_are_inconclusive() -> None:
    _, phases = run([Window(0, 0, 540, 3)] * 5)
    assert set(phases) == {Phase.INCONCLUSIVE}


def test_all_zero_is_inconclusive() -> None:
    _, phases = run([Window(0, 0, 0, 0)] * 5)
    assert set(phases) == {Phase.INCONCLUSIVE}


def test_errors_with_too_few_invocations_never_fail_on_the_ceiling() -> None:
    config = JudgeConfig(alpha=0.01, max_error_rate=0.01, min_invocations=100)
    _, phases = run([Window(5, 1, 45, 1)], config)
    assert phases == [Phase.INCONCLUSIVE]


def test_impossible_figures_are_error() -> None:
    _, phases = run([Window(10, 11, 90, 0)])
    assert phases == [Phase.ERROR]
    _, phases = run([Window(-1, 0, 90, 0)])
    assert phases == [Phase.ERROR]


# the absolute ceiling and the 100% step


def test_max_error_rate_fails_regardless_of_the_baseline() -> None:
    config = JudgeConfig(alpha=0.01, max_error_rate=0.01)
    _, phases = run([Window(600, 30, 5400, 270)], config)
    assert phases == [Phase.FAILED]


def test_at_100_percent_the_judge_compares_with_the_old_versions_earlier_counts() -> None:
    config = JudgeConfig(alpha=0.01)
    state, _ = run([Window(60, 0, 540, 5)] * 5, config)
    state = begin_step(state)
    broken, phases = run([Window(600, 30, 0, 0)] * 5, config, state)
    assert Phase.FAILED in phases
    healthy, phases = run([Window(600, 6, 0, 0)] * 5, config, state)
    assert Phase.FAILED not in phases and phases[-1] is Phase.PASSED
    assert broken.reference is not None and broken.reference == healthy.reference


def test_state_round_trips_through_a_dict() -> None:
    state, _ = run([Window(60, 1, 540, 5), Window(600, 6, 0, 0)])
    assert JudgeState.from_dict(state.to_dict()) == state


# the supermartingale property


@pytest.mark.parametrize(("n_new", "n_old"), [(10, 90), (50, 50), (300, 30)])
def test_null_crossing_rate_is_bounded_over_ten_looks(n_new: int, n_old: int) -> None:
    """At the null boundary (ratio exactly ``1 + tolerance``) the fraction of runs whose e-value
    ever reaches the threshold over 10 looks is at most the test's alpha (Ville), within Monte
    Carlo error. Conditional on each window's errors the new share is Binomial(E, p0)."""
    config = JudgeConfig(alpha=0.1)  # test_alpha 0.05: crossings frequent enough to measure
    r = config.ratio
    p0 = r * n_new / (r * n_new + n_old)
    rng = random.Random(20261201 + n_new)
    runs, crossed = 2000, 0
    for _ in range(runs):
        state = start(config)
        for _look in range(10):
            total = rng.randint(0, 20)
            k = sum(rng.random() < p0 for _ in range(total))
            state = observe(config, state, Window(n_new, k, n_old, total - k))
            if decide(config, state, bake_complete=False, with_interval=False).phase is (
                Phase.FAILED
            ):
                crossed += 1
                break
    bound = config.test_alpha + 3 * math.sqrt(config.test_alpha * (1 - config.test_alpha) / runs)
    assert crossed / runs <= bound


def _binomial(rng: random.Random, n: int, p: float) -> int:
    return sum(rng.random() < p for _ in range(n))


# the manifest options


def test_gate_options_default_to_the_sequential_judge_and_merge_from_defaults() -> None:
    version = {"version": "1"}
    plain = make_manifest({"a": {"from": version, "to": {"version": "2"}}})
    gates = plain.component("a").gates
    assert (gates.judge, gates.false_alarm_rate, gates.tolerance, gates.early_pass) == (
        "sequential",
        0.01,
        0.25,
        True,
    )
    chosen = make_manifest(
        {"a": {"from": version, "to": {"version": "2"}, "gates": {"tolerance": 0.5}}},
        defaults={"gates": {"judge": "threshold", "false_alarm_rate": 0.001, "early_pass": False}},
    )
    gates = chosen.component("a").gates
    assert (gates.judge, gates.false_alarm_rate, gates.tolerance, gates.early_pass) == (
        "threshold",
        0.001,
        0.5,
        False,
    )
    with pytest.raises(ManifestError):
        make_manifest(
            {"a": {"from": version, "to": {"version": "2"}, "gates": {"judge": "kayenta"}}}
        )


def test_the_ceiling_needs_conclusive_evidence_not_a_noisy_point_estimate() -> None:
    """0.8% background, ceiling 1%: 2 errors in 60 invocations (3.3%) is noise, not FAILED;
    a version failing 5% over 1,200 invocations is conclusively above the ceiling."""
    config = JudgeConfig(alpha=alpha_per_check(0.01, 20, 1), max_error_rate=0.01)
    _, phases = run([Window(60, 2, 540, 4)], config)
    assert phases == [Phase.PASSED]  # the bake's end: nothing conclusive
    _, phases = run([Window(1200, 60, 10800, 86)], config)
    assert phases == [Phase.FAILED]


# the early pass on a non-inferiority margin with an absolute part (absolute_tolerance)

# one component of a 20-component release: fail at alpha 0.0005, pass at the release's 0.01
RELEASE = JudgeConfig(alpha=alpha_per_check(0.01, 20, 1), pass_alpha=0.01)


def test_zero_errors_on_both_sides_pass_early_on_the_absolute_margin() -> None:
    """No errors at all is evidence once there are enough invocations: 7,500 clean invocations
    make "new rate >= 1.25 x old + 0.001" unlikely enough (e-value 0.95 x 7.5 nats, a mixture
    of 8 bets, above log 100)."""
    windows = [Window(1500, 0, 1500, 0)] * 5
    _, phases = run(windows, RELEASE)
    assert phases[:4] == [Phase.INCONCLUSIVE] * 4
    state, _ = run(windows, RELEASE)
    judgement = decide(RELEASE, state, bake_complete=False)
    assert judgement.phase is Phase.PASSED and judgement.early
    assert "1.25 x old rate + 0.001" in judgement.reasons[0]
    assert judgement.evidence.pass_threshold == pytest.approx(100.0)


def test_without_an_absolute_margin_or_with_early_pass_off_zero_errors_never_pass_early() -> None:
    windows = [Window(1500, 0, 1500, 0)] * 20
    for config in (
        JudgeConfig(alpha=RELEASE.alpha, pass_alpha=0.01, absolute_tolerance=0.0),
        JudgeConfig(alpha=RELEASE.alpha, pass_alpha=0.01, early_pass=False),
    ):
        state = start(config)
        for window in windows:
            state = observe(config, state, window)
            assert decide(config, state, bake_complete=False).phase is Phase.INCONCLUSIVE


def test_the_pass_e_value_without_an_absolute_part_is_the_conditional_likelihood_ratio() -> None:
    """``pass_log_e`` with ``floor`` 0 equals the binomial likelihood ratio of the new version's
    share of the errors, ``p1 = p0 (1 - u)`` against ``p0 = r n_new / (r n_new + n_old)``."""
    r, n_new, n_old, k_new, k_old, u = 1.25, 60, 540, 3, 11, 0.3
    p0 = r * n_new / (r * n_new + n_old)
    p1 = p0 * (1 - u)
    expected = k_new * math.log(p1 / p0) + k_old * math.log((1 - p1) / (1 - p0))
    assert pass_log_e(u, 0.0, r, n_new, k_new, n_old, k_old) == pytest.approx(expected)
    assert pass_log_e(u, 0.001, r, n_new, k_new, n_old, k_old) == pytest.approx(
        expected + n_new * 0.001 * u
    )


@pytest.mark.parametrize(
    ("q_old", "weights"), [(0.0, (0.1, 0.5)), (0.005, (0.1, 0.5)), (0.002, (0.1, 0.5, 1.0))]
)
def test_early_passes_at_the_margin_are_bounded_by_the_pass_level(
    q_old: float, weights: tuple[float, ...]
) -> None:
    """A version exactly at the margin (``1.25 x old + 0.001``) passes early at most
    ``pass_alpha`` of the time over every look of every step (Ville), within Monte Carlo
    error: binomial errors, at 100% against the old rate's lower bound."""
    config = JudgeConfig(alpha=0.02, pass_alpha=0.1, min_invocations=1)
    q_new = config.ratio * q_old + config.absolute_tolerance
    rng = random.Random(f"margin-{q_old}-{weights}")
    runs, passed = 600, 0
    for _ in range(runs):
        state = start(config)
        early = False
        for weight in weights:
            state = begin_step(state)
            for _minute in range(6):
                n_new = round(3000 * weight)
                n_old = 3000 - n_new
                window = Window(
                    n_new, _binomial(rng, n_new, q_new), n_old, _binomial(rng, n_old, q_old)
                )
                state = observe(config, state, window)
                phase = decide(config, state, bake_complete=False, with_interval=False).phase
                if phase is Phase.PASSED:
                    early = True
                    break
            if early:
                break
        passed += early
    bound = 0.1 + 3 * math.sqrt(0.1 * 0.9 / runs)
    assert passed / runs <= bound


def test_a_regression_beyond_the_margin_never_passes_early() -> None:
    """5x at a 0.5% baseline, 3,000 invocations a minute at 50%: no early pass, FAILED."""
    rng = random.Random(5)
    state = start(RELEASE)
    phases = []
    for _minute in range(5):
        window = Window(1500, _binomial(rng, 1500, 0.025), 1500, _binomial(rng, 1500, 0.005))
        state = observe(RELEASE, state, window)
        phases.append(decide(RELEASE, state, bake_complete=False).phase)
    assert Phase.PASSED not in phases
    assert Phase.FAILED in phases


def test_the_old_versions_minutes_before_the_shift_tighten_the_100_percent_reference() -> None:
    """The old version's own figures before the shift enter the reference bound at 100% (not the
    comparison over the same minutes): 3 errors in 3,000 concurrent invocations alone cannot
    show a 1% canary is above 1.25 x the old rate, with 18 / 18,000 before the shift it can."""
    config = JudgeConfig(alpha=alpha_per_check(0.01, 20, 1))
    concurrent = [Window(60, 0, 540, 1), Window(300, 1, 300, 0)] * 3
    bare, _ = run(concurrent, config)
    prior = observe_before(start(config), 18_000, 18)
    primed, _ = run(concurrent, config, prior)
    assert (primed.old_invocations, primed.old_errors) == (bare.old_invocations, bare.old_errors)
    assert primed.log_e_fail == bare.log_e_fail  # the same minutes judged the same way
    at_100 = [Window(600, 6, 0, 0)] * 5
    bare_100, bare_phases = run(at_100, config, begin_step(bare))
    primed_100, primed_phases = run(at_100, config, begin_step(primed))
    assert bare_100.reference is not None and primed_100.reference is not None
    assert primed_100.reference[1] < bare_100.reference[1] / 2
    assert Phase.FAILED not in bare_phases
    assert Phase.FAILED in primed_phases
    assert JudgeState.from_dict(primed_100.to_dict()) == primed_100
    assert observe_before(start(config), 10, 11).invalid is not None


def test_a_state_from_before_the_absolute_margin_still_judges() -> None:
    """A cursor written by the previous judge (three pass alternatives): its pass evidence
    starts afresh (passing later is the safe side), its fail evidence carries on."""
    old = {"log_e_fail": [1.0] * 7, "log_e_pass": [2.0, 2.0, 2.0], "new_invocations": 60}
    state = observe(RELEASE, JudgeState.from_dict(old), Window(60, 0, 540, 1))
    assert len(state.log_e_pass) == len(PASS_BETS)
    fresh = observe(RELEASE, start(RELEASE), Window(60, 0, 540, 1))
    assert state.log_e_fail == pytest.approx(tuple(v + 1.0 for v in fresh.log_e_fail))
    assert decide(RELEASE, state, bake_complete=True).phase is Phase.PASSED


def test_absolute_tolerance_is_a_gate_option_with_a_clear_error() -> None:
    version = {"version": "1"}
    plain = make_manifest({"a": {"from": version, "to": {"version": "2"}}})
    assert plain.component("a").gates.absolute_tolerance == 0.001
    chosen = make_manifest(
        {"a": {"from": version, "to": {"version": "2"}}},
        defaults={"gates": {"absolute_tolerance": 0.005}},
    )
    assert chosen.component("a").gates.absolute_tolerance == 0.005
    with pytest.raises(ManifestError, match=r"absolute_tolerance .* between 0 and 0.1"):
        make_manifest(
            {"a": {"from": version, "to": {"version": "2"}, "gates": {"absolute_tolerance": 1}}}
        )


# the final look: one fixed-sample test at the first whole bake at 100%


def _shift_to_100(
    config: JudgeConfig, rng: random.Random, q_old: float, q_new: float
) -> JudgeState:
    """10% and 50% steps of 5 minutes at 3,000 a minute, the old version's 30 minutes before."""
    state = observe_before(start(config), 90_000, _binomial(rng, 90_000, q_old))
    for weight in (0.1, 0.5):
        state = begin_step(state)
        for minute in range(5):
            n_new = round(3000 * weight)
            window = Window(
                n_new,
                _binomial(rng, n_new, q_new),
                3000 - n_new,
                _binomial(rng, 3000 - n_new, q_old),
            )
            state = observe(config, state, window, bake_end=minute == 4)
    return begin_step(state)


def test_final_look_fails_a_regression_the_e_values_cannot_yet_show() -> None:
    """1.8x a 0.5% baseline at 3,000 a minute: the e-values stay far from conclusive (about 6
    of the 2,500 needed), but pooled over the shift and the 30 minutes before, 225 errors in
    24,000 invocations against 555 in 111,000 are conclusive for one look (p 4e-7); the final
    look decides at the 100% bake's end, once, and never mid-bake."""
    config = JudgeConfig(alpha=alpha_per_check(0.01, 20, 1))
    state = observe_before(start(config), 90_000, 450)
    state = observe(config, state, Window(1500, 15, 13_500, 68))
    state = observe(config, begin_step(state), Window(7500, 75, 7500, 37))
    state = begin_step(state)
    for minute in range(5):
        state = observe(config, state, Window(3000, 27, 0, 0), bake_end=minute == 4)
        judgement = decide(config, state, bake_complete=minute == 4)
        if minute < 4:
            assert state.final_p is None and judgement.phase is Phase.INCONCLUSIVE
    assert state.final_p is not None and state.final_p <= config.final_alpha
    assert judgement.phase is Phase.FAILED and "final look" in judgement.reasons[0]
    assert judgement.evidence.e_fail < 10
    once = observe(config, state, Window(3000, 0, 0, 0), bake_end=True)
    assert once.final_p == state.final_p  # at most one look per shift


def test_no_final_look_after_an_early_pass() -> None:
    config = JudgeConfig(alpha=alpha_per_check(0.01, 20, 1))
    state = observe(
        config, observe_before(start(config), 90_000, 450), Window(1500, 15, 13_500, 68)
    )
    state = begin_step(mark_early_pass(state))
    state = observe(config, state, Window(15_000, 150, 0, 0), bake_end=True)
    assert state.final_p is None
    assert JudgeState.from_dict(state.to_dict()) == state


def test_final_look_keeps_its_level_at_the_null_boundary() -> None:
    """A version exactly 1.25x a 0.5% baseline (binomial errors): the final look's p-value is
    at most 0.05 at most 5% of the time, within Monte Carlo error."""
    config = JudgeConfig(alpha=0.5, min_invocations=20)
    rng = random.Random(1210)
    runs, rejected = 400, 0
    for _ in range(runs):
        state = _shift_to_100(config, rng, 0.005, 0.00625)
        for minute in range(5):
            window = Window(3000, _binomial(rng, 3000, 0.00625), 0, 0)
            state = observe(config, state, window, bake_end=minute == 4)
        assert state.final_p is not None
        rejected += state.final_p <= 0.05
    assert rejected / runs <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / runs)
