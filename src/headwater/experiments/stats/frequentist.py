"""Frequentist two-sided Welch t-test on relative or absolute lift, and its sequential variant.

Relative lift is (treatment - control) / control, with the delta-method variance; absolute lift is
treatment - control. The sequential test gives always-valid confidence intervals and p-values
(Waudby-Smith et al. 2023, asymptotic confidence sequences), tuned as GrowthBook does, so results may
be looked at every day without inflating false positives. Formulas and edge cases follow gbstats 0.8.0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from scipy.stats import t as student_t

from headwater.experiments.stats.statistics import Moments

Difference = Literal["relative", "absolute"]

BASELINE_ZERO = "ZERO_NEGATIVE_BASELINE_VARIATION"
ZERO_VARIANCE = "ZERO_NEGATIVE_VARIANCE"
NO_UNITS = "NO_UNITS_IN_VARIATION"
DEFAULT_SEQUENTIAL_TUNING = 5000.0


@dataclass(frozen=True, slots=True)
class FrequentistResult:
    difference: Difference  # which lift every figure below is: relative (fraction) or absolute (units)
    expected: float  # point estimate of the lift
    ci: tuple[float, float]
    p_value: float
    stddev: float  # standard error of the lift
    error: str | None = None  # set when the test could not run; figures are then uninformative

    @property
    def ok(self) -> bool:
        return self.error is None


def lift(a: Moments, b: Moments, difference: Difference) -> float:
    if difference == "relative":
        return (b.mean - a.mean) / a.unadjusted_mean
    return b.mean - a.mean


def lift_variance(a: Moments, b: Moments, difference: Difference) -> float:
    if difference == "relative":
        ma, mb = a.unadjusted_mean, b.unadjusted_mean
        return b.variance / (ma**2 * b.n) + a.variance * mb**2 / (ma**4 * a.n)
    return b.variance / b.n + a.variance / a.n


def welch_dof(a: Moments, b: Moments) -> float:
    num = (b.variance / b.n + a.variance / a.n) ** 2
    den = b.variance**2 / (b.n**2 * (b.n - 1)) + a.variance**2 / (a.n**2 * (a.n - 1))
    return num / den


def _uninformative(difference: Difference, error: str) -> FrequentistResult:
    return FrequentistResult(difference, 0.0, (0.0, 0.0), 1.0, 0.0, error)


def precheck(a: Moments, b: Moments) -> str | None:
    """Why a comparison cannot be computed, or None. Checked before any division."""
    if a.n == 0 or b.n == 0:
        return NO_UNITS
    if a.mean == 0 or a.unadjusted_mean == 0:
        return BASELINE_ZERO
    if a.zero_variance or b.zero_variance:
        return ZERO_VARIANCE
    return None


def two_sided_ttest(
    a: Moments, b: Moments, difference: Difference = "relative", *, alpha: float = 0.05
) -> FrequentistResult:
    error = precheck(a, b)
    if error is not None:
        return _uninformative(difference, error)
    estimate = lift(a, b, difference)
    se = math.sqrt(lift_variance(a, b, difference))
    dof = welch_dof(a, b)
    p_value = float(2 * student_t.sf(abs(estimate / se), dof))
    width = float(student_t.ppf(1 - alpha / 2, dof)) * se
    return FrequentistResult(difference, estimate, (estimate - width, estimate + width), p_value, se)


def sequential_rho(alpha: float, tuning: float) -> float:
    return math.sqrt((-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning)


def sequential_ttest(
    a: Moments,
    b: Moments,
    difference: Difference = "relative",
    *,
    alpha: float = 0.05,
    tuning: float = DEFAULT_SEQUENTIAL_TUNING,
) -> FrequentistResult:
    """Always-valid two-sided test; `tuning` is the sample size where the interval is tightest."""
    error = precheck(a, b)
    if error is not None:
        return _uninformative(difference, error)
    estimate = lift(a, b, difference)
    variance = lift_variance(a, b, difference)
    total = a.n + b.n
    rho = sequential_rho(alpha, tuning)
    nrho2 = total * rho**2 + 1
    s2 = variance * total
    width = math.sqrt(s2) * math.sqrt(2 * nrho2 * math.log(math.sqrt(nrho2) / alpha) / (total * rho) ** 2)
    st2 = estimate**2 * total / variance
    log_evalue = rho**2 * st2 / (2 * nrho2) - 0.5 * math.log(nrho2)
    p_value = 1.0 if log_evalue <= 0 else math.exp(-log_evalue)
    return FrequentistResult(
        difference, estimate, (estimate - width, estimate + width), p_value, math.sqrt(variance)
    )
