"""Calendar periods (day, week starting Monday, month) as integer indexes, in SQL and in Python."""

from __future__ import annotations

from datetime import date, timedelta

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
