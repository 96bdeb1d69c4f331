"""GET /api/v1/realtime/daily and /api/v1/realtime/sessions (admin token); the JSON is
headwater.realtime.answers', which `headwater realtime daily|sessions --json` prints too."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from headwater.http.auth import require_admin
from headwater.http.errors import HttpError
from headwater.realtime.answers import daily_json, parse_day, sessions_json
from headwater.realtime.service import RealtimeQueries

MAX_LIMIT = 1000


def _queries(request: Request) -> RealtimeQueries:
    found: RealtimeQueries | None = request.app.state.runtime.realtime
    if found is None:
        raise HttpError(503, "unavailable", "the realtime store is not configured in this server")
    return found


async def daily(request: Request) -> Response:
    """Events per tool and event type, and unique users, of one day (default today)"""
    require_admin(request)
    tz_name: str = request.app.state.runtime.settings.timezone
    try:
        day = parse_day(request.query_params.get("date"), tz_name)
    except ValueError as exc:
        raise HttpError(400, "invalid_parameter", f"query parameter 'date': {exc}") from None
    totals = await _queries(request).run(lambda store: store.daily(day))
    return JSONResponse(daily_json(totals, tz_name))


async def sessions(request: Request) -> Response:
    """The latest sessions (or only the active ones) and how many there are"""
    require_admin(request)
    active_text = request.query_params.get("active", "false").lower()
    if active_text not in ("true", "false", "1", "0"):
        raise HttpError(400, "invalid_parameter", "query parameter 'active' must be true or false")
    try:
        limit = int(request.query_params.get("limit", "100"))
    except ValueError:
        limit = -1
    if not 1 <= limit <= MAX_LIMIT:
        raise HttpError(400, "invalid_parameter", f"query parameter 'limit' must be 1..{MAX_LIMIT}")
    active = active_text in ("true", "1")
    body = await _queries(request).run(lambda store: sessions_json(store, active, limit))
    return JSONResponse(body)
