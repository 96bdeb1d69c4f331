"""GET /api/v1/live/active-users, /api/v1/live/hourly, /api/v1/live/today (admin token).

Answers come from the live store (docs/live.md); when it is down or slow they are 503 with
code ``live_store_unavailable`` within ~100 ms, and collection is not affected. Each worker
reuses an answer for up to a second (LiveQueries.cached): the numbers are at most 1 s old.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from headwater.http.auth import require_admin
from headwater.http.errors import HttpError
from headwater.lake.params import FIRST_DAY, LAST_DAY
from headwater.live import queries
from headwater.live.buckets import WINDOWS
from headwater.live.service import LiveQueries
from headwater.stores.live.ports import LiveUnavailableError


def _queries(request: Request) -> LiveQueries:
    require_admin(request)
    live = request.app.state.runtime.live
    if live is None:
        raise HttpError(503, "live_store_unavailable", "the live layer is not running in this server")
    queries: LiveQueries = live.queries
    return queries


_encode = msgspec.json.Encoder().encode
CACHE_CONTROL = {"cache-control": "private, max-age=1"}


async def _answer(live: LiveQueries, key: Hashable, fn: Any) -> Response:
    try:
        body = await live.cached(key, fn, _encode)
    except LiveUnavailableError as exc:
        raise HttpError(
            503,
            "live_store_unavailable",
            f"{exc}. Live counters are paused; events are still collected and the counters catch up "
            "from the log when the store answers again.",
        ) from None
    return Response(body, media_type="application/json", headers=CACHE_CONTROL)


def parse_hour(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    try:
        moment = datetime.strptime(text, "%Y-%m-%dT%H")
    except ValueError:
        raise HttpError(
            400, "invalid_parameter", f"query parameter 'hour' is not YYYY-MM-DDTHH (UTC): {text[:40]!r}"
        ) from None
    if not FIRST_DAY <= moment.date() <= LAST_DAY:  # no event is kept outside them (events/normalize.py)
        raise HttpError(
            400,
            "invalid_parameter",
            f"query parameter 'hour' must be from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}:"
            f" {text!r}",
        )
    return moment.replace(tzinfo=UTC)


async def active_users(request: Request) -> Response:
    """Distinct users active in the last 5 minutes, hour or 24 hours"""
    live = _queries(request)
    window = request.query_params.get("window", "5m")
    if window not in WINDOWS:
        raise HttpError(
            400, "invalid_parameter", f"query parameter 'window' must be one of {', '.join(WINDOWS)}"
        )
    now = datetime.now(UTC)
    return await _answer(live, ("active", window), lambda store: queries.aactive_users(store, window, now))


async def hourly(request: Request) -> Response:
    """Events and unique users of one UTC hour, per tool and event type"""
    live = _queries(request)
    hour = parse_hour(request.query_params.get("hour"))
    return await _answer(live, ("hourly", hour), lambda store: queries.ahourly(store, hour))


async def today(request: Request) -> Response:
    """Today's events and unique users per tool, and users in a session now"""
    live = _queries(request)
    tz_name = request.app.state.runtime.settings.timezone
    now = datetime.now(UTC)
    day = now.astimezone(ZoneInfo(tz_name)).date()
    return await _answer(
        live, ("today", day, tz_name), lambda store: queries.atoday(store, day, tz_name, now)
    )
