"""Oracle bounds for the canary judges: what no test at a given false-alarm level can beat.

Errors are Poisson (the binomial errors of the benchmark, approximated; the rates are at most a
few percent): over a window with ``N_new`` invocations of the new version and ``N_old`` of the old
one, ``K_new ~ Poisson(N_new q_new)`` and ``K_old ~ Poisson(N_old q_old)``. With constant rates
these two totals are sufficient, however the window is cut into minutes or looked at.

*Failing.* The null "new rate <= r x old rate" is composite (the old rate is unknown). Any test
of level ``alpha`` over that null is also of level ``alpha`` against each simple null point
``(r q', q')``, so its power against the true ``(m q, q)`` is at most that of the Neyman-Pearson
test of the one point against the other (randomized, exact). ``fail_bound`` takes the least of
these over ``q'`` (the least favourable null point): an upper bound on the detection probability
of *every* valid judge, sequential or not, that sees at most this data. A sequential judge that
fails "before the shift reaches 100%" is a test on the 10% and 50% steps' data, so the bound on
those steps' exposures bounds its detection before 100%.

*Passing early.* The null of an early pass is "the new rate is beyond the margin":
``q_new >= r q_old + delta``. The same argument with simple null points ``(r q' + delta, q')``
bounds the probability that any valid early pass (level ``alpha``) happens by a given minute
(``pass_bound``). With no errors at all (a zero baseline) the least favourable point is ``q' =
0`` and the bound is ``min(1, alpha exp(N_new delta))``: the zero-error data are ``exp(N_new
delta)`` times likelier under a clean version than at the margin, and no more.

Pure Python (no numpy): Poisson tails over ``mean +- 12 sd`` of both hypotheses, the critical
value by bisection on the log-likelihood ratio, the boundary atom randomized from above (the
bound stays an upper bound).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

_SPREAD = 12.0


def _range(*means: float) -> tuple[int, int]:
    low = min(m - _SPREAD * math.sqrt(m) - 5 for m in means)
    high = max(m + _SPREAD * math.sqrt(m) + 10 for m in means)
    return max(0, math.floor(low)), math.ceil(high)


def _pmf(mean: float, low: int, high: int) -> list[float]:
    if mean <= 0.0:
        return [1.0 if k == 0 else 0.0 for k in range(low, high + 1)]
    return [math.exp(k * math.log(mean) - mean - math.lgamma(k + 1)) for k in range(low, high + 1)]


class _Pair:
    """Two independent Poisson counts under the null (0) and the alternative (1)."""

    def __init__(self, new0: float, old0: float, new1: float, old1: float) -> None:
        self.n_lo, self.n_hi = _range(new0, new1)
        self.o_lo, self.o_hi = _range(old0, old1)
        self.new = (_pmf(new0, self.n_lo, self.n_hi), _pmf(new1, self.n_lo, self.n_hi))
        self.old = (_pmf(old0, self.o_lo, self.o_hi), _pmf(old1, self.o_lo, self.o_hi))
        # tails[h][i] = P_h(K_new >= n_lo + i); heads[h][i] = P_h(K_new <= n_lo + i)
        self.tails = tuple(_tails(p) for p in self.new)
        self.heads = tuple(_heads(p) for p in self.new)
        self.a = _log_ratio(new1, new0)
        self.b = _log_ratio(old1, old0)
        self.c = -(new1 - new0) - (old1 - old0)

    def above(self, h: int, level: float) -> float:
        """``P_h(LLR >= level)``, with ``LLR = a K_new + b K_old + c``."""
        total = 0.0
        size = self.n_hi - self.n_lo + 1
        for j, p_old in enumerate(self.old[h]):
            if p_old < 1e-300:
                continue
            rest = level - self.c - self.b * (self.o_lo + j)
            if self.a > 0:
                k = math.ceil(rest / self.a - 1e-12) - self.n_lo
                total += p_old * (1.0 if k <= 0 else self.tails[h][k] if k < size else 0.0)
            elif self.a < 0:
                k = math.floor(rest / self.a + 1e-12) - self.n_lo
                total += p_old * (0.0 if k < 0 else self.heads[h][min(k, size - 1)])
            else:
                total += p_old * (1.0 if rest <= 0 else 0.0)
        return total

    def power(self, alpha: float) -> float:
        low, high = -1e4, 1e4
        for _ in range(200):
            mid = (low + high) / 2.0
            if self.above(0, mid) > alpha:
                low = mid
            else:
                high = mid
            if high - low < 1e-10:
                break
        size = self.above(0, high)
        return min(1.0, self.above(1, high) + max(0.0, alpha - size) * math.exp(high))


def _log_ratio(x: float, y: float) -> float:
    if x <= 0.0 and y <= 0.0:
        return 0.0
    if x <= 0.0:
        return -1e3  # the alternative never sees an error here: any error rules it out
    if y <= 0.0:
        return 1e3  # the null never sees an error here: any error rules it out
    return math.log(x / y)


def _tails(pmf: Sequence[float]) -> list[float]:
    out = [0.0] * (len(pmf) + 1)
    for i in range(len(pmf) - 1, -1, -1):
        out[i] = out[i + 1] + pmf[i]
    return out


def _heads(pmf: Sequence[float]) -> list[float]:
    out, acc = [], 0.0
    for p in pmf:
        acc += p
        out.append(acc)
    return out


def _least(values: Sequence[float]) -> float:
    return min(values) if values else 1.0


def fail_bound(
    n_new: float, n_old: float, q_old: float, multiplier: float, ratio: float, alpha: float
) -> float:
    """Upper bound on the probability that any level-``alpha`` test of "new rate <= ``ratio`` x
    old rate" fails a version ``multiplier`` times the old rate ``q_old``, on ``n_new`` and
    ``n_old`` invocations."""
    if q_old <= 0.0 or multiplier <= ratio:
        return alpha
    new1, old1 = n_new * multiplier * q_old, n_old * q_old
    # candidates q': the point matching the total errors, and around it (log grid)
    match = (new1 + old1) / (n_new * ratio + n_old)
    grid = [match * math.exp(s / 8.0) for s in range(-8, 9)]
    return _least([_Pair(n_new * ratio * q, n_old * q, new1, old1).power(alpha) for q in grid])


def pass_bound(
    n_new: float, n_old: float, q: float, ratio: float, delta: float, alpha: float
) -> float:
    """Upper bound on the probability that any level-``alpha`` early pass (the null: new rate >=
    ``ratio`` x old rate + ``delta``) happens on ``n_new``/``n_old`` invocations of a healthy
    version (both rates ``q``)."""
    if q <= 0.0:
        return min(1.0, alpha * math.exp(n_new * delta))
    new1, old1 = n_new * q, n_old * q
    match = max(q * 1e-3, (new1 + old1 - n_new * delta) / (n_new * ratio + n_old))
    grid = [0.0] + [match * math.exp(s / 8.0) for s in range(-12, 9)]
    return _least(
        [_Pair(n_new * (ratio * x + delta), n_old * x, new1, old1).power(alpha) for x in grid]
    )
