"""The JSON rows a metric answers, shaped once for every engine (the lake, the warehouse): each
engine counts, these functions lay the counts out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from headwater.metrics.periods import last_day_of, start_of


def cohort_rows(
    sizes: dict[int, int], returned: dict[tuple[int, int], int], lo: int, hi: int, period: str, end: date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Retention's rows (one per cohort lo..hi: its size and, per period k, the users back, the
    rate and whether the period is past ``end``) and the average over complete periods. One shape
    for every engine (the lake, the warehouse)."""
    rows: list[dict[str, Any]] = []
    totals: dict[int, list[int]] = {}
    for c in range(lo, hi + 1):
        size = int(sizes.get(c, 0))
        values = []
        for k in range(0, hi - c + 1):
            users = size if k == 0 else returned.get((c, k), 0)
            incomplete = last_day_of(period, c + k) > end
            values.append(
                {
                    "period": k,
                    "users": users,
                    "rate": round(users / size, 6) if size else None,
                    "incomplete": incomplete,
                }
            )
            if not incomplete and size:
                acc = totals.setdefault(k, [0, 0, 0])
                acc[0] += users
                acc[1] += size
                acc[2] += 1
        rows.append({"date": start_of(period, c).isoformat(), "cohort_size": size, "values": values})
    average = [
        {"period": k, "rate": round(u / s, 6), "users": u, "cohort_users": s, "cohorts": n}
        for k, (u, s, n) in sorted(totals.items())
    ]
    return rows, average


def funnel_rows(
    reach: list[tuple[Any, int, int]], names: list[str], start: date, breakdown: str | None
) -> list[dict[str, Any]]:
    """A funnel's rows from (breakdown value, steps reached, people) counts: per value (the
    missing value last), per step, the people who reached it, the conversion from the first step
    and from the previous one."""
    groups: dict[Any, dict[int, int]] = {}
    for value, reach_n, count in reach:
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
                "date": start.isoformat(),
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
    return out


def window_days(start: date, end: date, window: int) -> list[date]:
    """Every day a ``window``-day count of start..end reads (the window before start included)."""
    first = start - timedelta(days=window - 1)
    return [first + timedelta(days=i) for i in range((end - start).days + window)]


def series_rows(
    days: list[date], counts: Mapping[date, int], missing: set[date], window: int
) -> list[dict[str, Any]]:
    """dau / wau / mau rows: the count of each day (None where a day of its window is missing)."""
    rows = []
    for day in days:
        row: dict[str, Any] = {"date": day.isoformat(), "value": None if day in missing else counts[day]}
        row["missing"] = day in missing
        if window > 1:
            row["missing_days_in_window"] = sum(
                1 for k in range(window) if day - timedelta(days=k) in missing
            )
        rows.append(row)
    return rows


def feature_rows(
    data: Mapping[tuple[date, Any, Any], tuple[int, int]],
    mau: Mapping[date, int],
    missing: set[date],
    start: date,
    trend_days: int,
) -> list[dict[str, Any]]:
    """features rows from (day, tool, event) -> (events, users): per day from ``start``, busiest
    first, with the share of that day's MAU and the change from ``trend_days`` before."""
    out = []
    for (day, tool, ev), (n, users) in sorted(
        data.items(), key=lambda kv: (kv[0][0], -kv[1][0], str(kv[0][1:]))
    ):
        if day < start or day in missing:
            continue
        before = data.get((day - timedelta(days=trend_days), tool, ev))
        out.append(
            {
                "date": day.isoformat(),
                "tool_id": tool,
                "event": ev,
                "events": n,
                "users": users,
                "share_of_mau": round(users / mau[day], 6) if mau.get(day) else None,
                "trend": round(users / before[1] - 1, 6) if before and before[1] else None,
            }
        )
    return out
