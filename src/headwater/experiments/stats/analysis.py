"""One metric of one experiment: every variant against the control, with every engine and both lifts.

Input: per-variant sufficient statistics (the control first) and the configured weights. Output:
per-variant summaries, the SRM check, and per treatment the frequentist (fixed-horizon), optional
sequential (always-valid) and Bayesian results, each for the relative and the absolute lift.
`correct_p_values` then applies Holm or Benjamini-Hochberg across metrics and variants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from headwater.experiments.stats.bayesian import BayesianResult, GaussianPrior, bayesian_test
from headwater.experiments.stats.corrections import Correction, adjust
from headwater.experiments.stats.frequentist import (
    DEFAULT_SEQUENTIAL_TUNING,
    Difference,
    FrequentistResult,
    sequential_ttest,
    two_sided_ttest,
)
from headwater.experiments.stats.srm import SrmCheck, check_srm
from headwater.experiments.stats.statistics import Moments, VariantStats, pair_moments, plain_stats

DIFFERENCES: tuple[Difference, ...] = ("relative", "absolute")


@dataclass(frozen=True, slots=True)
class AnalysisSettings:
    alpha: float = 0.05  # frequentist and sequential tests: 1 - confidence level
    bayesian_alpha: float = 0.05  # credible interval; GrowthBook always shows 95 % (gbstats ignores alpha)
    sequential: bool = False
    sequential_tuning: float = DEFAULT_SEQUENTIAL_TUNING
    prior: GaussianPrior | None = None  # None: flat prior
    inverse: bool = False  # lower is better


@dataclass(frozen=True, slots=True)
class VariantSummary:
    variation: str
    users: int
    mean: float  # unadjusted mean (conversion rate for a conversion metric)
    stddev: float  # of the analysed per-user values, CUPED-adjusted when a covariate is given
    sum: float
    sum_squares: float


@dataclass(frozen=True, slots=True)
class Comparison:
    variation: str  # the treatment, compared with the control
    frequentist: tuple[FrequentistResult, FrequentistResult]  # (relative lift, absolute lift)
    bayesian: tuple[BayesianResult, BayesianResult]  # (relative lift, absolute lift)
    sequential: tuple[FrequentistResult, FrequentistResult] | None  # (relative, absolute), when enabled
    error: str | None  # why the comparison is uninformative (e.g. NO_UNITS_IN_VARIATION), or None


@dataclass(frozen=True, slots=True)
class MetricAnalysis:
    metric: str
    variants: tuple[VariantSummary, ...]
    comparisons: tuple[Comparison, ...]
    srm: SrmCheck

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _compare(a: Moments, b: Moments, variation: str, s: AnalysisSettings) -> Comparison:
    freq = tuple(two_sided_ttest(a, b, d, alpha=s.alpha) for d in DIFFERENCES)
    bayes = tuple(
        bayesian_test(a, b, d, prior=s.prior, inverse=s.inverse, alpha=s.bayesian_alpha) for d in DIFFERENCES
    )
    seq = None
    if s.sequential:
        seq = tuple(sequential_ttest(a, b, d, alpha=s.alpha, tuning=s.sequential_tuning) for d in DIFFERENCES)
    return Comparison(
        variation=variation,
        frequentist=(freq[0], freq[1]),
        bayesian=(bayes[0], bayes[1]),
        sequential=(seq[0], seq[1]) if seq else None,
        error=freq[0].error,
    )


def analyze_metric(
    metric: str,
    variants: Sequence[VariantStats],
    weights: Sequence[float],
    settings: AnalysisSettings | None = None,
    variation_keys: Sequence[str] | None = None,
) -> MetricAnalysis:
    """Analyse one metric; `variants[0]` is the control.

    A variant with no users is reported (error NO_UNITS_IN_VARIATION), never divided by."""
    s = settings or AnalysisSettings()
    if len(variants) < 2:
        raise ValueError("an analysis needs the control and at least one treatment")
    if len(weights) != len(variants):
        raise ValueError("one weight per variant is needed")
    keys = list(variation_keys) if variation_keys is not None else [str(i) for i in range(len(variants))]
    stddevs = [0.0] * len(variants)
    comparisons = []
    for i in range(1, len(variants)):
        a, b = pair_moments(variants[0], variants[i])
        stddevs[0], stddevs[i] = a.stddev, b.stddev  # like gbstats: the control's from the last pair
        comparisons.append(_compare(a, b, keys[i], s))
    summaries = []
    for i, v in enumerate(variants):
        base = plain_stats(v)
        summaries.append(VariantSummary(keys[i], base.n, base.mean, stddevs[i], base.sum, base.sum_squares))
    srm = check_srm([v.n for v in variants], weights)
    return MetricAnalysis(metric, tuple(summaries), tuple(comparisons), srm)


Engine = Literal["frequentist", "sequential"]


def correct_p_values(
    analyses: Sequence[MetricAnalysis],
    method: Correction,
    *,
    engine: Engine = "frequentist",
) -> list[MetricAnalysis]:
    """Adjust the p-values of every (metric, treatment, lift) family member across metrics.

    Each lift (relative, absolute) is its own family; uninformative comparisons are left out."""
    out = list(analyses)
    for d_index in range(len(DIFFERENCES)):
        slots: list[tuple[int, int]] = []
        p_values: list[float] = []
        for m, analysis in enumerate(out):
            for c, comp in enumerate(analysis.comparisons):
                pair = comp.frequentist if engine == "frequentist" else comp.sequential
                if pair is not None and pair[d_index].ok:
                    slots.append((m, c))
                    p_values.append(pair[d_index].p_value)
        for (m, c), p in zip(slots, adjust(p_values, method), strict=True):
            comps = list(out[m].comparisons)
            comp = comps[c]
            pair = comp.frequentist if engine == "frequentist" else comp.sequential
            assert pair is not None
            new = list(pair)
            new[d_index] = replace(pair[d_index], p_value=p)
            if engine == "frequentist":
                comps[c] = replace(comp, frequentist=(new[0], new[1]))
            else:
                comps[c] = replace(comp, sequential=(new[0], new[1]))
            out[m] = replace(out[m], comparisons=tuple(comps))
    return out
