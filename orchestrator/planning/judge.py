"""The sequential judge: the new version's error rate against the old one's, anytime-valid (pure).

The question, per component shift: is the new version's error rate at most ``r = 1 + tolerance``
times the old version's? Each bake window (a minute, or a whole bake) brings the invocations and
errors of both versions behind the alias over the same minutes. Conditional on the window's total
errors ``E``, under the null boundary (rate ratio exactly ``r``) the new version's share of them
is ``Binomial(E, p0)`` with ``p0 = r * n_new / (r * n_new + n_old)``; under any ratio ``<= r`` its
share is stochastically smaller. (The conditional law is exact for Poisson errors; the tests
below need no conditioning at all: one window's likelihood ratio of ``p1 = p0 (1 + v)`` against
``p0`` is ``(1 + v)^k_new (1 - r v n_new / n_old)^k_old``, whose expectation is at most
``exp(n_new v (q_new - r q_old)) <= 1`` for binomial errors too, whatever both rates do from one
window to the next while their ratio stays at most ``r``.)

*Failing.* For each alternative ratio ``rho`` of a fixed grid above ``r`` (``r`` times 1.5, 2, 3,
5, 10, 30 and 100), the product over windows of the binomial likelihood ratio of ``p1(rho)``
against ``p0`` is a test supermartingale under every null ratio ``<= r`` (``E[LR] = (p p1/p0 +
(1-p)(1-p1)/(1-p0))^E <= 1`` when ``p <= p0 < p1``); so is the equal-weight mixture of these
products (the e-value). By Ville's inequality the chance that it *ever* reaches ``1 / alpha`` is
at most ``alpha``, so the judge may look after every window, every bake and every step without
inflating the false-alarm rate. FAILED when it does. A zero-error baseline is no escape: with no
baseline errors every canary error multiplies the e-value by ``p1 / p0 > 1``.

*Passing early* is a test of the non-inferiority null "the new rate is beyond the margin",
``q_new >= r q_old + delta`` (``delta`` = ``absolute_tolerance``, default 0.001), with the
e-values of ``pass_log_e``: for a bet ``u`` in ``PASS_BETS``, ``exp(n_new delta u) (1 -
u)^k_new (1 + r u n_new / n_old)^k_old``, whose expectation is at most 1 under every point of
that null (Poisson or binomial errors, no conditioning), so their product over windows is a test
supermartingale and the equal-weight mixture over the bets crossing ``1 / early_pass_alpha``
has probability at most ``early_pass_alpha``. Without ``delta`` it is the conditional binomial
likelihood ratio of the new version's share of the errors; with it, invocations without errors
are evidence too (``n_new delta u`` per window), so a clean version against a zero-error
baseline passes early once it has about ``log(1 / early_pass_alpha) / delta`` invocations. The
step then also needs ``min_invocations``. The level of an early pass is not a false alarm (no
one is paged): Verify sets it to ``false_alarm_rate`` itself, not split over the release. The
pass evidence carries across steps like the fail evidence: once conclusive, every later step
passes after its first look with ``min_invocations``.

*At 100%* no old version is left behind the alias. The judge then compares the new version with
the old version's counts accumulated in the earlier windows of this shift and, when Verify read
them (``observe_before``), the old version's own minutes before the shift (never used for the
comparison over the same minutes, which stays robust to a drift both versions share): for
failing, with the Clopper-Pearson upper bound of the old rate (one-sided, level
``reference_alpha``), for passing with its lower bound ``L`` (the null's floor becomes ``r L +
delta``), each new window adding a one-sample binomial likelihood ratio of ``rho * bound``
against ``r * bound``. The bound holds with probability ``1 - reference_alpha``, so by the
union bound the shift's false-alarm rate is at most ``test_alpha + reference_alpha +
final_alpha (+ ceiling_alpha)``, which ``JudgeConfig`` keeps equal to ``alpha`` (25% / 10% / 40%
/ 25% with a ceiling, 50% / 10% / 40% without). A shift that starts at 100% with no earlier
evidence has nothing to compare with: only the absolute ceiling can fail it (and only the
absolute margin pass it early).

*The final look.* E-values pay for being looked at any time (Ville's bound is Markov's
inequality). Once per shift, at a time fixed by the plan and the traffic alone (the first bake
at 100% that ends with ``min_invocations``, in a shift no step of which ended early), one
fixed-sample test of the counts pooled over the shift and the old version's minutes before it
(``final_p_value``, level ``final_alpha``) can fail the version too; like the reference, it
assumes the old rate did not move between the minutes before the shift and its end.

``max_error_rate`` (when set) stays an absolute ceiling: a new version *conclusively* above it (an
e-value of one-sample binomial likelihood ratios against ``max_error_rate`` times 1.5 to 10
crossing ``1 / ceiling_alpha``) FAILS whatever the baseline, once it had ``min_invocations``
invocations in the step. Passing also needs
``min_invocations`` in the step; the e-value may FAIL a version sooner, because its guarantee holds
at every sample size (a handful of invocations never carries enough errors to cross it unless the
baseline is clean and the canary is not). No data, zero invocations and all-zero windows carry no
evidence: INCONCLUSIVE. An impossible figure (negative, or more errors than invocations) is ERROR.

The budget: ``false_alarm_rate`` is for the whole release, split Bonferroni-style across the
release's shifted components and the downstream checks of each (``alpha_per_check``).

The evidence is a small serialisable state (``JudgeState.to_dict`` / ``from_dict``): the log
e-values per alternative and cumulative counts, carried across windows and steps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from orchestrator.model.steps import Phase

FAIL_MULTIPLIERS = (1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 100.0)
"""Alternatives for failing: ``rho = r * m``. The large ones make a few errors against a zero-error
baseline conclusive (each then multiplies the e-value by nearly ``1 / p0``)."""
PASS_BETS = (0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.85, 0.95)
"""The bets ``u`` of the pass e-value (``pass_log_e``): small ones pay off on errors on both
sides, large ones on many invocations without errors (the absolute margin)."""
CEILING_MULTIPLIERS = (1.5, 2.0, 3.0, 5.0, 10.0)
"""Alternatives of the ceiling test: the new version's rate at ``max_error_rate`` times these."""
REFERENCE_SHARE = 0.1
"""The share of a check's budget spent on the old rate's bound at 100% (the rest: the tests)."""
FINAL_SHARE = 0.4
"""The share of a check's budget spent on the final look (``final_p_value``)."""
CEILING_SHARE = 0.25
"""The share of a check's budget spent on the ceiling test, when ``max_error_rate`` is set."""
LOG_CAP = 1e6
"""Log e-values are kept within +-``LOG_CAP`` so that the state stays finite JSON."""
CONFIDENCE = 0.95
"""The level of the reported (fixed-sample) interval of the ratio."""


def alpha_per_check(
    false_alarm_rate: float, shifted_components: int, checks_per_component: int = 1
) -> float:
    """One check's share of the release's false-alarm budget (Bonferroni).

    ``checks_per_component`` counts the shifted version's own test plus one per downstream
    consumer judged on its behalf. Every check's chance of ever false-alarming is at most its
    share, so the release's is at most ``false_alarm_rate``.
    """
    if not 0.0 < false_alarm_rate < 1.0:
        raise ValueError(f"false_alarm_rate must be in (0, 1), got {false_alarm_rate}")
    checks = max(1, shifted_components) * max(1, checks_per_component)
    return false_alarm_rate / checks


@dataclass(frozen=True)
class JudgeConfig:
    alpha: float
    """This check's false-alarm budget (``alpha_per_check``)."""
    tolerance: float = 0.25
    min_invocations: int = 20
    max_error_rate: float | None = None
    early_pass: bool = True
    absolute_tolerance: float = 0.001
    """The absolute part of the early pass's margin: a step may end early once the new rate is
    conclusively at most ``(1 + tolerance) x old rate + absolute_tolerance``."""
    pass_alpha: float | None = None
    """The level of an early pass (a version beyond the margin ends a step early with at most
    this probability); ``None``: ``test_alpha``. Not a false alarm: no share of ``alpha``."""

    @property
    def ratio(self) -> float:
        return 1.0 + self.tolerance

    @property
    def reference_alpha(self) -> float:
        """The level of the old rate's bound that the new version is compared with at 100%."""
        return self.alpha * REFERENCE_SHARE

    @property
    def final_alpha(self) -> float:
        """The level of the final look's fixed-sample test."""
        return self.alpha * FINAL_SHARE

    @property
    def ceiling_alpha(self) -> float:
        """The budget of the ceiling test (0 without ``max_error_rate``)."""
        return self.alpha * CEILING_SHARE if self.max_error_rate is not None else 0.0

    @property
    def test_alpha(self) -> float:
        """The budget of the ratio's e-value: what the reference bound, the final look and the
        ceiling leave.

        The four ways a healthy version can be failed (the e-value crossing, the old rate's
        bound being wrong at 100%, the final look, the ceiling's e-value crossing) add up to at
        most ``alpha``.
        """
        return self.alpha - self.reference_alpha - self.final_alpha - self.ceiling_alpha

    @property
    def early_pass_alpha(self) -> float:
        return self.pass_alpha if self.pass_alpha is not None else self.test_alpha

    @property
    def ceiling_rates(self) -> tuple[float, ...]:
        if self.max_error_rate is None:
            return ()
        return tuple(min(self.max_error_rate * m, 1.0 - 1e-9) for m in CEILING_MULTIPLIERS)

    @property
    def fail_rhos(self) -> tuple[float, ...]:
        return tuple(self.ratio * m for m in FAIL_MULTIPLIERS)


@dataclass(frozen=True)
class Window:
    """Invocations and errors of both versions over the same minutes (``old`` 0 at 100%)."""

    new_invocations: float
    new_errors: float
    old_invocations: float = 0.0
    old_errors: float = 0.0


@dataclass(frozen=True)
class JudgeState:
    """The evidence of one component shift, carried across windows and steps."""

    log_e_fail: tuple[float, ...] = ()
    log_e_pass: tuple[float, ...] = ()
    """Per bet of ``PASS_BETS`` (``pass_log_e``)."""
    log_e_ceiling: tuple[float, ...] = ()
    """The ceiling test: the new version's own rate above ``max_error_rate``."""
    new_invocations: int = 0
    new_errors: int = 0
    old_invocations: int = 0
    old_errors: int = 0
    step_invocations: int = 0
    """New-version invocations since the current step began (``begin_step``)."""
    windows: int = 0
    reference: tuple[float, float] | None = None
    """The old rate's (lower, upper) bound, fixed at the first window without an old version."""
    prior_old_invocations: int = 0
    prior_old_errors: int = 0
    """The old version's own figures before the shift began (``observe_before``): they enter
    the reference bound at 100%, never the comparison over the same minutes."""
    passed_early: bool = False
    """A step of this shift ended early (``mark_early_pass``): no final look then."""
    final_p: float | None = None
    """The final look's p-value, once it was taken (at most once per shift)."""
    invalid: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "log_e_fail": [_capped(v) for v in self.log_e_fail],
            "log_e_pass": [_capped(v) for v in self.log_e_pass],
            "log_e_ceiling": [_capped(v) for v in self.log_e_ceiling],
            "new_invocations": self.new_invocations,
            "new_errors": self.new_errors,
            "old_invocations": self.old_invocations,
            "old_errors": self.old_errors,
            "step_invocations": self.step_invocations,
            "windows": self.windows,
            "reference": list(self.reference) if self.reference is not None else None,
            "prior_old_invocations": self.prior_old_invocations,
            "prior_old_errors": self.prior_old_errors,
            "passed_early": self.passed_early,
            "final_p": self.final_p,
            "invalid": self.invalid,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JudgeState:
        reference = data.get("reference")
        return cls(
            log_e_fail=tuple(float(v) for v in data.get("log_e_fail", ())),
            log_e_pass=tuple(float(v) for v in data.get("log_e_pass", ())),
            log_e_ceiling=tuple(float(v) for v in data.get("log_e_ceiling", ())),
            new_invocations=int(data.get("new_invocations", 0)),
            new_errors=int(data.get("new_errors", 0)),
            old_invocations=int(data.get("old_invocations", 0)),
            old_errors=int(data.get("old_errors", 0)),
            step_invocations=int(data.get("step_invocations", 0)),
            windows=int(data.get("windows", 0)),
            reference=(float(reference[0]), float(reference[1])) if reference else None,
            prior_old_invocations=int(data.get("prior_old_invocations", 0)),
            prior_old_errors=int(data.get("prior_old_errors", 0)),
            passed_early=bool(data.get("passed_early", False)),
            final_p=float(data["final_p"]) if data.get("final_p") is not None else None,
            invalid=data.get("invalid"),
        )


@dataclass(frozen=True)
class Evidence:
    new_invocations: int
    new_errors: int
    old_invocations: int
    old_errors: int
    ratio: float | None
    """Estimated ratio of error rates (new / old); ``inf`` with errors only on the new side."""
    interval: tuple[float, float] | None
    """95% Clopper-Pearson interval of the ratio (fixed-sample: not anytime-valid)."""
    e_fail: float
    e_pass: float
    threshold: float
    e_ceiling: float = 1.0
    pass_threshold: float = math.inf
    """What ``e_pass`` must reach for an early pass (``1 / early_pass_alpha``)."""


@dataclass(frozen=True)
class Judgement:
    phase: Phase
    reasons: list[str]
    evidence: Evidence
    early: bool = field(default=False)
    """PASSED (or FAILED) before the bake's end."""


def start(config: JudgeConfig) -> JudgeState:
    return JudgeState(
        log_e_fail=tuple(0.0 for _ in config.fail_rhos),
        log_e_pass=tuple(0.0 for _ in PASS_BETS),
        log_e_ceiling=tuple(0.0 for _ in config.ceiling_rates),
    )


def _capped(value: float) -> float:
    return max(-LOG_CAP, min(LOG_CAP, value))


def begin_step(state: JudgeState) -> JudgeState:
    """A new traffic step: the evidence carries on, the step's invocation count starts over."""
    return replace(state, step_invocations=0)


def _count(value: float) -> int | None:
    if not math.isfinite(value) or value < 0:
        return None
    return round(value)


def _log_lr(k: int, n: int, p1: float, p0: float) -> float:
    """log of the binomial likelihood ratio of ``p1`` against ``p0`` for ``k`` of ``n``."""
    if n == 0:
        return 0.0
    if p0 <= 0.0:
        return 0.0 if k == 0 and p1 <= 0.0 else (math.inf if p1 > 0.0 and k > 0 else 0.0)
    out = 0.0
    if k:
        out += k * (math.log(p1) - math.log(p0)) if p1 > 0.0 else -math.inf
    if n - k:
        if p0 >= 1.0:
            return math.inf
        out += (n - k) * (math.log1p(-p1) - math.log1p(-p0)) if p1 < 1.0 else -math.inf
    return out


def pass_log_e(
    bet: float, floor: float, ratio: float, n_new: int, k_new: int, n_old: int, k_old: int
) -> float:
    """The log pass e-value of one window for the bet ``u`` (``0 < u < 1``):
    ``n_new floor u + k_new log(1 - u) + k_old log(1 + ratio u n_new / n_old)``.

    Its expectation is at most ``exp(n_new u (floor + ratio q_old - q_new))`` for binomial (or
    Poisson) errors, at most 1 whenever ``q_new >= ratio q_old + floor``: over the same minutes
    ``floor`` is ``absolute_tolerance``; at 100% (``n_old`` 0) it is ``ratio x`` the old rate's
    lower bound ``+ absolute_tolerance``. Without an absolute part it is the conditional
    binomial likelihood ratio of the new version's share of the errors (``p1 = p0 (1 - u)``).
    """
    out = n_new * min(floor, 1.0) * bet
    if k_new:
        out += k_new * math.log1p(-bet)
    if k_old and n_old:
        out += k_old * math.log1p(ratio * bet * n_new / n_old)
    return out


def observe_before(state: JudgeState, invocations: float, errors: float) -> JudgeState:
    """The old version's own figures from before the shift began: the reference at 100% (never
    the comparison over the same minutes, which stays robust to a drift both versions share)."""
    n, k = _count(invocations), _count(errors)
    if n is None or k is None or k > n:
        return replace(state, invalid=f"not counts before the shift: {invocations}, {errors}")
    return replace(
        state,
        prior_old_invocations=state.prior_old_invocations + n,
        prior_old_errors=state.prior_old_errors + k,
    )


def _reference(config: JudgeConfig, state: JudgeState) -> tuple[float, float]:
    """The old rate's (lower, upper) Clopper-Pearson bounds at ``reference_alpha`` each, over its
    figures of the earlier steps and from before the shift."""
    n = state.old_invocations + state.prior_old_invocations
    k = state.old_errors + state.prior_old_errors
    a = config.reference_alpha
    return (
        _beta_quantile(a, k, n - k + 1) if k > 0 else 0.0,
        _beta_quantile(1.0 - a, k + 1, n - k) if k < n else 1.0,
    )


def mark_early_pass(state: JudgeState) -> JudgeState:
    """A step of the shift ended early: the final look's time is no longer fixed in advance."""
    return replace(state, passed_early=True)


def final_p_value(
    ratio: float, new_invocations: int, new_errors: int, old_invocations: int, old_errors: int
) -> float:
    """The exact conditional test of "new rate <= ``ratio`` x old rate" on pooled counts:
    ``P(Binomial(E, p0) >= new_errors)``, ``E`` all errors, ``p0 = r n_new / (r n_new + n_old)``.
    """
    total = new_errors + old_errors
    if new_errors == 0 or new_invocations == 0 or old_invocations == 0:
        return 1.0
    p0 = ratio * new_invocations / (ratio * new_invocations + old_invocations)
    return beta_cdf(p0, new_errors, total - new_errors + 1)


def observe(
    config: JudgeConfig, state: JudgeState, window: Window, *, bake_end: bool = False
) -> JudgeState:
    """Add one window's counts to the evidence.

    ``bake_end``: this window ends a bake. The first one that ends a bake without an old version
    behind the alias (at 100%, or a downstream check) with ``min_invocations`` in the step, in a
    shift no step of which ended early, takes the final look: one fixed-sample test of the
    pooled counts (``final_p_value``), at a time fixed by the plan and the traffic alone, so it
    keeps its level ``final_alpha`` (no Markov inequality to pay, as the e-values do).
    """
    fresh = start(config)
    if not state.log_e_fail:
        state = replace(state, log_e_fail=fresh.log_e_fail)
    if len(state.log_e_pass) != len(fresh.log_e_pass):
        state = replace(state, log_e_pass=fresh.log_e_pass)  # an older state: start afresh
    if len(state.log_e_ceiling) != len(fresh.log_e_ceiling):
        state = replace(state, log_e_ceiling=fresh.log_e_ceiling)
    counts = [
        _count(window.new_invocations),
        _count(window.new_errors),
        _count(window.old_invocations),
        _count(window.old_errors),
    ]
    if any(c is None for c in counts):
        return replace(state, invalid=f"a figure is not a count: {window}")
    n_new, k_new, n_old, k_old = (c or 0 for c in counts)
    if k_new > n_new or k_old > n_old:
        return replace(state, invalid=f"more errors than invocations: {window}")
    r = config.ratio
    delta = config.absolute_tolerance
    log_fail = list(state.log_e_fail)
    log_pass = list(state.log_e_pass)
    log_ceiling = list(state.log_e_ceiling)
    if config.max_error_rate is not None and n_new > 0:
        for i, q1 in enumerate(config.ceiling_rates):
            log_ceiling[i] += _log_lr(k_new, n_new, q1, config.max_error_rate)
    reference = state.reference
    floor: float | None = None
    if n_old > 0 and n_new > 0:
        total = k_new + k_old
        p0 = r * n_new / (r * n_new + n_old)
        for i, rho in enumerate(config.fail_rhos):
            log_fail[i] += _log_lr(k_new, total, rho * n_new / (rho * n_new + n_old), p0)
        floor = delta
    elif n_new > 0 and n_old == 0:
        if state.old_invocations + state.prior_old_invocations > 0:
            if reference is None:
                reference = _reference(config, state)
            low, high = reference
            q0 = min(r * high, 1.0)
            if q0 < 1.0:
                for i, rho in enumerate(config.fail_rhos):
                    log_fail[i] += _log_lr(k_new, n_new, min(rho * high, 1.0), q0)
            floor = r * low + delta
        else:
            floor = delta  # nothing to compare with: only the absolute margin can pass it
    if floor is not None:
        for i, u in enumerate(PASS_BETS):
            log_pass[i] += pass_log_e(u, floor, r, n_new, k_new, n_old, k_old)
    final_p = state.final_p
    if (
        bake_end
        and final_p is None
        and not state.passed_early
        and n_new > 0
        and n_old == 0
        and reference is not None
        and state.step_invocations + n_new >= max(1, config.min_invocations)
    ):
        final_p = final_p_value(
            r,
            state.new_invocations + n_new,
            state.new_errors + k_new,
            state.old_invocations + state.prior_old_invocations,
            state.old_errors + state.prior_old_errors,
        )
    return replace(
        state,
        log_e_fail=tuple(_capped(v) for v in log_fail),
        log_e_pass=tuple(_capped(v) for v in log_pass),
        log_e_ceiling=tuple(_capped(v) for v in log_ceiling),
        new_invocations=state.new_invocations + n_new,
        new_errors=state.new_errors + k_new,
        old_invocations=state.old_invocations + n_old,
        old_errors=state.old_errors + k_old,
        step_invocations=state.step_invocations + n_new,
        windows=state.windows + 1,
        reference=reference,
        final_p=final_p,
    )


def log_mixture(log_values: Sequence[float]) -> float:
    """The log of the equal-weight mixture of e-values given by their logs (``inf`` allowed)."""
    if not log_values:
        return 0.0
    top = max(log_values)
    if top in (math.inf, -math.inf):
        return top
    return top + math.log(sum(math.exp(v - top) for v in log_values) / len(log_values))


def mixture(log_values: Sequence[float]) -> float:
    """The equal-weight mixture of e-values given by their logs (``inf`` allowed)."""
    log_value = log_mixture(log_values)
    return math.inf if log_value > 700.0 else math.exp(log_value)


def decide(
    config: JudgeConfig, state: JudgeState, *, bake_complete: bool, with_interval: bool = True
) -> Judgement:
    """The verdict on the evidence so far.

    Mid-bake (``bake_complete=False``) INCONCLUSIVE means "keep baking"; at the bake's end a shift
    that has its ``min_invocations`` in this step and no conclusive regression PASSES.
    """
    threshold = 1.0 / config.test_alpha
    log_threshold = -math.log(config.test_alpha)
    e_fail = mixture(state.log_e_fail)
    log_e_pass = log_mixture(state.log_e_pass)
    e_pass = math.inf if log_e_pass > 700.0 else math.exp(log_e_pass)
    pass_threshold = 1.0 / config.early_pass_alpha
    e_ceiling = mixture(state.log_e_ceiling)
    evidence = Evidence(
        new_invocations=state.new_invocations,
        new_errors=state.new_errors,
        old_invocations=state.old_invocations,
        old_errors=state.old_errors,
        ratio=estimated_ratio(state),
        interval=ratio_interval(state) if with_interval else None,
        e_fail=e_fail,
        e_pass=e_pass,
        threshold=threshold,
        e_ceiling=e_ceiling,
        pass_threshold=pass_threshold,
    )

    def judged(phase: Phase, reason: str, early: bool = False) -> Judgement:
        return Judgement(phase=phase, reasons=[reason], evidence=evidence, early=early)

    if state.invalid is not None:
        return judged(Phase.ERROR, state.invalid)
    enough = state.step_invocations >= max(1, config.min_invocations)
    if (
        config.max_error_rate is not None
        and enough
        and log_mixture(state.log_e_ceiling) >= -math.log(config.ceiling_alpha)
    ):
        rate = state.new_errors / state.new_invocations
        return judged(
            Phase.FAILED,
            f"error rate {rate:.4g} above the ceiling max_error_rate {config.max_error_rate} "
            f"(e-value {e_ceiling:.3g} >= {1.0 / config.ceiling_alpha:.3g})",
            early=not bake_complete,
        )
    if log_mixture(state.log_e_fail) >= log_threshold:
        return judged(
            Phase.FAILED,
            f"error rate ratio above {config.ratio:g} (e-value {e_fail:.3g} >= {threshold:.3g})",
            early=not bake_complete,
        )
    if state.final_p is not None and state.final_p <= config.final_alpha:
        return judged(
            Phase.FAILED,
            f"error rate ratio above {config.ratio:g} over the whole shift (final look: p "
            f"{state.final_p:.2g} <= {config.final_alpha:.2g})",
        )
    if not enough:
        return judged(
            Phase.INCONCLUSIVE,
            f"{state.step_invocations} invocations of the new version in this step, "
            f"fewer than min_invocations {max(1, config.min_invocations)}",
        )
    if config.early_pass and log_e_pass >= -math.log(config.early_pass_alpha):
        margin = f"{config.ratio:g} x old rate + {config.absolute_tolerance:g}"
        return judged(
            Phase.PASSED,
            f"error rate within {margin} (e-value {e_pass:.3g} >= {pass_threshold:.3g})",
            early=not bake_complete,
        )
    if bake_complete:
        return judged(Phase.PASSED, "no conclusive regression over the whole bake")
    return judged(Phase.INCONCLUSIVE, "not conclusive yet: keep baking")


def estimated_ratio(state: JudgeState) -> float | None:
    if state.new_invocations == 0 or state.old_invocations == 0:
        return None
    new_rate = state.new_errors / state.new_invocations
    old_rate = state.old_errors / state.old_invocations
    if old_rate == 0.0:
        return math.inf if new_rate > 0.0 else None
    return new_rate / old_rate


def ratio_interval(state: JudgeState, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Clopper-Pearson on the new version's share of all errors, transformed to the ratio.

    Fixed-sample (valid for one look at pooled counts, not anytime-valid): it is the evidence
    shown to people, the decision is the e-value's.
    """
    n_new, n_old = state.new_invocations, state.old_invocations
    k = state.new_errors
    total = state.new_errors + state.old_errors
    if n_new == 0 or n_old == 0 or total == 0:
        return None
    half = (1.0 - confidence) / 2.0
    low = _beta_quantile(half, k, total - k + 1) if k > 0 else 0.0
    high = _beta_quantile(1.0 - half, k + 1, total - k) if k < total else 1.0

    def to_ratio(p: float) -> float:
        return math.inf if p >= 1.0 else p * n_old / ((1.0 - p) * n_new)

    return (to_ratio(low), to_ratio(high))


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularized incomplete beta function (Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-12:
            break
    return h


def beta_cdf(x: float, a: float, b: float) -> float:
    """The regularized incomplete beta function ``I_x(a, b)``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def _beta_quantile(q: float, a: float, b: float) -> float:
    low, high = 0.0, 1.0
    for _ in range(100):
        mid = (low + high) / 2.0
        if beta_cdf(mid, a, b) < q:
            low = mid
        else:
            high = mid
        if high - low < 1e-12:
            break
    return (low + high) / 2.0


def _ratio_text(value: float) -> str:
    return "inf" if value == math.inf else f"{value:.2g}" if value < 10 else f"{value:.0f}"


def evidence_line(
    subject: str,
    baseline: str,
    evidence: Evidence,
    phase: Phase,
    step: float,
    minutes: float,
    bake_minutes: float,
) -> str:
    """One line for people: ``enrich@18: 14 errors / 1,200 invocations vs enrich@17: 9 / 10,800;
    ratio 14.0 (95% interval 6.1-31); FAILED at 10% after 4 of 5 minutes``."""
    own = f"{subject}: {evidence.new_errors:,} errors / {evidence.new_invocations:,} invocations"
    if evidence.old_invocations:
        own += f" vs {baseline}: {evidence.old_errors:,} / {evidence.old_invocations:,}"
    else:
        own += f" ({baseline}: no figures to compare with)"
    if evidence.ratio is not None:
        ratio = "inf" if evidence.ratio == math.inf else f"{evidence.ratio:.1f}"
        own += f"; ratio {ratio}"
        if evidence.interval is not None:
            low, high = evidence.interval
            own += f" ({CONFIDENCE:.0%} interval {_ratio_text(low)}-{_ratio_text(high)})"
    return f"{own}; {phase.value} at {step:g}% after {minutes:g} of {bake_minutes:g} minutes"
