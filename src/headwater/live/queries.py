"""The live API's answers, computed from a LiveStore (shared by the HTTP API and the CLI)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from headwater.live.buckets import SESSION_MINUTES, WINDOWS, day_name, hour_name, split_field, window_names
from headwater.stores.live.base import LiveStore


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def active_users(store: LiveStore, window: str, now: datetime) -> dict[str, Any]:
    minutes = WINDOWS[window]
    end = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return {
        "window": window,
        "start": _iso(end - timedelta(minutes=minutes)),
        "end": _iso(end),
        "active_users": store.union_count(window_names(minutes, now)),
    }


def hourly(store: LiveStore, hour: datetime) -> dict[str, Any]:
    """Events and unique actors of one UTC hour, per tool_id and event_type, and per tool_id."""
    h = hour_name(hour)
    counts = store.counter("hc:" + h)
    pairs = sorted(counts)
    tools = sorted({split_field(p)[0] for p in pairs})
    uniques = store.counts(["h:" + h] + [f"ht:{h}:{t}" for t in tools] + [f"hte:{h}:{p}" for p in pairs])
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


def today(store: LiveStore, day: date, tz_name: str, now: datetime) -> dict[str, Any]:
    """Today's (project time zone) events and unique actors per tool_id, and open sessions."""
    d = day_name(day)
    counts = store.counter("dc:" + d)
    tools = sorted(counts)
    uniques = store.counts(["d:" + d] + [f"dt:{d}:{t}" for t in tools])
    return {
        "date": day.isoformat(),
        "tz": tz_name,
        "events": sum(counts.values()),
        "active_users": uniques[0],
        "open_sessions": store.union_count(window_names(SESSION_MINUTES, now)),
        "tools": [
            {"tool_id": t or None, "events": counts[t], "unique_users": u}
            for t, u in zip(tools, uniques[1:], strict=True)
        ],
    }
