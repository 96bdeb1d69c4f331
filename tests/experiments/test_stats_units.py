"""Statistics that gbstats does not compute (corrections) and bad input (empty variants, no data)."""

from __future__ import annotations

import math
import random

import pytest
from scipy.stats import false_discovery_control

from headwater.experiments.stats import (
    AnalysisSettings,
    MeanStats,
    ProportionStats,
    analyze_metric,
    benjamini_hochberg,
    check_srm,
    correct_p_values,
    holm,
)
from headwater.experiments.stats.corrections import adjust


def test_holm_by_hand() -> None:
    # sorted 0.01, 0.02, 0.03, 0.5 -> x4, x3, x2, x1 then running max
    assert holm([0.03, 0.01, 0.5, 0.02]) == pytest.approx([0.06, 0.04, 0.5, 0.06])
    assert holm([0.4, 0.9]) == pytest.approx([0.8, 0.9])
    assert holm([]) == []


def test_benjamini_hochberg_by_hand_and_against_scipy() -> None:
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.2]) == pytest.approx(
        [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.2]
    )
    rng = random.Random(7)
    for _ in range(50):
        ps = [rng.random() ** 3 for _ in range(rng.randint(1, 12))]
        assert benjamini_hochberg(ps) == pytest.approx(list(false_discovery_control(ps)), abs=1e-12)


def test_corrections_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="p-values"):
        holm([1.5])
    with pytest.raises(ValueError, match="unknown correction"):
        adjust([0.1], "bonferroni")  # type: ignore[arg-type]


def test_correct_p_values_across_metrics() -> None:
    a = analyze_metric("conv", [ProportionStats(1000, 100), ProportionStats(1000, 130)], [0.5, 0.5])
    b = analyze_metric("rev", [MeanStats(500, 1000, 9000), MeanStats(500, 1100, 10000)], [0.5, 0.5])
    raw = [a.comparisons[0].frequentist[0].p_value, b.comparisons[0].frequentist[0].p_value]
    fixed = correct_p_values([a, b], "holm")
    got = [m.comparisons[0].frequentist[0].p_value for m in fixed]
    assert got == pytest.approx(holm(raw))
    assert got[0] > raw[0]
    assert fixed[0].comparisons[0].frequentist[0].difference == "relative"


def test_sequential_interval_is_wider_than_fixed_horizon() -> None:
    s = AnalysisSettings(sequential=True)
    comp = analyze_metric(
        "m", [ProportionStats(1000, 100), ProportionStats(1000, 130)], [0.5, 0.5], s
    ).comparisons[0]
    assert comp.sequential is not None
    fixed, seq = comp.frequentist[0], comp.sequential[0]
    assert seq.ci[0] < fixed.ci[0] and seq.ci[1] > fixed.ci[1] and seq.p_value > fixed.p_value


def test_variant_with_no_users_is_reported_not_divided_by() -> None:
    r = analyze_metric(
        "m", [ProportionStats(1000, 100), ProportionStats(0, 0), ProportionStats(1000, 90)], [1 / 3] * 3
    )
    empty, other = r.comparisons
    assert empty.error == "NO_UNITS_IN_VARIATION"
    assert empty.frequentist[0].p_value == 1 and empty.bayesian[0].chance_to_win == 0.5
    assert other.error is None and not math.isnan(other.frequentist[1].p_value)
    assert r.srm.warning  # 0 users where a third was expected


def test_metric_on_event_that_never_happened() -> None:
    r = analyze_metric("m", [MeanStats(800, 0, 0), MeanStats(820, 0, 0)], [0.5, 0.5])
    assert r.comparisons[0].error == "ZERO_NEGATIVE_BASELINE_VARIATION"
    assert [v.mean for v in r.variants] == [0, 0] and not r.srm.warning


def test_no_data_at_all() -> None:
    r = analyze_metric("m", [ProportionStats(0, 0), ProportionStats(0, 0)], [0.5, 0.5])
    assert r.srm.p_value == 1 and r.comparisons[0].error == "NO_UNITS_IN_VARIATION"


def test_srm_warns_below_threshold() -> None:
    assert not check_srm([1000, 1100], [0.5, 0.5]).warning
    assert check_srm([1000, 1200], [0.5, 0.5]).warning
    with pytest.raises(ValueError):
        check_srm([1, 2], [1.0])


def test_analysis_refuses_bad_shapes() -> None:
    with pytest.raises(ValueError, match="treatment"):
        analyze_metric("m", [ProportionStats(10, 1)], [1.0])
    with pytest.raises(ValueError, match="weight"):
        analyze_metric("m", [ProportionStats(10, 1), ProportionStats(10, 2)], [1.0])
