"""Deterministic, randomized sufficient statistics for comparing our engine with gbstats.

Per-user values are simulated, so every case is internally consistent (sums of squares, covariate
cross-products); replicating users k times (multiplying every sum by k) gives large-n cases cheaply.
"""

from __future__ import annotations

import random
from typing import Any

from headwater.experiments.stats import CupedStats, MeanStats, ProportionStats
from headwater.experiments.stats.statistics import VariantStats


def _variant(rng: random.Random, kind: str, n: int, effect: float, scale: int) -> dict[str, float]:
    s = ss = cs = css = cross = 0.0
    base_p = rng.uniform(0.05, 0.4)
    for _ in range(n):
        if kind == "proportion":
            pre = 1.0 if rng.random() < base_p else 0.0
            p = min(0.95, base_p * (1 + effect) + 0.3 * pre * rng.random())
            post = 1.0 if rng.random() < p else 0.0
        else:
            pre = float(rng.randint(0, 6)) if rng.random() < 0.8 else rng.expovariate(0.2)
            post = max(0.0, 0.7 * pre + rng.gauss(2 * (1 + effect), 2.0))
        s, ss = s + post, ss + post * post
        cs, css, cross = cs + pre, css + pre * pre, cross + post * pre
    return {
        "n": n * scale,
        "sum": s * scale,
        "sum_squares": ss * scale,
        "cov_sum": cs * scale,
        "cov_sum_squares": css * scale,
        "cross": cross * scale,
    }


def random_cases(count: int, seed: int = 20240601) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    cases = []
    for i in range(count):
        kind = "proportion" if i % 2 == 0 else "mean"
        k = 2 + i % 3
        scale = rng.choice([1, 1, 1, 10, 100])
        raw = [rng.uniform(0.1, 1) for _ in range(k)]
        weights = [w / sum(raw) for w in raw] if rng.random() < 0.3 else [1 / k] * k
        variants = [
            _variant(rng, kind, rng.randint(30, 1500), 0.0 if v == 0 else rng.uniform(-0.2, 0.3), scale)
            for v in range(k)
        ]
        cases.append(
            {
                "id": f"r{i:03d}-{kind}-{k}v",
                "kind": kind,
                "variants": variants,
                "weights": weights,
                "cuped": i % 4 in (2, 3),
                "sequential": i % 5 in (1, 2, 3),
                "tuning": rng.choice([5000, 1000, 20000]),
                "alpha": rng.choice([0.05, 0.05, 0.1]),
                "inverse": rng.random() < 0.2,
                "prior": (rng.uniform(-0.1, 0.1), rng.uniform(0.05, 0.5)) if rng.random() < 0.25 else None,
            }
        )
    return cases


def _fixed(cid: str, kind: str, variants: list[dict[str, float]], **kw: Any) -> dict[str, Any]:
    case = {
        "id": cid,
        "kind": kind,
        "variants": variants,
        "weights": [1 / len(variants)] * len(variants),
        "cuped": False,
        "sequential": True,
        "tuning": 5000,
        "alpha": 0.05,
        "inverse": False,
        "prior": None,
    }
    case.update(kw)
    return case


def _p(n: int, c: int) -> dict[str, float]:
    return {"n": n, "sum": c, "sum_squares": c}


def _m(n: int, s: float, ss: float) -> dict[str, float]:
    return {"n": n, "sum": s, "sum_squares": ss}


def edge_cases() -> list[dict[str, Any]]:
    """The NOTES sanity case, and degenerate inputs where the engines must refuse, not divide by zero."""
    return [
        _fixed("notes-sanity", "proportion", [_p(1000, 100), _p(1000, 130)]),
        _fixed("identical", "proportion", [_p(500, 50), _p(500, 50)]),
        _fixed("control-zero-conversions", "proportion", [_p(1000, 0), _p(1000, 10)]),
        _fixed("treatment-all-convert", "proportion", [_p(100, 10), _p(100, 100)]),
        _fixed("single-user-variant", "mean", [_m(200, 400, 1500), _m(1, 3, 9)]),
        _fixed("empty-treatment", "proportion", [_p(1000, 100), _p(0, 0)]),
        _fixed("empty-control", "mean", [_m(0, 0, 0), _m(100, 250, 900)]),
        _fixed("metric-never-happened", "mean", [_m(1000, 0, 0), _m(1000, 0, 0)]),
        _fixed("huge-n", "proportion", [_p(5_000_000, 250_000), _p(5_000_000, 251_500)]),
        _fixed("srm-mismatch", "proportion", [_p(1000, 100), _p(1100, 120)]),
        _fixed("uneven-weights", "mean", [_m(900, 2000, 9000), _m(100, 260, 1100)], weights=[0.9, 0.1]),
    ]


def to_stats(case: dict[str, Any]) -> list[VariantStats]:
    out: list[VariantStats] = []
    for v in case["variants"]:
        post: ProportionStats | MeanStats
        if case["kind"] == "proportion":
            post = ProportionStats(int(v["n"]), v["sum"])
            pre: ProportionStats | MeanStats = ProportionStats(int(v["n"]), v.get("cov_sum", 0.0))
        else:
            post = MeanStats(int(v["n"]), v["sum"], v["sum_squares"])
            pre = MeanStats(int(v["n"]), v.get("cov_sum", 0.0), v.get("cov_sum_squares", 0.0))
        out.append(CupedStats(post, pre, v["cross"]) if case["cuped"] else post)
    return out
