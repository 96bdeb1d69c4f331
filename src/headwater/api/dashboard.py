"""What the built-in dashboard needs besides the metrics, realtime and live APIs (admin token):

- ``GET /api/v1/dashboard/config``: the project time zone, today's date there, and which optional
  APIs this server has (so the page never probes a missing route and logs a 404);
- ``GET /api/v1/dashboard/health``: data health, from the process' own counters, the tailers'
  status (as /readyz reports it), the log folder (quarantine) and the ETL manifests.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from headwater import __version__
from headwater.api.auth import ApiError, require_admin
from headwater.dashboard.health import data_health
from headwater.dashboard.metric_batch import cache_for, groups, parse_queries, run_group
from headwater.lake.layout import LakeError
from headwater.metrics.params import MetricError

MAX_BODY_BYTES = 64 << 10

# Optional APIs the page uses when the server has them: name -> path prefix of their routes.
OPTIONAL_APIS = {
    "live": "/api/v1/live/",
    "experiments": "/api/v1/experiments",
    "audiences": "/api/v1/audiences",
}


def available_apis(app_routes: list[BaseRoute]) -> dict[str, bool]:
    paths = [str(getattr(route, "path", "")) for route in app_routes]
    return {name: any(p.startswith(prefix) for p in paths) for name, prefix in OPTIONAL_APIS.items()}


async def config(request: Request) -> Response:
    require_admin(request)
    tz_name: str = request.app.state.runtime.settings.timezone
    return JSONResponse(
        {
            "version": __version__,
            "timezone": tz_name,
            "today": datetime.now(ZoneInfo(tz_name)).date().isoformat(),
            "apis": available_apis(request.app.routes),
        }
    )


async def health(request: Request) -> Response:
    require_admin(request)
    rt = request.app.state.runtime
    statuses = {service.name: service.status()[1] for service in rt.services}
    body: dict[str, Any] = await asyncio.to_thread(data_health, rt.settings, statuses)
    body["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return JSONResponse(body)


async def metrics(request: Request) -> Response:
    """``POST {"queries": [...]}`` -> ``{"results": [...]}``, each what GET /api/v1/metrics/NAME
    answers for the same parameters, or ``{"error": {...}, "status": n}``."""
    require_admin(request)
    settings = request.app.state.runtime.settings
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"the body may not exceed {MAX_BODY_BYTES} bytes")
    try:
        queries = parse_queries(json.loads(body or b"null"))
    except ValueError:
        raise ApiError(400, "invalid_json", "the body is not JSON") from None
    except MetricError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    cache = cache_for(settings.data_dir, settings.timezone)
    try:
        parts = await asyncio.gather(*(asyncio.to_thread(run_group, cache, g) for g in groups(queries)))
    except LakeError as exc:
        raise ApiError(500, "lake_error", str(exc)) from None
    answers = {q: a for part in parts for q, a in part.items()}
    return JSONResponse({"results": [answers[q] for q in queries]})


def routes() -> list[Route]:
    return [
        Route("/api/v1/dashboard/metrics", metrics, methods=["POST"]),
        Route("/api/v1/dashboard/config", config),
        Route("/api/v1/dashboard/health", health),
    ]
