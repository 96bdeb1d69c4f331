"""The operations endpoints: what a server is (/), whether it lives and can take events, its
Prometheus metrics and its OpenAPI document.

Without a credential, /readyz says ready or not ready and nothing more (its status code too); the
details (host, disk, tailers, errors, counts) are for the admin token. /metrics takes the admin
token or the metrics token (setting ``metrics_token``: Prometheus sends it as a Bearer token).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from headwater import __version__
from headwater.http.auth import is_admin, may_read_metrics
from headwater.http.errors import HttpError
from headwater.ops.health import readiness
from headwater.ops.metrics import render_metrics


def _quality(accept: str, media_type: str) -> float:
    """The q-value ``accept`` gives one exact media type (0 when it does not name it)."""
    for part in accept.split(","):
        name, *params = (p.strip() for p in part.split(";"))
        if name.lower() == media_type:
            for param in params:
                key, _, value = param.partition("=")
                if key.strip().lower() == "q":
                    try:
                        return float(value)
                    except ValueError:
                        return 0.0
            return 1.0
    return 0.0


def wants_html(request: Request) -> bool:
    """A browser's navigation: it names text/html (above JSON, if it names both). ``*/*`` alone
    (curl, httpx, monitoring probes) keeps the JSON answer."""
    accept = request.headers.get("accept", "")
    html = _quality(accept, "text/html")
    return html > _quality(accept, "application/json")


async def index(request: Request) -> Response:
    """What this server is and where to go next: a browser is sent to the dashboard (303), an API
    client gets this JSON"""
    if wants_html(request):
        return RedirectResponse("/dashboard/", status_code=303)
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
