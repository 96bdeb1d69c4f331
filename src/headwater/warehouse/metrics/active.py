"""DAU, WAU, MAU and feature usage in BigQuery (the lake's: headwater.metrics.active, .features).

WAU(d) and MAU(d) are exact distinct counts over the 7 / 30 local days ending on d, never sums of
daily uniques: each distinct (person, day) pair is spread over the days its window covers
(``UNNEST(GENERATE_DATE_ARRAY(day, day + N - 1))``), then people are counted per covered day with
``COUNT(DISTINCT person)``, exact in BigQuery. No non-equi join.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

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
    missing = scope.missing_days(
        [
            rng.start - timedelta(days=window - 1) + timedelta(days=i)
            for i in range((rng.end - rng.start).days + window)
        ]
    )
    rows = []
    for day in rng.days():
        row: dict[str, Any] = {"date": day.isoformat(), "value": None if day in missing else counts[day]}
        row["missing"] = day in missing
        if window > 1:
            row["missing_days_in_window"] = sum(
                1 for k in range(window) if day - timedelta(days=k) in missing
            )
        rows.append(row)
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
    out = []
    for (day, tool, ev), (n, users) in sorted(
        data.items(), key=lambda kv: (kv[0][0], -kv[1][0], str(kv[0][1:]))
    ):
        if day < rng.start or day in missing:
            continue
        before = data.get((day - timedelta(days=TREND_DAYS), tool, ev))
        out.append(
            {
                "date": day.isoformat(),
                "tool_id": tool,
                "event": ev,
                "events": n,
                "users": users,
                "share_of_mau": round(users / mau_counts[day], 6) if mau_counts.get(day) else None,
                "trend": round(users / before[1] - 1, 6) if before and before[1] else None,
            }
        )
    return {"rows": out, "missing_days": sorted(d.isoformat() for d in missing)}
