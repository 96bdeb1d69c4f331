"""Sample ratio mismatch: does the observed split of users match the configured weights?

A chi-square goodness-of-fit test (gbstats' check_srm). A p-value below 0.001 means the assignment or
the exposure logging is broken and the results should not be trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import chi2

SRM_THRESHOLD = 0.001


@dataclass(frozen=True, slots=True)
class SrmCheck:
    p_value: float
    warning: bool  # p_value < SRM_THRESHOLD


def srm_p_value(users: Sequence[float], weights: Sequence[float]) -> float:
    if len(users) != len(weights):
        raise ValueError("one weight per variant is needed")
    total = sum(users)
    if not total:
        return 1.0
    total_weight = sum(weights)
    x = 0.0
    for observed, w in zip(users, weights, strict=True):
        if w <= 0:
            continue
        expected = w / total_weight * total
        x += (observed - expected) ** 2 / expected
    return float(chi2.sf(x, len(users) - 1))


def check_srm(users: Sequence[float], weights: Sequence[float], threshold: float = SRM_THRESHOLD) -> SrmCheck:
    p = srm_p_value(users, weights)
    return SrmCheck(p, p < threshold)
