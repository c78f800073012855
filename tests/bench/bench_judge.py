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

The old version's own figures over the 30 minutes before the shift are simulated too (Verify
reads them in its first look): the sequential judge uses them for the 100% step's reference only.
The sequential judge's early pass is at level ``false_alarm_rate`` 0.01 (no false alarm: no share
of the split budget) on the margin ``1.25 x old rate + absolute_tolerance`` 0.001.

Columns per judge: ``rate`` is the false-alarm rate per shift (multiplier 1) or the detection rate
(broken); ``det`` the median time to detection in seconds from the shift's start; ``<100`` the
share detected before the shift reached 100%; ``pass`` the median time to a PASSED shift in
seconds (fixed bakes: 900); for the sequential judge ``ep``: healthy, the share of shifts with an
early pass; broken, the share promoted after an early pass (what early passes can cost in
detection: a shift without one is judged as with ``early_pass: false``). Cells where the
multiplier changes nothing (baseline 0) are skipped.

The ``oracle`` columns (``tests/bench/judge_oracle.py``) bound what any valid judge at the
shift's budget can do, whatever its method: broken, ``pre`` the detection before 100% from the
same minutes (the data of a judge robust to a drift both versions share), ``pre+`` with the 30
minutes before the shift too, ``all`` over the whole shift and the minutes before; healthy,
``pass9`` the chance of any early pass at level 0.01 by the 4th minute of the 50% step (without
one the shift cannot end within 630 s, target b). A target is judged only on the cells where its
oracle allows it; the closing lines say which. After the table: the pooled false-alarm rates
per shift and per simulated 20-component release (shifts drawn in turn from the healthy cells).
"""

from __future__ import annotations

import argparse
import functools
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from orchestrator.model.steps import Phase
from orchestrator.planning.judge import (
    JudgeConfig,
    Window,
    alpha_per_check,
    begin_step,
    decide,
    mark_early_pass,
    observe,
    observe_before,
    start,
)
from tests.bench.judge_oracle import fail_bound, pass_bound

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
ABSOLUTE_TOLERANCE = 0.001
BEFORE_MINUTES = 30
"""The old version's own minutes before the shift that Verify reads (``BASELINE_LOOKBACK``)."""
FAST = 0.7
"""Target (b): a median PASSED shift at most 70% of the fixed bakes."""
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
    early_passes: int = 0
    """Steps that ended PASSED before their bake's end."""


@dataclass
class Shift:
    before: Window
    """The old version's own figures over the ``BEFORE_MINUTES`` before the shift."""
    steps: list[list[Window]]


def minute(rng: random.Random, traffic: int, weight: float, q_old: float, q_new: float) -> Window:
    n_new = poisson(rng, traffic * weight)
    n_old = poisson(rng, traffic * (1 - weight))
    return Window(n_new, binomial(rng, n_new, q_new), n_old, binomial(rng, n_old, q_old))


def simulate(rng: random.Random, traffic: int, q_old: float, q_new: float) -> Shift:
    """Minutes per step, enough for every re-bake (judges stop reading where they stop)."""
    minutes = BAKE_MINUTES * (1 + MAX_INCONCLUSIVE)
    steps = [[minute(rng, traffic, w, q_old, q_new) for _ in range(minutes)] for w in STEPS]
    n_before = poisson(rng, traffic * BEFORE_MINUTES)
    return Shift(Window(0, 0, n_before, binomial(rng, n_before, q_old)), steps)


def threshold(shift: Shift) -> Outcome:
    elapsed = 0.0
    for step, minutes in zip(STEPS, shift.steps, strict=True):
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


def sequential_config(components: int = COMPONENTS) -> JudgeConfig:
    """What ``verify.judge_config`` gives one component of a ``components``-component release
    with the default gates (the ceiling aside)."""
    return JudgeConfig(
        alpha=alpha_per_check(FALSE_ALARM_RATE, components, 1),
        tolerance=TOLERANCE,
        min_invocations=MIN_INVOCATIONS,
        absolute_tolerance=ABSOLUTE_TOLERANCE,
        pass_alpha=FALSE_ALARM_RATE,
    )


SEQUENTIAL = sequential_config()


def sequential(shift: Shift, config: JudgeConfig = SEQUENTIAL) -> Outcome:
    state = start(config)
    before = shift.before
    state = observe_before(state, before.old_invocations, before.old_errors)
    elapsed = 0.0
    early = 0
    for step, minutes in zip(STEPS, shift.steps, strict=True):
        state = begin_step(state)
        passed = False
        for index, window in enumerate(minutes):
            end_of_bake = (index + 1) % BAKE_MINUTES == 0
            state = observe(config, state, window, bake_end=end_of_bake)
            elapsed += 60
            phase = decide(config, state, bake_complete=end_of_bake, with_interval=False).phase
            if phase is Phase.FAILED:
                return Outcome(failed_at=elapsed, failed_step=step, early_passes=early)
            if phase is Phase.PASSED:
                if not end_of_bake:
                    early += 1
                    state = mark_early_pass(state)
                passed = True
                break
        if not passed:
            return Outcome(early_passes=early)  # held after the re-bakes
    return Outcome(passed_at=elapsed, early_passes=early)


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


def mann_whitney(shift: Shift) -> Outcome:
    elapsed = 0.0
    before: list[Window] = []
    for step, minutes in zip(STEPS, shift.steps, strict=True):
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


def bakes(traffic: int, weight: float) -> int:
    """Bakes a step takes on average: re-bakes until ``min_invocations`` (at most the limit)."""
    per_bake = traffic * weight * BAKE_MINUTES
    count = 1
    while count <= MAX_INCONCLUSIVE and per_bake * count < MIN_INVOCATIONS:
        count += 1
    return count


def exposure(traffic: int, steps: tuple[float, ...], before: bool) -> tuple[float, float]:
    """Expected invocations (new, old) over whole ``steps`` (and the minutes before the shift)."""
    n_new = sum(traffic * w * BAKE_MINUTES * bakes(traffic, w) for w in steps)
    n_old = sum(traffic * (1 - w) * BAKE_MINUTES * bakes(traffic, w) for w in steps)
    return n_new, n_old + (traffic * BEFORE_MINUTES if before else 0.0)


@dataclass(frozen=True)
class Oracle:
    pre: float | None = None
    """Broken: the bound on detection before 100% over the same minutes (drift-robust tests)."""
    pre_before: float | None = None
    """Broken: the same with the old version's minutes before the shift as well."""
    full: float | None = None
    """Broken: the bound over the whole shift and the minutes before it."""
    pass9: float | None = None
    """Healthy: the bound on an early pass by the 50% step's 4th minute (target b)."""


def oracle(traffic: int, q_old: float, multiplier: float, config: JudgeConfig) -> Oracle:
    r = config.ratio
    if multiplier == 1.0:
        n_new = traffic * STEPS[0] * BAKE_MINUTES + traffic * STEPS[1] * (BAKE_MINUTES - 1)
        n_old = traffic * (1 - STEPS[0]) * BAKE_MINUTES + traffic * (1 - STEPS[1]) * (
            BAKE_MINUTES - 1
        )
        n_old += traffic * BEFORE_MINUTES
        bound = pass_bound(n_new, n_old, q_old, r, config.absolute_tolerance, PASS_ALPHA)
        return Oracle(pass9=bound)
    alpha = config.alpha
    pre = exposure(traffic, STEPS[:-1], before=False)
    pre_before = exposure(traffic, STEPS[:-1], before=True)
    full = exposure(traffic, STEPS, before=True)
    return Oracle(
        pre=fail_bound(*pre, q_old, multiplier, r, alpha),
        pre_before=fail_bound(*pre_before, q_old, multiplier, r, alpha),
        full=fail_bound(*full, q_old, multiplier, r, alpha),
    )


@dataclass
class Cell:
    traffic: int
    q_old: float
    multiplier: float
    outcomes: dict[str, list[Outcome]]
    bound: Oracle

    @property
    def healthy(self) -> bool:
        return self.multiplier == 1.0

    def rate(self, name: str) -> float:
        runs = self.outcomes[name]
        return sum(o.failed_at is not None for o in runs) / len(runs)

    def before_100(self, name: str) -> float:
        runs = self.outcomes[name]
        return sum(o.failed_step is not None and o.failed_step < 1.0 for o in runs) / len(runs)

    def median_pass(self, name: str) -> float | None:
        passed = [o.passed_at for o in self.outcomes[name] if o.passed_at is not None]
        return statistics.median(passed) if passed else None

    def early_passed(self, name: str) -> float:
        """Healthy: shifts with an early pass; broken: shifts promoted after an early pass."""
        runs = self.outcomes[name]
        if self.healthy:
            return sum(o.early_passes > 0 for o in runs) / len(runs)
        return sum(o.early_passes > 0 and o.passed_at is not None for o in runs) / len(runs)

    def beyond_margin(self, config: JudgeConfig) -> bool:
        q_new = self.q_old * self.multiplier
        return q_new > config.ratio * self.q_old + config.absolute_tolerance


def summary(cell: Cell, name: str) -> str:
    failed = [o.failed_at for o in cell.outcomes[name] if o.failed_at is not None]
    det = statistics.median(failed) if failed and not cell.healthy else None
    det_text = f"{det:5.0f}" if det is not None else "    -"
    early_text = f"{cell.before_100(name):5.1%}" if not cell.healthy else "    -"
    median = cell.median_pass(name)
    pass_text = f"{median:4.0f}" if median is not None else "   -"
    out = f"{cell.rate(name):7.2%} {det_text} {early_text} {pass_text}"
    if name == "sequential":
        out += f" {cell.early_passed(name):5.1%}"
    return out


def bound_text(bound: Oracle) -> str:
    def pct(value: float | None) -> str:
        return f"{value:6.1%}" if value is not None else "     -"

    if bound.pass9 is not None:
        return f"{'':20} {pct(bound.pass9)}"
    return f"{pct(bound.pre)} {pct(bound.pre_before)} {pct(bound.full)} {'':6}"


PASS_ALPHA = FALSE_ALARM_RATE


def verdicts(cells: list[Cell], config: JudgeConfig, releases: int, components: int) -> None:
    """The issue's targets, each judged where the oracle says it is possible."""
    alpha = config.alpha
    se = 2 * math.sqrt(alpha * (1 - alpha) / releases)
    healthy = [c for c in cells if c.healthy]
    worst = max(healthy, key=lambda c: c.rate("sequential"))
    ok = all(c.rate("sequential") <= alpha + se for c in healthy)
    print(
        f"* false alarms per shift <= alpha {alpha:g} in every cell (+2 s.e. {se:.2g}): "
        f"{'MET' if ok else 'NOT MET'} (worst cell {worst.traffic}/min {worst.q_old:.1%}: "
        f"{worst.rate('sequential'):.3%})"
    )
    # releases of `components` shifts drawn in turn from the healthy cells (seeded order)
    pooled = [o for c in healthy for o in c.outcomes["sequential"]]
    random.Random(1).shuffle(pooled)
    groups = [pooled[i : i + components] for i in range(0, len(pooled), components)]
    groups = [g for g in groups if len(g) == components]
    alarmed = sum(any(o.failed_at is not None for o in g) for g in groups)
    rate = alarmed / len(groups)
    se_release = 2 * math.sqrt(FALSE_ALARM_RATE * (1 - FALSE_ALARM_RATE) / len(groups))
    print(
        f"* false alarms per simulated {components}-component release <= {FALSE_ALARM_RATE}: "
        f"{'MET' if rate <= FALSE_ALARM_RATE + se_release else 'NOT MET'} ({alarmed} of "
        f"{len(groups)} releases = {rate:.2%})"
    )
    target_a = [c for c in cells if c.multiplier == 5.0 and c.traffic >= 120 and c.q_old > 0]
    feasible = [c for c in target_a if c.bound.pre is not None and c.bound.pre >= 0.99]
    missed = [c for c in feasible if c.before_100("sequential") < 0.99]
    print(
        f"* (a) 5x detected >= 99% before 100% at >= 120/min, on the {len(feasible)} of "
        f"{len(target_a)} cells where the oracle allows it: "
        f"{'MET' if not missed else 'NOT MET'}"
    )
    for c in target_a:
        state = "feasible" if c in feasible else "impossible"
        print(
            f"    {c.traffic:>5}/min {c.q_old:>5.1%}: oracle {c.bound.pre:.1%} ({state}), "
            f"sequential {c.before_100('sequential'):.1%}"
        )
    target_b = [c for c in healthy if c.traffic >= 600]
    fixed = BAKE_MINUTES * 60 * len(STEPS)
    print(
        f"* (b) median PASSED shift <= {FAST:.0%} of {fixed} s = {FAST * fixed:.0f} s at >= "
        f"600/min (healthy), where the oracle allows it (an early pass at level {PASS_ALPHA:g} "
        f"by minute {2 * BAKE_MINUTES - 1} with probability >= 50%):"
    )
    b_ok = True
    for c in target_b:
        median = c.median_pass("sequential")
        fast = median is not None and median <= FAST * fixed
        possible = c.bound.pass9 is not None and c.bound.pass9 >= 0.5
        b_ok &= fast or not possible
        print(
            f"    {c.traffic:>5}/min {c.q_old:>5.1%}: oracle {c.bound.pass9:.1%} "
            f"({'feasible' if possible else 'impossible'}), median "
            f"{median if median is not None else float('nan'):.0f} s "
            f"({'met' if fast else 'not met'})"
        )
    print(f"    (b) on the feasible cells: {'MET' if b_ok else 'NOT MET'}")
    by_cell = {(c.traffic, c.q_old): c for c in healthy}
    print(
        "* (c) no cell where the threshold rule false-alarms <= 1% and detects more (by more "
        "than 2 s.e.), unless the oracle at the shift's alpha cannot detect as much:"
    )
    c_ok = True
    for c in cells:
        if c.healthy or by_cell[(c.traffic, c.q_old)].rate("threshold") > 0.01:
            continue
        thr, seq = c.rate("threshold"), c.rate("sequential")
        noise = 2 * math.sqrt((thr * (1 - thr) + seq * (1 - seq)) / releases)
        if thr <= seq + noise:
            continue
        possible = c.bound.full is not None and c.bound.full >= thr
        c_ok &= not possible
        print(
            f"    {c.traffic:>5}/min {c.q_old:>5.1%} x{c.multiplier:g}: threshold {thr:.1%} > "
            f"sequential {seq:.1%}; oracle {c.bound.full:.1%} "
            f"({'VIOLATION' if possible else 'impossible at this alpha'})"
        )
    print(f"    (c) on the feasible cells: {'MET' if c_ok else 'NOT MET'}")
    broken = [c for c in cells if not c.healthy and c.beyond_margin(config)]
    worst_b = max(broken, key=lambda c: c.early_passed("sequential"))
    worst_rate = worst_b.early_passed("sequential")
    at_5x = max(c.early_passed("sequential") for c in broken if c.multiplier == 5.0)
    print(
        f"* false PASS: a version beyond the margin promoted after an early pass <= "
        f"{PASS_ALPHA:g} in every cell: {'MET' if worst_rate <= PASS_ALPHA else 'NOT MET'} "
        f"(worst {worst_b.traffic}/min {worst_b.q_old:.1%} x{worst_b.multiplier:g}: "
        f"{worst_rate:.2%}; 5x cells at most {at_5x:.2%}, the detection early passes can cost)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--releases", type=int, default=2000, help="simulated shifts per cell")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--components", type=int, default=20, help="the release size the budget is split over"
    )
    args = parser.parse_args()
    components = args.components
    config = sequential_config(components)
    alpha = config.alpha
    runners: dict[str, Callable[[Shift], Outcome]] = {
        **RUNNERS,
        "sequential": functools.partial(sequential, config=config),
    }
    print(
        f"{args.releases} seeded shifts per cell (seed {args.seed}); steps {list(STEPS)}, "
        f"{BAKE_MINUTES * 60} s bakes; sequential alpha per shift {alpha:g} "
        f"(release budget {FALSE_ALARM_RATE} over {components} components), early pass at "
        f"level {PASS_ALPHA:g} on the margin {config.ratio:g} x old + {ABSOLUTE_TOLERANCE:g}"
    )
    widths = {name: 32 if name == "sequential" else 26 for name in JUDGES}
    head = " ".join(f"| {name:^{widths[name]}}" for name in JUDGES)
    print(f"{'traffic':>7} {'base':>6} {'mult':>4} {head} | {'oracle':^27}")
    sub = " ".join(
        f"| {'rate':>7} {'det':>5} {'<100':>5} {'pass':>4}" + f" {'ep':>5}"
        if name == "sequential"
        else f"| {'rate':>7} {'det':>5} {'<100':>5} {'pass':>4}"
        for name in JUDGES
    )
    print(f"{'/min':>7} {'rate':>6} {'':>4} {sub} | {'pre':>6} {'pre+':>6} {'all':>6} {'pass9':>6}")
    cells: list[Cell] = []
    started = time.perf_counter()
    for traffic in TRAFFIC:
        for q_old in BASELINE:
            for multiplier in MULTIPLIER:
                if q_old == 0.0 and multiplier != 1.0:
                    continue
                rng = random.Random(f"{args.seed}-{traffic}-{q_old}-{multiplier}")
                q_new = min(1.0, q_old * multiplier)
                results: dict[str, list[Outcome]] = {name: [] for name in JUDGES}
                for _ in range(args.releases):
                    shift = simulate(rng, traffic, q_old, q_new)
                    for name in JUDGES:
                        results[name].append(runners[name](shift))
                cell = Cell(
                    traffic, q_old, multiplier, results, oracle(traffic, q_old, multiplier, config)
                )
                cells.append(cell)
                row = " ".join(f"| {summary(cell, name)}" for name in JUDGES)
                print(
                    f"{traffic:>7} {q_old:>6.1%} {multiplier:>4g} {row} | {bound_text(cell.bound)}",
                    flush=True,
                )
    print()
    for name in JUDGES:
        runs = [o for c in cells if c.healthy for o in c.outcomes[name]]
        alarms = sum(o.failed_at is not None for o in runs)
        fa = alarms / len(runs)
        release = 1 - (1 - fa) ** components
        print(
            f"{name:>12}: healthy shifts false-alarmed {alarms} / {len(runs)} = {fa:.4%} per "
            f"shift, {release:.2%} per {components}-component release"
        )
    print("\nTargets (issue 10), judged where physically possible:")
    verdicts(cells, config, args.releases, components)
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
