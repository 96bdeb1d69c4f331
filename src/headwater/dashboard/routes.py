"""The /dashboard routes: the page (behind the admin cookie), login, logout and the static files.

The login form posts the admin token; when it is right the answer sets the ``headwater_admin``
cookie (Secure, HttpOnly, SameSite=Strict), which :func:`headwater.api.auth.require_admin` accepts
on every /api/v1 call the page makes.
"""

from __future__ import annotations

import hmac
from html import escape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from headwater import __version__

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
    return (STATIC_DIR / name).read_text().replace("{{version}}", __version__)


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


async def dashboard(request: Request) -> Response:
    if not _token_ok(request, request.cookies.get(COOKIE, "")):
        return RedirectResponse("/dashboard/login", status_code=303)
    return _html(_page("index.html"))


async def login(request: Request) -> Response:
    if request.method == "GET":
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
                Mount("/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static"),
            ],
        ),
    ]
