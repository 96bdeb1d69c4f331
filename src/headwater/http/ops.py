"""The operations endpoints: what a server is (/), whether it lives and can take events, its
Prometheus metrics and its OpenAPI document."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from headwater import __version__
from headwater.http.auth import is_admin
from headwater.ops.health import readiness
from headwater.ops.metrics import render_metrics

#: what /readyz shows of a check without the admin token (with it: everything)
PUBLIC_FIELDS = {"warehouse": ("state", "lag_seconds", "hours_due")}


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
    """Readiness: the log can be written; the state and lag of every tailer and schedule"""
    runtime = request.app.state.runtime
    settings = runtime.settings
    ok, checks = readiness(settings.log_dir, runtime.log.all, settings.min_free_disk_mb << 20)
    admin = is_admin(request)
    for name, (service_ok, details) in runtime.statuses().items():
        if name in PUBLIC_FIELDS and not admin:  # the rest (errors naming datasets...) for the admin only
            details = {k: v for k, v in details.items() if k in PUBLIC_FIELDS[name]}
        checks[name] = details
        ok = ok and service_ok
    return JSONResponse(
        {"status": "ready" if ok else "not_ready", "writer": settings.writer_id, "checks": checks},
        status_code=200 if ok else 503,
    )


async def prometheus(request: Request) -> Response:
    """Prometheus metrics, aggregated over the server's processes"""
    body, content_type = render_metrics()
    return Response(body, media_type=content_type)
