"""GET /api/v1/realtime/daily and /api/v1/realtime/sessions (admin token), and their JSON,
which `headwater realtime daily|sessions --json` prints too."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from headwater.api.auth import ApiError, require_admin
from headwater.events.sessions import Session
from headwater.events.timestamps import format_timestamp
from headwater.realtime.service import RealtimeQueries
from headwater.stores.sql.ports import DailyTotals, RealtimeStore

MAX_LIMIT = 1000


def today(tz_name: str) -> date:
    return datetime.now(ZoneInfo(tz_name)).date()


def parse_day(text: str | None, tz_name: str) -> date:
    if not text:
        return today(tz_name)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(
            400, "invalid_parameter", f"query parameter 'date' is not YYYY-MM-DD: {text[:40]!r}"
        ) from None


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


def _queries(request: Request) -> RealtimeQueries:
    for service in request.app.state.runtime.services:
        if isinstance(service, RealtimeQueries):
            return service
    raise ApiError(503, "unavailable", "the realtime store is not configured in this server")


async def daily(request: Request) -> Response:
    require_admin(request)
    tz_name: str = request.app.state.runtime.settings.timezone
    day = parse_day(request.query_params.get("date"), tz_name)
    totals = await _queries(request).run(lambda store: store.daily(day))
    return JSONResponse(daily_json(totals, tz_name))


async def sessions(request: Request) -> Response:
    require_admin(request)
    active_text = request.query_params.get("active", "false").lower()
    if active_text not in ("true", "false", "1", "0"):
        raise ApiError(400, "invalid_parameter", "query parameter 'active' must be true or false")
    try:
        limit = int(request.query_params.get("limit", "100"))
    except ValueError:
        limit = -1
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, "invalid_parameter", f"query parameter 'limit' must be 1..{MAX_LIMIT}")
    active = active_text in ("true", "1")
    body = await _queries(request).run(lambda store: sessions_json(store, active, limit))
    return JSONResponse(body)


def routes() -> list[Route]:
    return [
        Route("/api/v1/realtime/daily", daily),
        Route("/api/v1/realtime/sessions", sessions),
    ]
