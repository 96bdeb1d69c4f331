"""The /dashboard routes: the page (behind the admin cookie), login, logout and the static files.

The login form posts the admin token; when it is right the answer sets the ``headwater_admin``
cookie (Secure, HttpOnly, SameSite=Strict), which :func:`headwater.api.auth.require_admin` accepts
on every /api/v1 call the page makes.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from html import escape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from headwater import __version__
from headwater.api.auth import ApiError, require_admin
from headwater.api.dashboard import available_apis
from headwater.dashboard.bundle import bundle
from headwater.dashboard.warmup import note_visit, warm_default_view

COOKIE = "headwater_admin"
COOKIE_SECONDS = 12 * 3600
MAX_FORM_BYTES = 4096
STATIC_DIR = Path(__file__).parent / "static"
# Everything from this origin, nothing inline, nothing from elsewhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _page(name: str) -> str:
    return STATIC_FILES[name][0].decode().replace("{{version}}", __version__)


MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}


def _load_static() -> dict[str, tuple[bytes, str, str]]:
    """Every file the page loads, read once: path -> (bytes, media type, ETag). Served from memory,
    so a page load costs no file system call (the package's files do not change while it runs)."""
    files = {}
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file() and path.suffix in MEDIA_TYPES:
            data = path.read_bytes()
            files[path.relative_to(STATIC_DIR).as_posix()] = (data, MEDIA_TYPES[path.suffix], _etag(data))
    return files


def _etag(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:20] + '"'


def _with_bundle(files: dict[str, tuple[bytes, str, str]]) -> dict[str, tuple[bytes, str, str]]:
    """Add ``js/bundle.js``: every module joined into one script (bundle.py), which the page loads."""
    sources = {
        path.removeprefix("js/"): data.decode()
        for path, (data, _, _) in files.items()
        if path.startswith("js/") and path.endswith(".js")
    }
    data = bundle(sources, "app.js").encode()
    return {**files, BUNDLE: (data, MEDIA_TYPES[".js"], _etag(data))}


BUNDLE = "js/bundle.js"
STATIC_FILES = _with_bundle(_load_static())


async def static_file(request: Request) -> Response:
    found = STATIC_FILES.get(request.path_params["path"])
    if found is None:
        return Response("not found", status_code=404, media_type="text/plain")
    data, media_type, etag = found
    # browsers revalidate (304) so an upgrade is picked up at once
    headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media_type, headers=headers)


def _token_ok(request: Request, given: str) -> bool:
    token: str = request.app.state.runtime.admin_token
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def _same_origin(request: Request) -> bool:
    """Refuse cross-site form posts (the cookie is SameSite=Strict; this covers login too)."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def login_page(error: str = "", status: int = 200) -> HTMLResponse:
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return _html(_page("login.html").replace("{{error}}", message), status)


def _warm(request: Request) -> None:
    settings = request.app.state.runtime.settings
    note_visit(settings.run_dir)
    warm_default_view(settings.data_dir, settings.timezone)


async def experiment_results(request: Request) -> Response:
    """What GET /api/v1/experiments/{key}/results answers (default options), cached for the
    dashboard (experiment_results.py)."""
    import asyncio

    from headwater.dashboard.experiment_results import results_cache_for
    from headwater.dashboard.metric_batch import cache_for
    from headwater.experiments.service import find_service
    from headwater.lake.layout import LakeError

    require_admin(request)
    rt = request.app.state.runtime
    service = find_service(rt.services)
    if service is None:
        raise ApiError(503, "unavailable", "the experiments service is not running in this server")
    key = request.path_params["key"]
    cache = results_cache_for(cache_for(rt.settings.data_dir, rt.settings.timezone))
    try:
        body = await asyncio.to_thread(cache.results, service.catalog, key)
    except LakeError as exc:
        raise ApiError(500, "lake_error", str(exc)) from None
    if body is None:
        raise ApiError(404, "unknown_experiment", f"no experiment with key {key!r}")
    return JSONResponse(body)


async def dashboard(request: Request) -> Response:
    _warm(request)
    if not _token_ok(request, request.cookies.get(COOKIE, "")):
        return RedirectResponse("/dashboard/login", status_code=303)
    rt = request.app.state.runtime
    tz_name: str = rt.settings.timezone
    apis = available_apis(request.app.routes)
    page = (
        _page("index.html")
        .replace("{{timezone}}", escape(tz_name))
        .replace("{{today}}", datetime.now(ZoneInfo(tz_name)).date().isoformat())
        .replace("{{apis}}", " ".join(name for name, present in apis.items() if present))
    )
    return _html(page)


async def login(request: Request) -> Response:
    if request.method == "GET":
        _warm(request)  # the default view's metrics are computed while the token is typed
        return login_page()
    if not _same_origin(request):
        return login_page("This form must be sent from the dashboard's own page.", 403)
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return login_page("The form is too large.", 413)
    given = parse_qs(body.decode("utf-8", "replace")).get("token", [""])[0].strip()
    if not _token_ok(request, given):
        return login_page("Wrong admin token.", 401)
    response = RedirectResponse("/dashboard/", status_code=303)
    response.set_cookie(
        COOKIE, given, max_age=COOKIE_SECONDS, path="/", secure=True, httponly=True, samesite="strict"
    )
    return response


async def logout(request: Request) -> Response:
    if not _same_origin(request):
        return login_page("This form must be sent from the dashboard's own page.", 403)
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


async def to_dashboard(request: Request) -> Response:
    return RedirectResponse("/dashboard/", status_code=307)


def routes() -> list[Route | Mount]:
    return [
        Route("/dashboard", to_dashboard),
        Mount(
            "/dashboard",
            routes=[
                Route("/", dashboard),
                Route("/login", login, methods=["GET", "POST"]),
                Route("/logout", logout, methods=["POST"]),
                Route("/static/{path:path}", static_file),
                Route("/data/experiments/{key}/results", experiment_results),
            ],
        ),
    ]
