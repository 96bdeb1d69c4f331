"""The /dashboard routes: the page (behind a session), sign-in, sign-out, invitations, static files.

Signing in (a user's email and password, or the admin token) starts a session: a random id in the
``headwater_session`` cookie (Secure, HttpOnly, SameSite=Strict), never the token itself, which
http/auth.py accepts on every /api/v1 call the page makes; the page carries the session's CSRF token
(a ``<meta>``) and sends it with every change. Failed sign-ins are throttled per client address
(http/ratelimit.py). An invitation (``headwater users invite``) links to /dashboard/invite, where
the new user chooses a password.

The page is plain ES modules (static/js/, no build step). The HTML lists every module in a
``modulepreload`` link, so a browser fetches them all at once instead of discovering the imports
one level at a time. The page names them under ``/dashboard/static/<build>/``, where ``<build>``
is a hash of every static file: relative imports keep that prefix, so each file of a build is
cached for good (``immutable``) and a new build is a new URL. A path without the prefix (or with
an older build's) is still served, revalidated by ETag.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from datetime import datetime
from html import escape
from pathlib import Path
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from headwater import __version__
from headwater.accounts.roles import ADMIN_TOKEN_USER
from headwater.accounts.secrets import PasswordPolicyError, hash_password, verify_password
from headwater.dashboard.caches import caches_for
from headwater.dashboard.defaults import FUNNEL_STEPS, FUNNEL_WINDOW_DAYS, PREFERENCE_TRAIT
from headwater.dashboard.first_run import has_events
from headwater.dashboard.warmup import note_visit, warm_default_view
from headwater.http.auth import SESSION_COOKIE, principal, require_admin, same_origin
from headwater.http.errors import HttpError
from headwater.http.ratelimit import SignInThrottle
from headwater.lake.layout import LakeError
from headwater.stores.sql.accounts import AccountError

COOKIE = SESSION_COOKIE
COOKIE_SECONDS = 12 * 3600
MAX_FORM_BYTES = 4096
STATIC_DIR = Path(__file__).resolve().parent.parent / "dashboard" / "static"
ENTRY = "js/app.js"
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
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}


def _etag(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:20] + '"'


def _load_static() -> dict[str, tuple[bytes, str, str]]:
    """Every file the page loads, read once: path -> (bytes, media type, ETag). Served from memory,
    so a page load costs no file system call (the package's files do not change while it runs)."""
    files = {}
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file() and path.suffix in MEDIA_TYPES:
            data = path.read_bytes()
            files[path.relative_to(STATIC_DIR).as_posix()] = (data, MEDIA_TYPES[path.suffix], _etag(data))
    return files


STATIC_FILES = _load_static()
BUILD = hashlib.sha256("".join(e for _, _, e in STATIC_FILES.values()).encode()).hexdigest()[:12]
STATIC_PREFIX = f"/dashboard/static/{BUILD}/"
IMMUTABLE = "public, max-age=31536000, immutable"


def module_tags(files: dict[str, tuple[bytes, str, str]]) -> str:
    """A modulepreload link for every module of the page, then the entry module's script."""
    modules = sorted(p for p in files if p.startswith("js/") and p.endswith(".js") and p != ENTRY)
    links = [f'<link rel="modulepreload" href="{STATIC_PREFIX}{p}">' for p in modules]
    return "\n".join([*links, f'<script type="module" src="{STATIC_PREFIX}{ENTRY}"></script>'])


MODULE_TAGS = module_tags(STATIC_FILES)


def _page(name: str) -> str:
    text = STATIC_FILES[name][0].decode().replace("{{version}}", __version__)
    return text.replace("{{static}}", STATIC_PREFIX)


async def static_file(request: Request) -> Response:
    """A file of the page (scripts, style sheet): cached for good under this build's prefix, else
    revalidated by ETag"""
    path = request.path_params["path"]
    build, _, rest = path.partition("/")
    versioned = build == BUILD and rest in STATIC_FILES
    found = STATIC_FILES.get(rest if versioned else path)
    if found is None and rest and len(build) == len(BUILD):  # an older build's URL: today's file
        found = STATIC_FILES.get(rest)
    if found is None:
        return Response("not found", status_code=404, media_type="text/plain")
    data, media_type, etag = found
    cache = IMMUTABLE if versioned else "no-cache"
    headers = {"ETag": etag, "Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media_type, headers=headers)


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def login_page(error: str = "", status: int = 200) -> HTMLResponse:
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return _html(_page("login.html").replace("{{error}}", message), status)


def _warm(request: Request) -> None:
    settings = request.app.state.runtime.settings
    note_visit(settings.run_dir)
    warm_default_view(settings.data_dir, settings.timezone)


def available_apis(request: Request) -> dict[str, bool]:
    """The optional APIs this server runs (the page never probes a missing route)."""
    runtime = request.app.state.runtime
    return {
        "live": runtime.live is not None,
        "experiments": runtime.experiments is not None,
        "audiences": runtime.audiences is not None,
    }


async def experiment_results(request: Request) -> Response:
    """What GET /api/v1/experiments/{key}/results answers with its default options, cached for the page"""
    require_admin(request)
    runtime = request.app.state.runtime
    service = runtime.experiments
    if service is None:
        raise HttpError(503, "unavailable", "the experiments service is not running in this server")
    key = request.path_params["key"]
    cache = caches_for(runtime.settings.data_dir, runtime.settings.timezone).results
    try:
        body = await asyncio.to_thread(cache.results, service.catalog, key)
    except LakeError as exc:
        raise HttpError(500, "lake_error", str(exc)) from None
    if body is None:
        raise HttpError(404, "unknown_experiment", f"no experiment with key {key!r}")
    return JSONResponse(body)


async def dashboard(request: Request) -> Response:
    """The dashboard page (redirects to the login form without a session)"""
    _warm(request)
    who = principal(request)
    if who is None or who.via != "session":
        return RedirectResponse("/dashboard/login", status_code=303)
    tz_name: str = request.app.state.runtime.settings.timezone
    apis = available_apis(request)
    values = {
        "modules": MODULE_TAGS,
        "csrf": escape(who.csrf),
        "user": escape(f"{who.email} ({who.role})"),
        "timezone": escape(tz_name),
        "today": datetime.now(ZoneInfo(tz_name)).date().isoformat(),
        "apis": " ".join(name for name, present in apis.items() if present),
        "events": "1" if await asyncio.to_thread(has_events, request.app.state.runtime.settings) else "0",
        "funnel_steps": escape(",".join(FUNNEL_STEPS)),
        "funnel_window": str(FUNNEL_WINDOW_DAYS),
        "preference_trait": escape(PREFERENCE_TRAIT),
    }
    page = _page("index.html")
    for name, value in values.items():
        page = page.replace("{{" + name + "}}", value)
    return _html(page)


def _signed_in(request: Request, user_id: str) -> Response:
    """Start a session for the user: a random id in the cookie (Secure, HttpOnly, SameSite=Strict)."""
    session, _ = request.app.state.runtime.accounts.create_session(user_id, COOKIE_SECONDS)
    response = RedirectResponse("/dashboard/", status_code=303)
    response.set_cookie(
        COOKIE, session, max_age=COOKIE_SECONDS, path="/", secure=True, httponly=True, samesite="strict"
    )
    return response


def _throttle(request: Request) -> tuple[SignInThrottle, str]:
    runtime = request.app.state.runtime
    throttle = getattr(request.app.state, "signin", None)
    if throttle is None:
        throttle = request.app.state.signin = SignInThrottle.of(runtime.settings)
    client = request.client
    peer = client[0] if client else None
    address = runtime.collector.ips.resolve(peer, request.headers.get("x-forwarded-for")) or ""
    return throttle, address


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HttpError(413, "body_too_large", f"the form is over {MAX_FORM_BYTES} bytes")
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


async def login(request: Request) -> Response:
    """The sign-in form (GET), and signing in with an email and password or the admin token (POST)"""
    if request.method == "GET":
        _warm(request)  # the default view's metrics are computed while the password is typed
        return login_page()
    if not same_origin(request):
        return login_page("This form must be sent from the dashboard's own page.", 403)
    throttle, address = _throttle(request)
    wait = throttle.retry_after(address)
    if wait > 0:
        seconds = math.ceil(wait)
        page = login_page(f"Too many failed sign-ins from your address: try again in {seconds} s.", 429)
        page.headers["Retry-After"] = str(seconds)
        return page
    form = await _form(request)
    runtime = request.app.state.runtime
    token = form.get("token", "").strip()
    if token:
        if runtime.admin_token.matches(token):
            throttle.succeeded(address)
            return _signed_in(request, ADMIN_TOKEN_USER)
        throttle.failed(address)
        return login_page("Wrong admin token.", 401)
    email, password = form.get("email", "").strip().lower(), form.get("password", "")
    user = runtime.accounts.user(email) if email and "@" in email else None
    ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        throttle.failed(address)
        return login_page("Wrong email or password.", 401)
    throttle.succeeded(address)
    return _signed_in(request, user.id)


async def logout(request: Request) -> Response:
    """Sign out (ends the session)"""
    if not same_origin(request):
        return login_page("This form must be sent from the dashboard's own page.", 403)
    session = request.cookies.get(COOKIE, "")
    if session:
        request.app.state.runtime.accounts.end_session(session)
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


def _invite_page(request: Request, invitation: str, error: str = "", status: int = 200) -> HTMLResponse:
    user = request.app.state.runtime.accounts.invitation(invitation) if invitation else None
    if user is None:
        return login_page("This invitation is unknown, used or expired: ask for a new one.", 404)
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    page = _page("invite.html").replace("{{error}}", message)
    for name, value in {"email": user.email, "role": user.role, "invitation": invitation}.items():
        page = page.replace("{{" + name + "}}", escape(value))
    return _html(page, status)


async def invite(request: Request) -> Response:
    """Accepting an invitation: the form that sets the password (GET), and setting it (POST)"""
    if request.method == "GET":
        return _invite_page(request, request.query_params.get("invitation", ""))
    if not same_origin(request):
        return login_page("This form must be sent from the dashboard's own page.", 403)
    form = await _form(request)
    invitation, password = form.get("invitation", ""), form.get("password", "")
    if password != form.get("confirm", ""):
        return _invite_page(request, invitation, "The two passwords differ.", 400)
    try:
        hashed = await asyncio.to_thread(hash_password, password)
        user = request.app.state.runtime.accounts.accept(invitation, hashed)
    except PasswordPolicyError as exc:
        return _invite_page(request, invitation, str(exc).capitalize() + ".", 400)
    except AccountError as exc:
        return login_page(str(exc).capitalize() + ".", 404)
    request.app.state.runtime.accounts.record(user.email, "user.accept_invitation", user.email)
    return _signed_in(request, user.id)


async def to_dashboard(request: Request) -> Response:
    """Redirects to /dashboard/"""
    return RedirectResponse("/dashboard/", status_code=307)
