"""Calendar periods (day, week starting Monday, month) as integer indexes, in SQL and in Python."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from headwater.lake.params import MetricError

PERIODS = ("day", "week", "month")
_EPOCH = date(1970, 1, 1)
_MONDAY = date(1970, 1, 5)


def check_period(value: str | None, default: str = "day") -> str:
    period = value or default
    if period not in PERIODS:
        raise MetricError(
            "bad_parameter", f"parameter 'period' must be one of {', '.join(PERIODS)}: {period!r}"
        )
    return period


def index_sql(period: str, column: str = "day") -> str:
    if period == "day":
        return f"({column} - DATE '1970-01-01')"
    if period == "week":
        return f"(({column} - DATE '1970-01-05') // 7)"
    return f"(year({column}) * 12 + month({column}) - 1)"


def index_of(period: str, day: date) -> int:
    if period == "day":
        return (day - _EPOCH).days
    if period == "week":
        return (day - _MONDAY).days // 7
    return day.year * 12 + day.month - 1


def start_of(period: str, index: int) -> date:
    if period == "day":
        return _EPOCH + timedelta(days=index)
    if period == "week":
        return _MONDAY + timedelta(days=7 * index)
    return date(index // 12, index % 12 + 1, 1)


def last_day_of(period: str, index: int) -> date:
    return start_of(period, index + 1) - timedelta(days=1)


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
