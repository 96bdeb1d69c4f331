"""Active users: DAU, WAU, MAU and stickiness.

WAU(d) and MAU(d) are exact distinct counts over the 7 / 30 days ending on d, computed without
ever summing unique counts: each user contributes disjoint day intervals (an active day a covers
d in [a, a+N), cut where the user's next active day begins; a repeated (user, day) pair gives an
empty interval), and a sweep over the interval ends counts, for each d, the users covering it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from headwater.metrics.source import Scope

Result = dict[str, Any]


def active_counts(scope: Scope, window: int) -> dict[date, int]:
    """Distinct users active in the `window` days ending on each day of the scope's range."""
    rng = scope.rng
    first = rng.start - timedelta(days=window - 1)
    rows = scope.sql(
        f"""
        WITH ud AS ({scope.user_days(first, rng.end)}),
        s AS (SELECT day, lead(day) OVER (PARTITION BY person ORDER BY day) AS nxt FROM ud)
        SELECT d, sum(c) FROM (
            SELECT unnest([day, least(day + {window}, coalesce(nxt, day + {window}))]) AS d,
                   unnest([1, -1]) AS c
            FROM s
        ) GROUP BY d ORDER BY d
        """
    )
    out: dict[date, int] = {}
    running = 0
    i = 0
    for day in rng.days():
        while i < len(rows) and rows[i][0] <= day:
            running += int(rows[i][1])
            i += 1
        out[day] = running
    return out


def _series(scope: Scope, window: int) -> Result:
    counts = active_counts(scope, window)
    days = scope.rng.days()
    missing = scope.missing_days(
        [
            scope.rng.start - timedelta(days=window - 1) + timedelta(days=i)
            for i in range((scope.rng.end - scope.rng.start).days + window)
        ]
    )
    rows = []
    for day in days:
        row: dict[str, Any] = {"date": day.isoformat(), "value": None if day in missing else counts[day]}
        row["missing"] = day in missing
        if window > 1:
            row["missing_days_in_window"] = sum(
                1 for k in range(window) if day - timedelta(days=k) in missing
            )
        rows.append(row)
    return {"rows": rows}


def dau(scope: Scope) -> Result:
    """Distinct users active on each day."""
    return _series(scope, 1)


def wau(scope: Scope) -> Result:
    """Distinct users active in the 7 days ending on each day."""
    return _series(scope, 7)


def mau(scope: Scope) -> Result:
    """Distinct users active in the 30 days ending on each day."""
    return _series(scope, 30)


def stickiness(scope: Scope) -> Result:
    """DAU/MAU per day, and how many users were active on 1, 2, ... days of the range."""
    daily = active_counts(scope, 1)
    monthly = active_counts(scope, 30)
    missing = scope.missing_days(scope.rng.days())
    rows = []
    for day in scope.rng.days():
        gone = day in missing
        d, m = daily[day], monthly[day]
        rows.append(
            {
                "date": day.isoformat(),
                "dau": None if gone else d,
                "mau": None if gone else m,
                "value": None if gone or m == 0 else round(d / m, 6),
                "missing": gone,
            }
        )
    dist = scope.sql(
        f"""
        SELECT n, count(*) FROM (
            SELECT person, count(DISTINCT day) AS n FROM ({scope.user_days(scope.rng.start, scope.rng.end)})
            GROUP BY person
        ) GROUP BY n ORDER BY n
        """
    )
    return {"rows": rows, "active_days": [{"days": int(n), "users": int(c)} for n, c in dist]}
