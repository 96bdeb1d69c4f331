"""What the built-in dashboard needs besides the metrics, realtime and live APIs (admin token):

- ``GET /api/v1/dashboard/config``: the project time zone, today's date there, and which optional
  APIs this server has (so the page never probes a missing route and logs a 404);
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
from starlette.routing import BaseRoute, Route

from headwater import __version__
from headwater.api.auth import require_admin
from headwater.dashboard.health import data_health

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


def routes() -> list[Route]:
    return [
        Route("/api/v1/dashboard/config", config),
        Route("/api/v1/dashboard/health", health),
    ]
