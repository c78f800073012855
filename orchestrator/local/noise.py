"""Seeded noise for the dry-run simulator's CloudWatch figures (pure, no shared generator).

A real account never shows exactly ``traffic x weight`` invocations a minute, nor exactly
``rate x invocations`` errors: invocations arrive as a Poisson process and each fails on its own.
The simulator draws its Lambda figures from those laws (scenario ``noise: {seed: N}``, the
default with seed 0; ``noise: false`` keeps the exact expectations):

* invocations of a series in a piece of a minute: Poisson around the expected count;
* errors: binomial over the invocations drawn, at the version's expected error rate in the piece
  (its ``error_rate`` and its schema mix);
* throttles: Poisson around the expected count.

Every draw takes its uniform from a hash of ``(seed, component, version, series, minute index,
offset in the minute)`` (:func:`uniform`), never from a generator consumed in call order: ticks run
on the runner's threads in an order that is not deterministic, and the same seed must give the
same figures whatever that order. Inverse-CDF sampling turns the uniform into the count: exact
below an expected count of ``EXACT_BELOW``, the normal approximation with continuity correction
above it (where the two differ by far less than the count's own spread).
"""

from __future__ import annotations

import hashlib
import math
import struct
from statistics import NormalDist

__all__ = ["binomial", "poisson", "uniform"]

EXACT_BELOW = 400.0
"""Expected counts below this are drawn by the exact inverse CDF, above it by the normal law."""
_NORMAL = NormalDist()


def uniform(seed: int, *key: object) -> float:
    """A uniform in ``(0, 1)``, a pure function of ``seed`` and ``key`` (blake2b of its repr)."""
    digest = hashlib.blake2b(repr((seed, *key)).encode(), digest_size=8).digest()
    value: int = struct.unpack(">Q", digest)[0]
    return (value + 0.5) / 2.0**64


def poisson(mean: float, u: float) -> int:
    """The ``u``-quantile of Poisson(``mean``)."""
    if mean <= 0.0 or not math.isfinite(mean):
        return 0
    if mean >= EXACT_BELOW:
        return max(0, math.floor(mean + math.sqrt(mean) * _NORMAL.inv_cdf(u) + 0.5))
    k = 0
    pmf = math.exp(-mean)
    cdf = pmf
    limit = mean + 12.0 * math.sqrt(mean) + 20.0
    while cdf < u and k < limit:
        k += 1
        pmf *= mean / k
        cdf += pmf
    return k


def binomial(n: int, p: float, u: float) -> int:
    """The ``u``-quantile of Binomial(``n``, ``p``)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if p > 0.5:
        return n - binomial(n, 1.0 - p, 1.0 - u)
    mean = n * p
    variance = mean * (1.0 - p)
    if mean >= EXACT_BELOW:
        draw = math.floor(mean + math.sqrt(variance) * _NORMAL.inv_cdf(u) + 0.5)
        return min(n, max(0, draw))
    k = 0
    pmf = math.exp(n * math.log1p(-p))
    cdf = pmf
    ratio = p / (1.0 - p)
    while cdf < u and k < n:
        pmf *= (n - k) / (k + 1) * ratio
        k += 1
        cdf += pmf
        if pmf < 1e-300 and k > mean:
            break
    return k
