"""The JSON of the realtime aggregates, the same from the API and the CLI (``--json``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from headwater.events.sessions import Session
from headwater.events.timestamps import format_timestamp
from headwater.stores.sql.ports import DailyTotals, RealtimeStore


def today(tz_name: str) -> date:
    return datetime.now(ZoneInfo(tz_name)).date()


def parse_day(text: str | None, tz_name: str) -> date:
    """A YYYY-MM-DD day (default: today in the project time zone); ValueError naming the text."""
    if not text:
        return today(tz_name)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not a date (YYYY-MM-DD)") from None


def daily_json(totals: DailyTotals, tz_name: str) -> dict[str, Any]:
    return {
        "date": totals.day.isoformat(),
        "tz": tz_name,
        "events": totals.events,
        "unique_users": totals.unique_users,
        "rows": [
            {"tool_id": r.tool_id or None, "event_type": r.event_type, "count": r.count} for r in totals.rows
        ],
    }


def session_json(s: Session) -> dict[str, Any]:
    return {
        "session_id": s.session_id,
        "user_id": s.user_id,
        "start_time": format_timestamp(s.start),
        "last_activity": format_timestamp(s.last),
        "events_count": s.count,
    }


def sessions_json(
    store: RealtimeStore, active: bool, limit: int, now: datetime | None = None
) -> dict[str, Any]:
    at = (now or datetime.now(UTC)) if active else None
    total, rows = store.sessions(at, limit)
    out: dict[str, Any] = {"active": active, "count": total, "sessions": [session_json(s) for s in rows]}
    if at is not None:
        out["at"] = format_timestamp(at)
    return out
