"""Funnels in BigQuery (the lake's: headwater.metrics.funnel), with the same definition.

For every step-1 event in the range, the earliest step 2 at or after it, then the earliest step 3
at or after that step 2, ...; a step counts when it is within ``window_days`` (in microseconds, as
the lake) of the step-1 event; a person's reach is the best over their step-1 events, their
breakdown value the one of their first step-1 event that has one (DuckDB's ``arg_min`` skips
NULLs: written ``ARRAY_AGG(STRUCT(bd AS v) ORDER BY bd IS NULL, t1 ...)``, as the emulator cannot
translate ``IGNORE NULLS`` with ``ORDER BY ... LIMIT``).

"The earliest step i at or after time t" is one window function over each person's step events
ordered by time: ``MIN(IF(step = i, t, NULL)) OVER (PARTITION BY person ORDER BY t RANGE BETWEEN
CURRENT ROW AND UNBOUNDED FOLLOWING)`` (RANGE, so events at the same microsecond count as "at or
after"); chaining the steps is then an equality join on (person, time). No non-equi join, linear
in the events of each person.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from headwater.metrics.options import parse_steps, parse_window
from headwater.metrics.shapes import funnel_rows
from headwater.warehouse.metrics.scope import Params, WarehouseScope, json_path

_DAY_US = 86_400_000_000


def funnel(
    scope: WarehouseScope,
    steps: str | list[str] | None = None,
    window_days: int | str | None = None,
    breakdown: str | None = None,
) -> dict[str, Any]:
    names = parse_steps(steps)
    window = parse_window(window_days)
    rng = scope.rng
    out = funnel_rows(list(_reach_counts(scope, names, window, breakdown)), names, rng.start, breakdown)
    return {"rows": out, "steps": names, "window_days": window, "breakdown": breakdown}


def funnel_sql(scope: WarehouseScope, p: Params, names: list[str], window: int, breakdown: str | None) -> str:
    """SELECT (bd, reach, n): people with a step 1 in the range, by breakdown value and steps reached."""
    rng = scope.rng
    lo, hi = scope.utc_bounds(rng.start, rng.end)
    columns = ("event_type", "properties") if breakdown else ("event_type",)
    events = scope.events(
        p, rng.start, rng.end + timedelta(days=window), columns, f"e.event_type IN UNNEST({p(names)})"
    )
    bd = (
        f"JSON_VALUE(properties, {json_path(breakdown, 'breakdown')})"
        if breakdown
        else "CAST(NULL AS STRING)"
    )
    step = "CASE event_type " + " ".join(f"WHEN {p(n)} THEN {i}" for i, n in enumerate(names, 1)) + " END"
    frame = "PARTITION BY person ORDER BY t RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING"
    nexts = ", ".join(
        f"MIN(IF(step = {i}, t, NULL)) OVER ({frame}) AS n{i}" for i in range(2, len(names) + 1)
    )
    parts = [
        f"""ev AS (SELECT person, {step} AS step, UNIX_MICROS(ts) AS t,
                          (event_type = {p(names[0])} AND ts >= {p(lo)} AND ts < {p(hi)}) AS is_start,
                          {bd} AS bd
                   FROM ({events}))""",
        f"marks AS (SELECT person, step, t, is_start, bd, {nexts} FROM ev)",
        "j1 AS (SELECT person, t AS t1, bd, n2 AS t2 FROM marks WHERE is_start)",
    ]
    for i in range(2, len(names)):
        # the earliest step i+1 at or after the chosen step i: read on that step-i event's row
        parts.append(
            f"""m{i} AS (SELECT DISTINCT person, t, n{i + 1} FROM marks WHERE step = {i}),
                j{i} AS (SELECT j.*, m.n{i + 1} AS t{i + 1} FROM j{i - 1} j
                         LEFT JOIN m{i} m ON m.person = j.person AND m.t = j.t{i})"""
        )
    limit = p(window * _DAY_US)
    reach = " + ".join(
        ["1", *(f"IF(t{i} IS NOT NULL AND t{i} <= t1 + {limit}, 1, 0)" for i in range(2, len(names) + 1))]
    )
    last = f"j{len(names) - 1}"
    return f"""
        WITH {", ".join(parts)},
        per AS (SELECT person,
                       ARRAY_AGG(STRUCT(bd AS v) ORDER BY bd IS NULL, t1, bd LIMIT 1)[OFFSET(0)].v AS bd,
                       MAX({reach}) AS reach
                FROM {last} GROUP BY person)
        SELECT bd, reach, COUNT(*) AS n FROM per GROUP BY bd, reach"""


def _reach_counts(
    scope: WarehouseScope, names: list[str], window: int, breakdown: str | None
) -> list[tuple[Any, int, int]]:
    p = Params()
    rows = scope.run(funnel_sql(scope, p, names, window, breakdown), p)
    return [(r["bd"], int(r["reach"]), int(r["n"])) for r in rows]
