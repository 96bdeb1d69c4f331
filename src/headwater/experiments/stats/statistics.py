"""Per-variant sufficient statistics and the moments derived from them, as gbstats 0.8.0 defines them.

A proportion (conversion) metric needs n users and the number who converted; a mean metric needs n,
the sum and the sum of squares of its per-user values; CUPED adds the same metric over the
pre-exposure period as a covariate (its sum, sum of squares, and the sum of post x pre products).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProportionStats:
    """n users, `conversions` of whom converted (sum = sum of squares = conversions)."""

    n: int
    conversions: float

    @property
    def sum(self) -> float:
        return self.conversions

    @property
    def sum_squares(self) -> float:
        return self.conversions

    @property
    def mean(self) -> float:
        return 0.0 if self.n == 0 else self.conversions / self.n

    @property
    def variance(self) -> float:
        m = self.mean
        return m * (1 - m)


@dataclass(frozen=True, slots=True)
class MeanStats:
    """n users, the sum of their values and the sum of the squared values."""

    n: int
    sum: float
    sum_squares: float

    @property
    def mean(self) -> float:
        return 0.0 if self.n == 0 else self.sum / self.n

    @property
    def variance(self) -> float:
        """Sample variance (n - 1 in the denominator); 0 with fewer than 2 users."""
        if self.n <= 1:
            return 0.0
        return (self.sum_squares - self.sum**2 / self.n) / (self.n - 1)


BaseStats = ProportionStats | MeanStats


@dataclass(frozen=True, slots=True)
class CupedStats:
    """A metric (`post`) with the same metric before exposure (`pre`) as CUPED covariate."""

    post: BaseStats
    pre: BaseStats
    sum_of_products: float  # sum over users of post value x pre value

    @property
    def n(self) -> int:
        return self.post.n

    def covariance(self) -> float:
        n = self.n
        if n <= 1:
            return 0.0
        return (self.sum_of_products - self.post.sum * self.pre.sum / n) / (n - 1)


VariantStats = BaseStats | CupedStats


@dataclass(frozen=True, slots=True)
class Moments:
    """What a test needs of one variant: n, the (adjusted) mean, its variance, the unadjusted mean."""

    n: int
    mean: float
    variance: float
    unadjusted_mean: float

    @property
    def stddev(self) -> float:
        return 0.0 if self.variance <= 0 else math.sqrt(self.variance)

    @property
    def zero_variance(self) -> bool:
        return self.variance <= 0.0


def _joint(a: BaseStats, b: BaseStats, n: int) -> BaseStats:
    if isinstance(a, ProportionStats) and isinstance(b, ProportionStats):
        return ProportionStats(n, a.conversions + b.conversions)
    if isinstance(a, MeanStats) and isinstance(b, MeanStats):
        return MeanStats(n, a.sum + b.sum, a.sum_squares + b.sum_squares)
    raise ValueError("a metric's statistics must be of the same kind in every variant")


def cuped_theta(a: CupedStats, b: CupedStats) -> float:
    """The CUPED coefficient, pooled over the two variants compared (0 when either side is constant)."""
    n = a.n + b.n
    post = _joint(a.post, b.post, n)
    pre = _joint(a.pre, b.pre, n)
    if pre.variance == 0 or post.variance == 0:
        return 0.0
    joint = CupedStats(post, pre, a.sum_of_products + b.sum_of_products)
    return joint.covariance() / pre.variance


def moments(stats: VariantStats, theta: float = 0.0) -> Moments:
    if isinstance(stats, CupedStats):
        post, pre = stats.post, stats.pre
        variance = 0.0
        if stats.n > 1:
            variance = post.variance + theta**2 * pre.variance - 2 * theta * stats.covariance()
        return Moments(stats.n, post.mean - theta * pre.mean, variance, post.mean)
    return Moments(stats.n, stats.mean, stats.variance, stats.mean)


def pair_moments(a: VariantStats, b: VariantStats) -> tuple[Moments, Moments]:
    """Control and treatment moments, CUPED-adjusted with their pooled theta when both carry a covariate.

    Like gbstats, a theta of 0 (no variance in the pooled pre or post period) falls back to the plain
    post-exposure statistics."""
    if isinstance(a, CupedStats) and isinstance(b, CupedStats):
        theta = cuped_theta(a, b)
        if theta != 0:
            return moments(a, theta), moments(b, theta)
        return moments(a.post), moments(b.post)
    if isinstance(a, CupedStats) or isinstance(b, CupedStats):
        raise ValueError("CUPED needs the covariate in every variant")
    return moments(a), moments(b)


def plain_stats(stats: VariantStats) -> BaseStats:
    return stats.post if isinstance(stats, CupedStats) else stats
