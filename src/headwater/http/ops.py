"""The operations endpoints: what a server is (/), whether it lives and can take events, its
Prometheus metrics and its OpenAPI document.

Without a credential, /readyz says ready or not ready and nothing more (its status code too); the
details (host, disk, tailers, errors, counts) are for the admin token. /metrics takes the admin
token or the metrics token (setting ``metrics_token``: Prometheus sends it as a Bearer token).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from headwater import __version__
from headwater.http.auth import is_admin, may_read_metrics
from headwater.http.errors import HttpError
from headwater.ops.health import readiness
from headwater.ops.metrics import render_metrics


async def index(request: Request) -> Response:
    """What this server is and where to go next"""
    return JSONResponse(
        {
            "name": "headwater",
            "version": __version__,
            "docs": "/openapi.json",
            "dashboard": "/dashboard/",
            "collect": ["/v1/batch", "/v1/track", "/api/events"],
            "health": ["/healthz", "/readyz", "/metrics"],
        }
    )


async def healthz(request: Request) -> Response:
    """Liveness: the process answers"""
    return JSONResponse({"status": "ok", "version": __version__})


async def readyz(request: Request) -> Response:
    """Readiness: ready or not (503); with the admin token, every check (log, disk, tailers, schedules)"""
    runtime = request.app.state.runtime
    settings = runtime.settings
    ok, checks = readiness(settings.log_dir, runtime.log.all, settings.min_free_disk_mb << 20)
    for name, (service_ok, details) in runtime.statuses().items():
        checks[name] = details
        ok = ok and service_ok
    status = 200 if ok else 503
    body = {"status": "ready" if ok else "not_ready"}
    if not is_admin(request):
        return JSONResponse(body, status_code=status)
    return JSONResponse({**body, "writer": settings.writer_id, "checks": checks}, status_code=status)


async def prometheus(request: Request) -> Response:
    """Prometheus metrics, aggregated over the server's processes (admin or metrics token)"""
    if not may_read_metrics(request):
        raise HttpError(
            401,
            "unauthorized",
            "missing or wrong token: send 'Authorization: Bearer <token>' with the metrics token"
            " (HEADWATER_METRICS_TOKEN) or the admin token",
        )
    body, content_type = render_metrics()
    return Response(body, media_type=content_type)
