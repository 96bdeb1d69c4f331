"""Retention and lifecycle in BigQuery (the lake's: headwater.metrics.retention, .lifecycle).

Both need each person's first-ever period, so they read every partition up to the range's end
(only the columns they need). Periods are integer indexes as in headwater.metrics.periods: days
since 1970-01-01, weeks (Monday first) since 1970-01-05, months since year 0. Each metric's
counts come back from one statement (one bill): cohort sizes and returns are two branches of a
UNION ALL over the same CTEs.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from headwater.metrics.options import retention_options
from headwater.metrics.periods import check_period, index_of, last_day_of, start_of
from headwater.metrics.shapes import cohort_rows
from headwater.warehouse.metrics.scope import Params, WarehouseScope


def period_index_sql(period: str, column: str = "day") -> str:
    """The period index of a DATE column. Weeks use FLOOR of a float division rather than
    DATE_TRUNC(..., WEEK(MONDAY)) (the emulator truncates to Sunday whatever the argument) or DIV
    (which truncates toward zero in BigQuery): exact, as the dividend is a small integer."""
    if period == "day":
        return f"DATE_DIFF({column}, DATE '1970-01-01', DAY)"
    if period == "week":
        return f"CAST(FLOOR(DATE_DIFF({column}, DATE '1970-01-05', DAY) / 7) AS INT64)"
    return f"(EXTRACT(YEAR FROM {column}) * 12 + EXTRACT(MONTH FROM {column}) - 1)"


def _activity(scope: WarehouseScope, p: Params, event: str | None, period: str, last: date) -> str:
    """Distinct (person, p) pairs of the events (named ``event``, or any) up to local day ``last``."""
    if event is None:
        source = scope.events(p, None, last)
    else:
        source = scope.events(p, None, last, ("event_type",), f"e.event_type = {p(event)}")
    return f"SELECT DISTINCT person, {period_index_sql(period)} AS p FROM ({source})"


def retention(
    scope: WarehouseScope,
    period: str | None = None,
    mode: str | None = None,
    cohort: str | None = None,
    start_event: str | None = None,
    return_event: str | None = None,
) -> dict[str, Any]:
    period, mode, cohort = retention_options(period, mode, cohort)
    rng = scope.rng
    lo, hi = index_of(period, rng.start), index_of(period, rng.end)
    p = Params()
    act = _activity(scope, p, start_event, period, rng.end)
    ret = (
        "SELECT * FROM act"
        if return_event == start_event
        else _activity(scope, p, return_event, period, rng.end)
    )
    if cohort == "first":
        coh = f"SELECT person, MIN(p) AS c FROM act GROUP BY person HAVING MIN(p) BETWEEN {lo} AND {hi}"
    else:
        coh = f"SELECT person, p AS c FROM act WHERE p BETWEEN {lo} AND {hi}"
    joined = f"FROM coh JOIN ret r ON r.person = coh.person AND r.p > coh.c AND r.p <= {hi}"
    if mode == "on":
        returns = f"SELECT 'ret' AS kind, coh.c, r.p - coh.c AS k, COUNT(*) AS n {joined} GROUP BY 2, 3"
    else:  # k is the last period returned to: counted for every period 1..k below
        returns = f"""
            SELECT 'ret' AS kind, c, kmax AS k, COUNT(*) AS n FROM (
                SELECT coh.person, coh.c, MAX(r.p) - coh.c AS kmax {joined} GROUP BY coh.person, coh.c
            ) GROUP BY 2, 3"""
    rows = scope.run(
        f"""
        WITH act AS ({act}), ret AS ({ret}), coh AS ({coh})
        SELECT 'size' AS kind, c, 0 AS k, COUNT(*) AS n FROM coh GROUP BY c
        UNION ALL {returns}""",
        p,
    )
    sizes = {int(r["c"]): int(r["n"]) for r in rows if r["kind"] == "size"}
    returned: dict[tuple[int, int], int] = {}
    for r in rows:
        if r["kind"] != "ret":
            continue
        c, k, n = int(r["c"]), int(r["k"]), int(r["n"])
        if mode == "on":
            returned[(c, k)] = n
        else:
            for j in range(1, k + 1):
                returned[(c, j)] = returned.get((c, j), 0) + n
    out, average = cohort_rows(sizes, returned, lo, hi, period, rng.end)
    missing = sorted(d.isoformat() for d in scope.missing_days(rng.days()))
    return {
        "rows": out,
        "average": average,
        "period": period,
        "mode": mode,
        "cohort": cohort,
        "missing_days": missing,
    }


def lifecycle(scope: WarehouseScope, period: str | None = None) -> dict[str, Any]:
    """New (first-ever period), returning (also active the period before), resurrecting (inactive
    the period before, active earlier), dormant (active the period before, not in this one)."""
    period = check_period(period, "day")
    rng = scope.rng
    lo, hi = index_of(period, rng.start), index_of(period, rng.end)
    p = Params()
    act = _activity(scope, p, None, period, rng.end)
    rows = scope.run(
        f"""
        WITH a AS ({act}), f AS (SELECT person, MIN(p) AS fp FROM a GROUP BY person)
        SELECT a.p AS p, CASE WHEN a.p = f.fp THEN 'new' WHEN b.person IS NOT NULL THEN 'returning'
                              ELSE 'resurrecting' END AS status, COUNT(*) AS n
        FROM a JOIN f ON f.person = a.person LEFT JOIN a b ON b.person = a.person AND b.p = a.p - 1
        WHERE a.p BETWEEN {lo} AND {hi} GROUP BY 1, 2
        UNION ALL
        SELECT a.p + 1 AS p, 'dormant' AS status, COUNT(*) AS n
        FROM a LEFT JOIN a nx ON nx.person = a.person AND nx.p = a.p + 1
        WHERE nx.person IS NULL AND a.p + 1 BETWEEN {lo} AND {hi} GROUP BY 1""",
        p,
    )
    counts = {(int(r["p"]), str(r["status"])): int(r["n"]) for r in rows}
    missing = scope.missing_days(rng.days())
    out = []
    for i in range(lo, hi + 1):
        row: dict[str, Any] = {"date": start_of(period, i).isoformat()}
        for status in ("new", "returning", "resurrecting", "dormant"):
            row[status] = counts.get((i, status), 0)
        row["incomplete"] = last_day_of(period, i) > rng.end or start_of(period, i) < rng.start
        if period == "day":
            row["missing"] = start_of(period, i) in missing
        out.append(row)
    return {"rows": out, "period": period, "missing_days": sorted(d.isoformat() for d in missing)}
