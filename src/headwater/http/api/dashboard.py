"""What the built-in dashboard needs besides the metrics, realtime and live APIs (admin token):

- ``GET /api/v1/dashboard/config``: the project time zone, today's date there, which optional
  APIs this server has (so the page never probes a missing route and logs a 404), whether the
  project has any event yet (``events``), and its active write keys (``write_keys``: ``[{"name",
  "key"}]`` for a credential with the ``admin`` permission, else null): the first-run view;
- ``GET /api/v1/dashboard/health``: data health, from the process' own counters, the tailers'
  status (as /readyz reports it), the log folder (quarantine) and the ETL manifests.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from headwater import __version__
from headwater.dashboard.caches import caches_for
from headwater.dashboard.first_run import has_events, write_keys
from headwater.dashboard.health import data_health
from headwater.dashboard.metric_batch import groups, parse_queries, run_group
from headwater.http import json_body
from headwater.http.auth import require_admin
from headwater.http.dashboard import available_apis
from headwater.http.errors import HttpError
from headwater.lake.layout import LakeError
from headwater.lake.params import MetricError
from headwater.stores.sql.keys import SqlWriteKeys

MAX_BODY_BYTES = 64 << 10


async def config(request: Request) -> Response:
    """The project time zone, today's date there, which optional APIs this server has, whether the
    project has any event yet, and (for owners and admins) its write keys"""
    who = require_admin(request)
    runtime = request.app.state.runtime
    tz_name: str = runtime.settings.timezone
    keys = None
    if who.may("admin"):
        keys = await asyncio.to_thread(write_keys, SqlWriteKeys(runtime.database))
    return JSONResponse(
        {
            "version": __version__,
            "timezone": tz_name,
            "today": datetime.now(ZoneInfo(tz_name)).date().isoformat(),
            "apis": available_apis(request),
            "events": await asyncio.to_thread(has_events, runtime.settings),
            "write_keys": keys,
        }
    )


async def health(request: Request) -> Response:
    """Data health: ingest counters, tailers' lag, quarantine, log size, the last ETL runs"""
    require_admin(request)
    runtime = request.app.state.runtime
    statuses = {name: details for name, (_, details) in runtime.statuses().items()}
    body: dict[str, Any] = await asyncio.to_thread(data_health, runtime.settings, statuses)
    body["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return JSONResponse(body)


async def metrics(request: Request) -> Response:
    """``POST {"queries": [...]}`` -> ``{"results": [...]}``, each what GET /api/v1/metrics/NAME
    answers for the same parameters, or ``{"error": {...}, "status": n}``."""
    require_admin(request)
    settings = request.app.state.runtime.settings
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise HttpError(413, "too_large", f"the body may not exceed {MAX_BODY_BYTES} bytes")
    try:
        queries = parse_queries(json_body.loads(body or b"null"))
    except ValueError:
        raise HttpError(400, "invalid_json", "the body is not JSON") from None
    except MetricError as exc:
        raise HttpError(exc.status, exc.code, exc.message) from None
    cache = caches_for(settings.data_dir, settings.timezone).metrics
    try:
        parts = await asyncio.gather(*(asyncio.to_thread(run_group, cache, g) for g in groups(queries)))
    except LakeError as exc:
        raise HttpError(500, "lake_error", str(exc)) from None
    answers = {q: a for part in parts for q, a in part.items()}
    return JSONResponse({"results": [answers[q] for q in queries]})
