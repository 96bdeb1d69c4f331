"""An experiment's results: exposures and metric sums from the lake (lake_query), then the statistics.

Every metric gets per-variation users, conversions or mean with its sufficient statistics (n, sum,
sum of squares, and the CUPED covariate's), the SRM check, and per treatment the frequentist,
Bayesian and (optionally) sequential results, each for the relative lift ((treatment - control) /
control, a fraction) and the absolute lift (treatment - control, in metric units). p-values may be
corrected across metrics (Holm or Benjamini-Hochberg).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from headwater.experiments.lake_query import ExperimentData, MetricSums
from headwater.experiments.model import Experiment, Metric
from headwater.experiments.stats import (
    AnalysisSettings,
    CupedStats,
    MeanStats,
    MetricAnalysis,
    ProportionStats,
    analyze_metric,
    check_srm,
    correct_p_values,
)
from headwater.experiments.stats.corrections import Correction
from headwater.experiments.stats.statistics import VariantStats

LIFTS = {
    "relative": "(treatment mean - control mean) / control mean, as a fraction (0.05 = +5 %)",
    "absolute": "treatment mean - control mean, in metric units (conversion-rate points for conversions)",
}


@dataclass(frozen=True, slots=True)
class ResultsOptions:
    alpha: float = 0.05
    sequential: bool = False
    correction: Correction | None = "holm"


def clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, tuples lists, datetimes ISO text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _stats(metric: Metric, s: MetricSums) -> VariantStats:
    if metric.is_proportion:
        post: ProportionStats | MeanStats = ProportionStats(s.n, s.post_sum)
        pre: ProportionStats | MeanStats = ProportionStats(s.n, s.pre_sum)
    else:
        post = MeanStats(s.n, s.post_sum, s.post_sum_squares)
        pre = MeanStats(s.n, s.pre_sum, s.pre_sum_squares)
    return CupedStats(post, pre, s.sum_of_products) if metric.cuped else post


def _roles(exp: Experiment) -> list[tuple[str, Metric]]:
    m = exp.metrics
    head = [("primary", m.primary)] if m.primary is not None else []
    return head + [("secondary", x) for x in m.secondary] + [("guardrail", x) for x in m.guardrail]


def _metric_json(
    role: str, metric: Metric, sums: dict[str, MetricSums], analysis: MetricAnalysis, raw: MetricAnalysis
) -> dict[str, Any]:
    variants = []
    for summary in analysis.variants:
        s = sums[summary.variation]
        row: dict[str, Any] = asdict(summary)
        row["n"] = summary.users
        if metric.is_proportion:
            row["conversions"] = s.post_sum
            row["conversion_rate"] = summary.mean
        if metric.cuped:
            row["pre"] = {
                "sum": s.pre_sum,
                "sum_squares": s.pre_sum_squares,
                "sum_of_products": s.sum_of_products,
            }
        if summary.users == 0:
            row["note"] = "no users in this variation: nothing to compare"
        variants.append(row)
    return {
        "key": metric.key,
        "role": role,
        "kind": metric.kind.value,
        "event": metric.event,
        "property": metric.property_name,
        "window_days": metric.window_days,
        "inverse": metric.inverse,
        "cuped": metric.cuped,
        "variants": variants,
        "comparisons": [
            {
                **asdict(c),
                "uncorrected_p_value": {
                    "relative": r.frequentist[0].p_value,
                    "absolute": r.frequentist[1].p_value,
                },
            }
            for c, r in zip(analysis.comparisons, raw.comparisons, strict=True)
        ],
    }


def experiment_results(
    data_dir: Path,
    tz: str,
    exp: Experiment,
    since: date | None = None,
    options: ResultsOptions | None = None,
) -> dict[str, Any]:
    """The results JSON (API and `headwater experiments results --json`)."""
    opts = options or ResultsOptions()
    keys = exp.variation_keys()
    weights = list(exp.effective_weights())
    roles = _roles(exp)
    with ExperimentData(data_dir, tz, exp, [m for _, m in roles], since) as data:
        exposures = data.load()
        all_sums = data.sums([m for _, m in roles])
    users = [exposures.users.get(k, 0) for k in keys]
    srm = check_srm(users, weights)
    empty = MetricSums(0, 0.0, 0.0, 0.0, 0.0, 0.0)
    analyses: list[MetricAnalysis] = []
    filled: list[dict[str, MetricSums]] = []
    for (_, metric), sums in zip(roles, all_sums, strict=True):
        full = {k: sums.get(k, empty) for k in keys}
        filled.append(full)
        settings = AnalysisSettings(alpha=opts.alpha, sequential=opts.sequential, inverse=metric.inverse)
        variants = [_stats(metric, full[k]) for k in keys]
        analyses.append(analyze_metric(metric.key, variants, weights, settings, keys))
    raw = list(analyses)
    if opts.correction is not None and analyses:
        analyses = correct_p_values(analyses, opts.correction)
    warnings = []
    if srm.warning:
        warnings.append(
            f"sample ratio mismatch: p = {srm.p_value:.3g} < 0.001, the split does not match the weights"
        )
    for k, n in zip(keys, users, strict=True):
        if n == 0:
            warnings.append(f"variation {k!r} has no exposed users")
    if exposures.multiple_exposures:
        warnings.append(
            f"{exposures.multiple_exposures} users saw more than one variation (first one counted)"
        )
    unknown = sorted(set(exposures.users) - set(keys))
    if unknown:
        warnings.append(f"exposures to variations no longer defined were left out: {', '.join(unknown)}")
    out: dict[str, Any] = clean(
        {
            "experiment": exp.key,
            "name": exp.display_name,
            "phase": exp.phase,
            "status": exp.status.value,
            "tz": tz,
            "exposure": {
                "event": "Experiment Viewed",
                "first": exposures.first_exposure,
                "last": exposures.last_exposure,
                "users": dict(zip(keys, users, strict=True)),
                "multiple_exposures": exposures.multiple_exposures,
            },
            "weights": dict(zip(keys, weights, strict=True)),
            "srm": {"p_value": srm.p_value, "warning": srm.warning, "threshold": 0.001},
            "settings": {"alpha": opts.alpha, "sequential": opts.sequential, "correction": opts.correction},
            "lifts": LIFTS,
            "metrics": [
                _metric_json(role, metric, sums, analysis, before)
                for (role, metric), sums, analysis, before in zip(roles, filled, analyses, raw, strict=True)
            ],
            "warnings": warnings,
        }
    )
    return out
