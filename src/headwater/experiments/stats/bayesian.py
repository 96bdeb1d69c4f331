"""Bayesian comparison on the lift: chance to beat control, expected loss (risk), credible interval.

The lift's likelihood is normal (mean = observed lift, variance = its delta-method variance), combined
with a Gaussian prior on the lift: flat (improper) by default, or proper. This is gbstats 0.8.0's
EffectBayesianABTest. Risk is the expected loss of shipping each arm, in the lift's own unit
(a fraction of the control mean for the relative lift, metric units for the absolute lift).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm

from headwater.experiments.stats.frequentist import (
    BASELINE_ZERO,
    NO_UNITS,
    ZERO_VARIANCE,
    Difference,
    lift,
    lift_variance,
)
from headwater.experiments.stats.statistics import Moments


@dataclass(frozen=True, slots=True)
class GaussianPrior:
    """A prior on the relative lift; `proper=False` is the flat prior (the data alone)."""

    mean: float = 0.0
    variance: float = 1.0
    proper: bool = False


@dataclass(frozen=True, slots=True)
class BayesianResult:
    difference: Difference  # which lift every figure below is: relative (fraction) or absolute (units)
    chance_to_win: float  # P(treatment better than control); "better" is lower for inverse metrics
    expected: float  # posterior mean of the lift
    ci: tuple[float, float]  # central credible interval
    stddev: float  # posterior standard deviation of the lift
    risk_control: float  # expected loss if we keep the control
    risk_treatment: float  # expected loss if we ship the treatment
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _uninformative(difference: Difference, error: str) -> BayesianResult:
    return BayesianResult(difference, 0.5, 0.0, (0.0, 0.0), 0.0, 0.0, 0.0, error)


def _scaled_prior(prior: GaussianPrior, a: Moments, difference: Difference) -> GaussianPrior:
    if difference == "relative":
        return prior
    m = a.unadjusted_mean
    return GaussianPrior(prior.mean * abs(m), prior.variance * m**2, prior.proper)


def risks(mu: float, sigma: float) -> tuple[float, float]:
    """Expected loss of (keeping control, shipping treatment) for a lift ~ N(mu, sigma^2).

    Closed forms of gbstats' truncated-normal expressions: E[max(X, 0)] and E[max(-X, 0)]."""
    z = mu / sigma
    pdf = float(norm.pdf(z))
    return mu * float(norm.cdf(z)) + sigma * pdf, sigma * pdf - mu * float(norm.cdf(-z))


def bayesian_test(
    a: Moments,
    b: Moments,
    difference: Difference = "relative",
    *,
    prior: GaussianPrior | None = None,
    inverse: bool = False,
    alpha: float = 0.05,
) -> BayesianResult:
    prior = _scaled_prior(prior or GaussianPrior(), a, difference)
    if difference == "relative" and (a.mean == 0 or a.unadjusted_mean == 0):
        return _uninformative(difference, BASELINE_ZERO)
    if a.n == 0 or b.n == 0:
        return _uninformative(difference, NO_UNITS)
    if a.zero_variance or b.zero_variance:
        return _uninformative(difference, ZERO_VARIANCE)
    data_var = lift_variance(a, b, difference)
    data_mean = lift(a, b, difference)
    precision = 1 / data_var + (1 / prior.variance if prior.proper else 0.0)
    mean = (data_mean / data_var + prior.mean / prior.variance) / precision if prior.proper else data_mean
    sd = math.sqrt(1 / precision)
    up = float(norm.sf(0, mean, sd))
    ctw = 1 - up if inverse else up
    lo, hi = (float(x) for x in norm.ppf([alpha / 2, 1 - alpha / 2], mean, sd))
    risk_ctrl, risk_trt = risks(mean, sd)
    if inverse:
        risk_ctrl, risk_trt = risk_trt, risk_ctrl
    return BayesianResult(difference, ctw, mean, (lo, hi), sd, risk_ctrl, risk_trt)
