"""Lifecycle per period: new (first-ever period), returning (also active the period before),
resurrecting (inactive the period before, active earlier), dormant (active the period before,
not in this one)."""

from __future__ import annotations

from typing import Any

from headwater.lake.scope import Scope
from headwater.metrics.periods import check_period, index_of, index_sql, last_day_of, start_of


def lifecycle(scope: Scope, period: str | None = None) -> dict[str, Any]:
    period = check_period(period, "day")
    rng = scope.rng
    lo, hi = index_of(period, rng.start), index_of(period, rng.end)
    table = scope.person_periods(period, rng.end)
    if table is not None:
        act = f"SELECT person, p FROM {table}"
    else:
        act = f"SELECT DISTINCT person, {index_sql(period)} AS p FROM ({scope.person_days(None, rng.end)})"
    rows = scope.sql(
        f"""
        WITH a AS ({act}), f AS (SELECT person, min(p) AS fp FROM a GROUP BY person)
        SELECT a.p, CASE WHEN a.p = f.fp THEN 'new' WHEN b.person IS NOT NULL THEN 'returning'
                         ELSE 'resurrecting' END AS status, count(*)
        FROM a JOIN f USING (person) LEFT JOIN a b ON b.person = a.person AND b.p = a.p - 1
        WHERE a.p BETWEEN {lo} AND {hi} GROUP BY ALL
        UNION ALL
        SELECT a.p + 1, 'dormant', count(*) FROM a LEFT JOIN a n ON n.person = a.person AND n.p = a.p + 1
        WHERE n.person IS NULL AND a.p + 1 BETWEEN {lo} AND {hi} GROUP BY ALL
        """
    )
    counts = {(int(p), status): int(n) for p, status, n in rows}
    missing = scope.missing_days(rng.days())
    out = []
    for p in range(lo, hi + 1):
        row: dict[str, Any] = {"date": start_of(period, p).isoformat()}
        for status in ("new", "returning", "resurrecting", "dormant"):
            row[status] = counts.get((p, status), 0)
        row["incomplete"] = last_day_of(period, p) > rng.end or start_of(period, p) < rng.start
        if period == "day":
            row["missing"] = start_of(period, p) in missing
        out.append(row)
    return {"rows": out, "period": period, "missing_days": sorted(d.isoformat() for d in missing)}
