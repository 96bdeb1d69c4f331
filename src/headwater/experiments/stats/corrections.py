"""Multiple-testing corrections of p-values across metrics (and variants).

Holm-Bonferroni controls the family-wise error rate (the chance of any false positive);
Benjamini-Hochberg controls the false discovery rate (the expected share of false positives among the
"significant" results). Both return adjusted p-values in the input order, to compare with alpha as is.
gbstats does not compute these (GrowthBook does it in its TypeScript back end); these are the textbook
step-down / step-up procedures, checked against hand-computed values and scipy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Correction = Literal["holm", "benjamini-hochberg"]


def _check(p_values: Sequence[float]) -> None:
    for p in p_values:
        if not 0 <= p <= 1:
            raise ValueError(f"p-values must be in [0, 1], got {p}")


def holm(p_values: Sequence[float]) -> list[float]:
    _check(p_values)
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    _check(p_values)
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i], reverse=True)
    adjusted = [0.0] * m
    running = 1.0
    for k, i in enumerate(order):
        rank = m - k  # 1-based rank in ascending order
        running = min(running, p_values[i] * m / rank)
        adjusted[i] = min(running, 1.0)
    return adjusted


def adjust(p_values: Sequence[float], method: Correction) -> list[float]:
    if method == "holm":
        return holm(p_values)
    if method == "benjamini-hochberg":
        return benjamini_hochberg(p_values)
    raise ValueError(f"unknown correction {method!r}: use holm or benjamini-hochberg")
