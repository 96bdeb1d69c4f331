"""The live API's answers, computed from a Counters (shared by the HTTP API and the CLI).

Each answer takes a constant number of round trips, whatever the number of tools: active users
one (a Lua union), hourly two (the hour's counters, then every distinct count in one script),
today two (the day's counters, then the counts and the sessions' union side by side). The API
awaits the ``a*`` variants on its event loop; the CLI calls the blocking ones.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

from headwater.live.buckets import SESSION_MINUTES, WINDOWS, day_name, hour_name, split_field, window_names
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
    return _active(window, now, store.union_count(window_names(WINDOWS[window], now)))


async def aactive_users(store: Counters, window: str, now: datetime) -> dict[str, Any]:
    return _active(window, now, await store.aunion_count(window_names(WINDOWS[window], now)))


def _hourly_names(h: str, counts: dict[str, int]) -> tuple[list[str], list[str], list[str]]:
    pairs = sorted(counts)
    tools = sorted({split_field(p)[0] for p in pairs})
    return pairs, tools, ["h:" + h] + [f"ht:{h}:{t}" for t in tools] + [f"hte:{h}:{p}" for p in pairs]


def _hourly(hour: datetime, counts: dict[str, int], uniques: list[int]) -> dict[str, Any]:
    pairs, tools, _ = _hourly_names("", counts)
    total_users, tool_users, pair_users = uniques[0], uniques[1 : 1 + len(tools)], uniques[1 + len(tools) :]
    tool_events: dict[str, int] = {}
    for p in pairs:
        tool = split_field(p)[0]
        tool_events[tool] = tool_events.get(tool, 0) + counts[p]
    return {
        "hour": hour.astimezone(UTC).strftime("%Y-%m-%dT%H"),
        "tz": "UTC",
        "events": sum(counts.values()),
        "unique_users": total_users,
        "tools": [
            {"tool_id": t or None, "events": tool_events[t], "unique_users": u}
            for t, u in zip(tools, tool_users, strict=True)
        ],
        "rows": [
            {
                "tool_id": split_field(p)[0] or None,
                "event_type": split_field(p)[1],
                "events": counts[p],
                "unique_users": u,
            }
            for p, u in zip(pairs, pair_users, strict=True)
        ],
    }


def hourly(store: Counters, hour: datetime) -> dict[str, Any]:
    """Events and unique actors of one UTC hour, per tool_id and event_type, and per tool_id."""
    h = hour_name(hour)
    counts = store.counter("hc:" + h)
    return _hourly(hour, counts, store.counts(_hourly_names(h, counts)[2]))


async def ahourly(store: Counters, hour: datetime) -> dict[str, Any]:
    h = hour_name(hour)
    counts = await store.acounter("hc:" + h)
    return _hourly(hour, counts, await store.acounts(_hourly_names(h, counts)[2]))


def _today_names(d: str, counts: dict[str, int]) -> list[str]:
    return ["d:" + d] + [f"dt:{d}:{t}" for t in sorted(counts)]


def _today(
    day: date, tz_name: str, counts: dict[str, int], uniques: list[int], sessions: int
) -> dict[str, Any]:
    tools = sorted(counts)
    return {
        "date": day.isoformat(),
        "tz": tz_name,
        "events": sum(counts.values()),
        "active_users": uniques[0],
        "open_sessions": sessions,
        "tools": [
            {"tool_id": t or None, "events": counts[t], "unique_users": u}
            for t, u in zip(tools, uniques[1:], strict=True)
        ],
    }


def today(store: Counters, day: date, tz_name: str, now: datetime) -> dict[str, Any]:
    """Today's (project time zone) events and unique actors per tool_id, and open sessions."""
    d = day_name(day)
    counts = store.counter("dc:" + d)
    uniques = store.counts(_today_names(d, counts))
    return _today(day, tz_name, counts, uniques, store.union_count(window_names(SESSION_MINUTES, now)))


async def atoday(store: Counters, day: date, tz_name: str, now: datetime) -> dict[str, Any]:
    d = day_name(day)
    counts = await store.acounter("dc:" + d)
    uniques, sessions = await asyncio.gather(
        store.acounts(_today_names(d, counts)), store.aunion_count(window_names(SESSION_MINUTES, now))
    )
    return _today(day, tz_name, counts, uniques, sessions)
