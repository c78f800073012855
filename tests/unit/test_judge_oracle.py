"""The benchmark's oracle bounds (tests/bench/judge_oracle.py): exact Neyman-Pearson powers that
no valid judge can beat, checked against closed forms."""

from __future__ import annotations

import math

import pytest

from tests.bench.judge_oracle import fail_bound, pass_bound


def _one_sample_power(mean0: float, mean1: float, alpha: float) -> float:
    """The randomized most powerful test of Poisson(mean0) against Poisson(mean1 > mean0)."""

    def pmf(k: int, mean: float) -> float:
        return math.exp(k * math.log(mean) - mean - math.lgamma(k + 1))

    k, tail0, tail1 = 400, 0.0, 0.0
    while k >= 0:
        p0 = pmf(k, mean0)
        if tail0 + p0 > alpha:
            gamma = (alpha - tail0) / p0
            return tail1 + gamma * pmf(k, mean1)
        tail0 += p0
        tail1 += pmf(k, mean1)
        k -= 1
    return 1.0


def test_with_a_known_old_rate_the_fail_bound_is_the_one_sample_test() -> None:
    """A huge old exposure pins the old rate: what is left is the one-sample test of the new
    version's errors (the issue's 120/min example: 360 canary invocations at 0.5%, 5x)."""
    bound = fail_bound(360, 10_000_000, 0.005, 5.0, 1.25, 0.0005)
    exact = _one_sample_power(360 * 1.25 * 0.005, 360 * 5 * 0.005, 0.0005)
    assert bound == pytest.approx(exact, abs=0.01)
    # an unknown old rate can only make it harder
    assert fail_bound(360, 840, 0.005, 5.0, 1.25, 0.0005) < bound


def test_fail_bound_grows_with_the_regression_and_the_traffic() -> None:
    low = fail_bound(1800, 4200, 0.001, 2.0, 1.25, 0.0005)
    assert low < fail_bound(1800, 4200, 0.001, 10.0, 1.25, 0.0005)
    assert low < fail_bound(9000, 21000, 0.001, 2.0, 1.25, 0.0005)
    assert fail_bound(1800, 4200, 0.001, 1.2, 1.25, 0.0005) == 0.0005  # no regression


def test_zero_error_pass_bound_is_the_likelihood_ratio_of_no_errors() -> None:
    """With no errors the data are exp(N delta) times likelier clean than at the margin."""
    assert pass_bound(2000, 5000, 0.0, 1.25, 0.001, 0.01) == pytest.approx(0.01 * math.exp(2.0))
    assert pass_bound(7500, 22500, 0.0, 1.25, 0.001, 0.01) == 1.0
    assert pass_bound(7500, 22500, 0.02, 1.25, 0.001, 0.01) < 1.0
