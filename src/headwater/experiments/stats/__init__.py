"""Experiment statistics from per-variant sufficient statistics, matching GrowthBook's gbstats 0.8.0.

Needs numpy and scipy (core dependencies, also the `stats` extra). Every lift is either relative
((treatment - control) / control, a fraction) or absolute (treatment - control, in metric units); each
result carries which one in its `difference` field.
"""

from headwater.experiments.stats.analysis import (
    AnalysisSettings,
    Comparison,
    MetricAnalysis,
    VariantSummary,
    analyze_metric,
    correct_p_values,
)
from headwater.experiments.stats.bayesian import BayesianResult, GaussianPrior, bayesian_test
from headwater.experiments.stats.corrections import benjamini_hochberg, holm
from headwater.experiments.stats.frequentist import FrequentistResult, sequential_ttest, two_sided_ttest
from headwater.experiments.stats.srm import SrmCheck, check_srm, srm_p_value
from headwater.experiments.stats.statistics import CupedStats, MeanStats, ProportionStats, pair_moments

__all__ = [
    "AnalysisSettings",
    "BayesianResult",
    "Comparison",
    "CupedStats",
    "FrequentistResult",
    "GaussianPrior",
    "MeanStats",
    "MetricAnalysis",
    "ProportionStats",
    "SrmCheck",
    "VariantSummary",
    "analyze_metric",
    "bayesian_test",
    "benjamini_hochberg",
    "check_srm",
    "correct_p_values",
    "holm",
    "pair_moments",
    "sequential_ttest",
    "srm_p_value",
    "two_sided_ttest",
]
