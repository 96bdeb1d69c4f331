"""Funnels: ordered steps, each after the previous one and within a window from the first step.

For every occurrence of step 1 in the range, the earliest next step at or after the previous one
is taken (ASOF join); taking the earliest is optimal for a fixed start, and the best start over
all occurrences is kept, so a user's reach is exact. A user's breakdown value is the one of
their first step-1 event.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from headwater.batch.sql import quote
from headwater.metrics.params import MetricError
from headwater.metrics.source import Scope

DEFAULT_WINDOW_DAYS = 14


def parse_steps(steps: str | list[str] | None) -> list[str]:
    names = steps if isinstance(steps, list) else (steps or "").split(",")
    names = [s.strip() for s in names if s.strip()]
    if len(names) < 2:
        raise MetricError(
            "bad_parameter", "parameter 'steps' needs at least two event names, comma-separated"
        )
    if len(set(names)) != len(names):
        raise MetricError("bad_parameter", "parameter 'steps' may not repeat an event name")
    return names


def funnel(
    scope: Scope,
    steps: str | list[str] | None = None,
    window_days: int | str | None = None,
    breakdown: str | None = None,
) -> dict[str, Any]:
    names = parse_steps(steps)
    try:
        window = int(window_days) if window_days not in (None, "") else DEFAULT_WINDOW_DAYS
    except (TypeError, ValueError):
        raise MetricError(
            "bad_parameter", f"parameter 'window_days' is not a number: {window_days!r}"
        ) from None
    if not 1 <= window <= 365:
        raise MetricError("bad_parameter", "parameter 'window_days' must be between 1 and 365")
    rng = scope.rng
    bd = f"e.properties->>{quote(breakdown)}" if breakdown else "NULL"
    events = scope.events(rng.start, rng.end + timedelta(days=window))
    names_sql = ", ".join(quote(n) for n in names)
    parts = [
        f"""e AS (SELECT person, event, ts, day, {bd} AS bd FROM ({events}) e
                  WHERE person IS NOT NULL AND event IN ({names_sql}))""",
        f"""j1 AS (SELECT person, ts AS t1, bd FROM e WHERE event = {quote(names[0])}
                   AND day BETWEEN DATE {quote(str(rng.start))} AND DATE {quote(str(rng.end))})""",
    ]
    for i, name in enumerate(names[1:], start=2):
        parts.append(f"s{i} AS (SELECT person, ts FROM e WHERE event = {quote(name)})")
        parts.append(
            f"""j{i} AS (SELECT j.*, s.ts AS t{i} FROM j{i - 1} j
                         ASOF LEFT JOIN s{i} s ON j.person = s.person AND s.ts >= j.t{i - 1})"""
        )
    limit = f"t1 + INTERVAL {window} DAY"
    reach = (
        "CASE "
        + " ".join(f"WHEN t{i} IS NULL OR t{i} > {limit} THEN {i - 1}" for i in range(2, len(names) + 1))
        + f" ELSE {len(names)} END"
    )
    rows = scope.sql(
        f"""WITH {", ".join(parts)},
            per AS (SELECT person, arg_min(bd, t1) AS bd, max({reach}) AS reach
                    FROM j{len(names)} GROUP BY person)
            SELECT bd, reach, count(*) FROM per GROUP BY ALL"""
    )
    groups: dict[Any, dict[int, int]] = {}
    for value, reach_n, count in rows:
        groups.setdefault(value, {})[int(reach_n)] = int(count)
    if not groups and not breakdown:
        groups[None] = {}
    out = []
    for value in sorted(groups, key=lambda v: (v is None, str(v))):
        reached = groups[value]
        first = sum(reached.values())
        prev = first
        for i, name in enumerate(names, start=1):
            users = sum(n for r, n in reached.items() if r >= i)
            row: dict[str, Any] = {
                "date": rng.start.isoformat(),
                "step": i,
                "event": name,
                "users": users,
                "conversion": round(users / first, 6) if first else None,
                "from_previous": round(users / prev, 6) if prev else None,
            }
            if breakdown:
                row["breakdown"] = value
            out.append(row)
            prev = users
    return {"rows": out, "steps": names, "window_days": window, "breakdown": breakdown}
