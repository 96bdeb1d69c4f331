"""The live API's answers, computed from a Counters (shared by the HTTP API and the CLI).

Each answer takes a constant number of round trips, whatever the number of tools: active users
one (a sum over the windows' minutes), hourly one (the hour's four hashes), today two (the day's
three hashes, and the open sessions' window, side by side). The API awaits the ``a*`` variants
on its event loop; the CLI calls the blocking ones. Every unique count is exact (headwater.live.state).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

from headwater.live.buckets import (
    SESSION_MINUTES,
    USERS,
    WINDOWS,
    day_name,
    hour_name,
    split_field,
    window_ranges,
)
from headwater.stores.live.ports import Counters


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _active(window: str, now: datetime, count: int) -> dict[str, Any]:
    end = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return {
        "window": window,
        "start": _iso(end - timedelta(minutes=WINDOWS[window])),
        "end": _iso(end),
        "active_users": count,
    }


def active_users(store: Counters, window: str, now: datetime) -> dict[str, Any]:
    return _active(window, now, store.window_sum(window_ranges(WINDOWS[window], now)))


async def aactive_users(store: Counters, window: str, now: datetime) -> dict[str, Any]:
    return _active(window, now, await store.awindow_sum(window_ranges(WINDOWS[window], now)))


def _hour_names(hour: datetime) -> list[str]:
    h = hour_name(hour)
    return ["hc:" + h, "hu:" + h, "htu:" + h, "hn:" + h]


def _hourly(hour: datetime, rows: list[dict[str, int]]) -> dict[str, Any]:
    counts, pair_users, tool_users, totals = rows
    pairs = sorted(counts)
    tool_events: dict[str, int] = {}
    for p in pairs:
        tool = split_field(p)[0]
        tool_events[tool] = tool_events.get(tool, 0) + counts[p]
    return {
        "hour": hour.astimezone(UTC).isoformat()[:13],  # YYYY-MM-DDTHH, the year zero-padded
        "tz": "UTC",
        "events": sum(counts.values()),
        "unique_users": totals.get(USERS, 0),
        "tools": [
            {"tool_id": t or None, "events": tool_events[t], "unique_users": tool_users.get(t, 0)}
            for t in sorted(tool_events)
        ],
        "rows": [
            {
                "tool_id": split_field(p)[0] or None,
                "event_type": split_field(p)[1],
                "events": counts[p],
                "unique_users": pair_users.get(p, 0),
            }
            for p in pairs
        ],
    }


def hourly(store: Counters, hour: datetime) -> dict[str, Any]:
    """Events and unique actors of one UTC hour, per tool_id and event_type, and per tool_id."""
    return _hourly(hour, store.hashes(_hour_names(hour)))


async def ahourly(store: Counters, hour: datetime) -> dict[str, Any]:
    return _hourly(hour, await store.ahashes(_hour_names(hour)))


def _day_names(day: date) -> list[str]:
    d = day_name(day)
    return ["dc:" + d, "dtu:" + d, "dn:" + d]


def _today(day: date, tz_name: str, rows: list[dict[str, int]], sessions: int) -> dict[str, Any]:
    counts, tool_users, totals = rows
    return {
        "date": day.isoformat(),
        "tz": tz_name,
        "events": sum(counts.values()),
        "active_users": totals.get(USERS, 0),
        "open_sessions": sessions,
        "tools": [
            {"tool_id": t or None, "events": counts[t], "unique_users": tool_users.get(t, 0)}
            for t in sorted(counts)
        ],
    }


def today(store: Counters, day: date, tz_name: str, now: datetime) -> dict[str, Any]:
    """Today's (project time zone) events and unique actors per tool_id, and open sessions."""
    sessions = store.window_sum(window_ranges(SESSION_MINUTES, now))
    return _today(day, tz_name, store.hashes(_day_names(day)), sessions)


async def atoday(store: Counters, day: date, tz_name: str, now: datetime) -> dict[str, Any]:
    rows, sessions = await asyncio.gather(
        store.ahashes(_day_names(day)), store.awindow_sum(window_ranges(SESSION_MINUTES, now))
    )
    return _today(day, tz_name, rows, sessions)
