"""Judges of a canary step, measured: the threshold rule, the sequential judge, a Kayenta-like one.

Run: ``.venv/bin/python -m tests.bench.bench_judge [--releases 2000] [--seed 0] [--components 20]``
(``make bench-judge``); ``--components`` is the release size the budget is split over.

A seeded Monte Carlo of component shifts (steps 10%, 50%, 100%; 300 s bakes looked at every
minute) over traffic per minute {30, 120, 600, 3000} x baseline error rate {0, 0.1%, 0.5%, 2%} x
canary multiplier {1 (healthy), 1.5, 2, 5, 10}. Each minute the new and the old version get
Poisson invocations around their share of the traffic (normal approximation above 30 per minute)
and binomial errors (normal approximation where the expected count exceeds 50). A bake with too
few invocations (below ``min_invocations`` 20) re-bakes, at most twice (``max_inconclusive``), then
the shift holds (neither passed nor failed). The judges run in-process:

* ``threshold``: today's rule, the bake window's error rate above ``max_error_rate`` 0.01 with at
  least 20 invocations FAILS, at the end of each bake;
* ``sequential``: ``orchestrator.planning.judge`` with the release budget 0.01 split over a
  20-component release (``alpha_per_check(0.01, 20, 1)`` = 0.0005), tolerance 0.25, deciding after
  every minute (early fail, early pass); its ``max_error_rate`` ceiling is off here (the ceiling is
  a separate absolute policy, and at a 2% baseline it would fail every healthy version);
* ``mann-whitney``: Kayenta-like, from its published description: at the end of each bake a
  one-sided Mann-Whitney U test (normal approximation with tie correction) of the canary's
  per-minute error rates against the baseline's over the same minutes (at 100%: against the old
  version's minutes of the earlier steps), FAILED when p < 0.02 (confidence 0.98) and the mean
  ratio exceeds 1 + tolerance 0.25; a baseline whose mean is 0 cannot give a ratio and passes, as in
  kayenta#799.

Columns per judge: ``rate`` is the false-alarm rate per shift (multiplier 1) or the detection rate
(broken); ``det`` the median time to detection in seconds from the shift's start; ``<100`` the
share detected before the shift reached 100%; ``pass`` the mean time to a PASSED shift in seconds
(fixed bakes: 900). Cells where the multiplier changes nothing (baseline 0) are skipped. After the
table: the pooled false-alarm rates per shift and per simulated 20-component release (1 - (1 -
fa)^20, shifts independent).
"""

from __future__ import annotations

import argparse
import functools
import math
import random
import statistics
import time
from dataclasses import dataclass

from orchestrator.model.steps import Phase
from orchestrator.planning.judge import (
    JudgeConfig,
    Window,
    alpha_per_check,
    begin_step,
    decide,
    observe,
    start,
)

TRAFFIC = (30, 120, 600, 3000)
BASELINE = (0.0, 0.001, 0.005, 0.02)
MULTIPLIER = (1.0, 1.5, 2.0, 5.0, 10.0)
STEPS = (0.1, 0.5, 1.0)
BAKE_MINUTES = 5
MAX_INCONCLUSIVE = 2
MIN_INVOCATIONS = 20
MAX_ERROR_RATE = 0.01
TOLERANCE = 0.25
COMPONENTS = 20
FALSE_ALARM_RATE = 0.01
MW_CONFIDENCE = 0.98
JUDGES = ("threshold", "sequential", "mann-whitney")


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def binomial(rng: random.Random, n: int, p: float) -> int:
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    mean = n * p
    if mean > 50:
        return min(n, max(0, round(rng.gauss(mean, math.sqrt(mean * (1 - p))))))
    # geometric gaps between successes
    log_q = math.log1p(-p)
    k, position = 0, 0
    while True:
        position += int(math.log(1.0 - rng.random()) / log_q) + 1
        if position > n:
            return k
        k += 1


@dataclass
class Outcome:
    failed_at: float | None = None
    passed_at: float | None = None
    failed_step: float | None = None


def minute(rng: random.Random, traffic: int, weight: float, q_old: float, q_new: float) -> Window:
    n_new = poisson(rng, traffic * weight)
    n_old = poisson(rng, traffic * (1 - weight))
    return Window(n_new, binomial(rng, n_new, q_new), n_old, binomial(rng, n_old, q_old))


def simulate(rng: random.Random, traffic: int, q_old: float, q_new: float) -> list[list[Window]]:
    """Minutes per step, enough for every re-bake (judges stop reading where they stop)."""
    minutes = BAKE_MINUTES * (1 + MAX_INCONCLUSIVE)
    return [[minute(rng, traffic, w, q_old, q_new) for _ in range(minutes)] for w in STEPS]


def threshold(shift: list[list[Window]]) -> Outcome:
    elapsed = 0.0
    for step, minutes in zip(STEPS, shift, strict=True):
        for bake in range(1 + MAX_INCONCLUSIVE):
            window = minutes[bake * BAKE_MINUTES : (bake + 1) * BAKE_MINUTES]
            elapsed += BAKE_MINUTES * 60
            n = sum(w.new_invocations for w in window)
            k = sum(w.new_errors for w in window)
            if n >= MIN_INVOCATIONS:
                if k / n > MAX_ERROR_RATE:
                    return Outcome(failed_at=elapsed, failed_step=step)
                break
        else:
            return Outcome()  # held
    return Outcome(passed_at=elapsed)


SEQUENTIAL = JudgeConfig(
    alpha=alpha_per_check(FALSE_ALARM_RATE, COMPONENTS, 1),
    tolerance=TOLERANCE,
    min_invocations=MIN_INVOCATIONS,
)


def sequential(shift: list[list[Window]], config: JudgeConfig = SEQUENTIAL) -> Outcome:
    state = start(config)
    elapsed = 0.0
    for step, minutes in zip(STEPS, shift, strict=True):
        state = begin_step(state)
        passed = False
        for index, window in enumerate(minutes):
            state = observe(config, state, window)
            elapsed += 60
            end_of_bake = (index + 1) % BAKE_MINUTES == 0
            phase = decide(config, state, bake_complete=end_of_bake, with_interval=False).phase
            if phase is Phase.FAILED:
                return Outcome(failed_at=elapsed, failed_step=step)
            if phase is Phase.PASSED:
                passed = True
                break
        if not passed:
            return Outcome()  # held after the re-bakes
    return Outcome(passed_at=elapsed)


def mann_whitney_greater(canary: list[float], baseline: list[float]) -> float:
    """One-sided p-value of "canary tends to be larger" (normal approximation, ties corrected)."""
    m, n = len(canary), len(baseline)
    pooled = sorted((v, i < m) for i, v in enumerate(canary + baseline))
    ranks: list[tuple[float, bool]] = []
    ties: list[int] = []
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        rank = (i + j) / 2 + 1
        ranks.extend((rank, pooled[t][1]) for t in range(i, j + 1))
        ties.append(j - i + 1)
        i = j + 1
    r_canary = sum(rank for rank, is_canary in ranks if is_canary)
    u = r_canary - m * (m + 1) / 2
    total = m + n
    tie_term = sum(t**3 - t for t in ties) / (total * (total - 1))
    variance = m * n / 12 * ((total + 1) - tie_term)
    if variance <= 0:
        return 1.0
    z = (u - m * n / 2 - 0.5) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))


def _rates(windows: list[Window], new: bool) -> list[float]:
    out = []
    for w in windows:
        n = w.new_invocations if new else w.old_invocations
        k = w.new_errors if new else w.old_errors
        if n > 0:
            out.append(k / n)
    return out


def mann_whitney(shift: list[list[Window]]) -> Outcome:
    elapsed = 0.0
    before: list[Window] = []
    for step, minutes in zip(STEPS, shift, strict=True):
        window = minutes[:BAKE_MINUTES]
        elapsed += BAKE_MINUTES * 60
        canary = _rates(window, new=True)
        baseline = _rates(before if step >= 1.0 else window, new=False)
        before.extend(window)
        if len(canary) < 3 or len(baseline) < 3:
            continue  # NODATA: Kayenta does not fail it
        base_mean = statistics.fmean(baseline)
        if base_mean == 0:
            continue  # no ratio to a zero baseline: passes (kayenta#799)
        ratio = statistics.fmean(canary) / base_mean
        p = mann_whitney_greater(canary, baseline)
        if p < 1 - MW_CONFIDENCE and ratio > 1 + TOLERANCE:
            return Outcome(failed_at=elapsed, failed_step=step)
    return Outcome(passed_at=elapsed)


RUNNERS = {"threshold": threshold, "sequential": sequential, "mann-whitney": mann_whitney}


def summary(outcomes: list[Outcome], healthy: bool) -> str:
    runs = len(outcomes)
    failed = [o for o in outcomes if o.failed_at is not None]
    rate = len(failed) / runs
    early = sum(1 for o in failed if o.failed_step is not None and o.failed_step < 1.0) / runs
    det = statistics.median(o.failed_at for o in failed if o.failed_at) if failed else None
    passed = [o.passed_at for o in outcomes if o.passed_at is not None]
    mean_pass = statistics.fmean(passed) if passed else None
    det_text = f"{det:5.0f}" if det is not None and not healthy else "    -"
    early_text = f"{early:5.1%}" if not healthy else "    -"
    pass_text = f"{mean_pass:4.0f}" if mean_pass is not None else "   -"
    return f"{rate:7.2%} {det_text} {early_text} {pass_text}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--releases", type=int, default=2000, help="simulated shifts per cell")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--components", type=int, default=20, help="the release size the budget is split over"
    )
    args = parser.parse_args()
    components = args.components
    alpha = alpha_per_check(FALSE_ALARM_RATE, components, 1)
    config = JudgeConfig(alpha=alpha, tolerance=TOLERANCE, min_invocations=MIN_INVOCATIONS)
    runners = {**RUNNERS, "sequential": functools.partial(sequential, config=config)}
    print(
        f"{args.releases} seeded shifts per cell (seed {args.seed}); steps {list(STEPS)}, "
        f"{BAKE_MINUTES * 60} s bakes; sequential alpha per shift {alpha:g} "
        f"(release budget {FALSE_ALARM_RATE} over {components} components)"
    )
    head = " ".join(f"| {name:^26}" for name in JUDGES)
    print(f"{'traffic':>7} {'base':>6} {'mult':>4} {head}")
    sub = " ".join(f"| {'rate':>7} {'det':>5} {'<100':>5} {'pass':>4}" for _ in JUDGES)
    print(f"{'/min':>7} {'rate':>6} {'':>4} {sub}")
    pooled: dict[str, list[int]] = {name: [0, 0] for name in JUDGES}
    started = time.perf_counter()
    for traffic in TRAFFIC:
        for q_old in BASELINE:
            for multiplier in MULTIPLIER:
                if q_old == 0.0 and multiplier != 1.0:
                    continue
                healthy = multiplier == 1.0
                rng = random.Random(f"{args.seed}-{traffic}-{q_old}-{multiplier}")
                q_new = min(1.0, q_old * multiplier)
                results: dict[str, list[Outcome]] = {name: [] for name in JUDGES}
                for _ in range(args.releases):
                    shift = simulate(rng, traffic, q_old, q_new)
                    for name in JUDGES:
                        results[name].append(runners[name](shift))
                cells = " ".join(f"| {summary(results[name], healthy)}" for name in JUDGES)
                print(f"{traffic:>7} {q_old:>6.1%} {multiplier:>4g} {cells}", flush=True)
                if healthy:
                    for name in JUDGES:
                        pooled[name][0] += sum(o.failed_at is not None for o in results[name])
                        pooled[name][1] += args.releases
    print()
    for name in JUDGES:
        alarms, runs = pooled[name]
        fa = alarms / runs
        release = 1 - (1 - fa) ** components
        print(
            f"{name:>12}: healthy shifts false-alarmed {alarms} / {runs} = {fa:.4%} per shift, "
            f"{release:.2%} per {components}-component release"
        )
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
