"""DAU, WAU, MAU and feature usage in BigQuery (the lake's: headwater.metrics.active, .features).

WAU(d) and MAU(d) are exact distinct counts over the 7 / 30 local days ending on d, never sums of
daily uniques: each distinct (person, day) pair is spread over the days its window covers
(``UNNEST(GENERATE_DATE_ARRAY(day, day + N - 1))``), then people are counted per covered day with
``COUNT(DISTINCT person)``, exact in BigQuery. No non-equi join.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from headwater.metrics.shapes import feature_rows, series_rows, window_days
from headwater.warehouse.metrics.scope import Params, WarehouseScope

Result = dict[str, Any]

TREND_DAYS = 7


def active_counts(scope: WarehouseScope, window: int) -> dict[date, int]:
    """Distinct people active in the ``window`` local days ending on each day of the range."""
    rng = scope.rng
    p = Params()
    pairs = scope.person_days(p, rng.start - timedelta(days=window - 1), rng.end)
    if window == 1:
        sql = f"SELECT day AS d, COUNT(DISTINCT person) AS n FROM ({pairs}) GROUP BY day"
    else:
        sql = f"""
            SELECT d, COUNT(DISTINCT person) AS n
            FROM ({pairs}) pd,
                 UNNEST(GENERATE_DATE_ARRAY(pd.day, DATE_ADD(pd.day, INTERVAL {int(window) - 1} DAY))) AS d
            WHERE d BETWEEN {p(rng.start)} AND {p(rng.end)}
            GROUP BY d"""
    counts = {row["d"]: int(row["n"]) for row in scope.run(sql, p)}
    return {day: counts.get(day, 0) for day in rng.days()}


def _series(scope: WarehouseScope, window: int) -> Result:
    counts = active_counts(scope, window)
    rng = scope.rng
    missing = scope.missing_days(window_days(rng.start, rng.end, window))
    rows = series_rows(rng.days(), counts, missing, window)
    return {"rows": rows}


def dau(scope: WarehouseScope) -> Result:
    """Distinct users active on each day."""
    return _series(scope, 1)


def wau(scope: WarehouseScope) -> Result:
    """Distinct users active in the 7 days ending on each day."""
    return _series(scope, 7)


def mau(scope: WarehouseScope) -> Result:
    """Distinct users active in the 30 days ending on each day."""
    return _series(scope, 30)


def features(scope: WarehouseScope) -> Result:
    """Per day, tool_id and event: events, unique users, share of MAU, and the trend of users against
    the same day a week before (users / users 7 days earlier - 1)."""
    rng = scope.rng
    p = Params()
    events = scope.events(p, rng.start - timedelta(days=TREND_DAYS), rng.end, ("tool_id", "event_type"))
    rows = scope.run(
        f"""
        SELECT day, tool_id, event_type AS event, COUNT(*) AS events, COUNT(DISTINCT person) AS users
        FROM ({events}) GROUP BY day, tool_id, event_type""",
        p,
    )
    data = {(r["day"], r["tool_id"], r["event"]): (int(r["events"]), int(r["users"])) for r in rows}
    mau_counts = active_counts(scope, 30)
    missing = scope.missing_days(rng.days())
    out = feature_rows(data, mau_counts, missing, rng.start, TREND_DAYS)
    return {"rows": out, "missing_days": sorted(d.isoformat() for d in missing)}
