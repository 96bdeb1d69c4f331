"""The intervals of a trend: day, week (from Monday), month, or the whole range, each bucket dated by
its first day clipped to the range's start (a week that began before the start is dated by the
start). The same rule in Python (every bucket of a range, for the rows with no data) and in SQL."""

from __future__ import annotations

from datetime import date, timedelta

from headwater.lake.sql import quote


def bucket_of(interval: str, day: date, first: date) -> date:
    """The date of the bucket holding ``day`` in a range starting on ``first``."""
    if interval == "range":
        return first
    if interval == "week":
        start = day - timedelta(days=day.weekday())
    elif interval == "month":
        start = day.replace(day=1)
    else:
        start = day
    return max(start, first)


def bucket_starts(interval: str, first: date, last: date) -> list[date]:
    """Every bucket date of the range first..last, in order."""
    if interval == "range":
        return [first]
    out = [first]
    if interval == "day":
        step = first + timedelta(days=1)
        while step <= last:
            out.append(step)
            step += timedelta(days=1)
        return out
    if interval == "week":
        step = first + timedelta(days=7 - first.weekday())
        while step <= last:
            out.append(step)
            step += timedelta(days=7)
        return out
    step = _next_month(first)
    while step <= last:
        out.append(step)
        step = _next_month(step)
    return out


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def bucket_sql(interval: str, first: date, column: str = "day") -> str:
    """SQL of the bucket date of the local day in ``column``, for a range starting on ``first``."""
    start = f"DATE {quote(first.isoformat())}"
    if interval == "range":
        return start
    if interval == "day":
        return column
    return f"greatest(CAST(date_trunc({quote(interval)}, {column}) AS DATE), {start})"
