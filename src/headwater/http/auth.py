"""Who a request acts as, and whether it may: the admin token, API tokens, dashboard sessions.

Credentials, in the order they are looked at:

- ``Authorization: Bearer <admin token>``: the owner's bootstrap credential (HEADWATER_ADMIN_TOKEN or
  <data_dir>/admin_token); it works before any user exists;
- ``Authorization: Bearer hwt_...``: a user's API token, with the scopes it was given (within the
  user's role: accounts/roles.py);
- the dashboard's session cookie (``headwater_session``): a random id made at sign-in, never a
  token or a password, kept only as a hash. A state-changing request authenticated by the cookie
  must also come from the dashboard's own origin (``Origin``, when the browser sends one) and carry
  the session's CSRF token in ``X-CSRF-Token`` (the page has it; another site cannot read it).

The route table (http/routes.py) says what each route needs; :func:`authorize` checks it before the
handler runs (http/app.py), and an unauthenticated request never has its body read.
"""

from __future__ import annotations

import hmac
import time
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr
from starlette.requests import Request

from headwater.accounts.roles import (
    ADMIN_TOKEN_USER,
    Permission,
    Principal,
    admin_token_principal,
    permissions_of,
)
from headwater.http.errors import HttpError

#: the dashboard's session cookie (http/dashboard.py sets it at sign-in)
SESSION_COOKIE = "headwater_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SCOPE_KEY = "headwater.principal"
AUDIT_KEY = "headwater.audit"
_TOUCH_SECONDS = 300.0  # an API token's last_used_at is written at most this often per process
_touched: dict[str, float] = {}


def token_matches(given: str, token: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else ""


def _from_token(runtime: Any, given: str) -> Principal | None:
    if runtime.admin_token.matches(given):
        return admin_token_principal()
    if not given.startswith("hwt_") or runtime.accounts is None:
        return None
    found = runtime.accounts.token(given)
    if found is None:
        return None
    token, token_hash = found
    user = runtime.accounts.user(token.user_id)
    if user is None or not user.active:
        return None
    now = time.monotonic()
    if now - _touched.get(token_hash, -_TOUCH_SECONDS) >= _TOUCH_SECONDS:
        _touched[token_hash] = now
        runtime.accounts.touch_token(token_hash)
    return Principal(user.id, user.email, user.role, permissions_of(user.role, token.scopes), "api_token")


def _from_session(runtime: Any, session: str) -> Principal | None:
    if runtime.accounts is None:
        return None
    found = runtime.accounts.session(session)
    if found is None:
        return None
    user_id, csrf = found
    if user_id == ADMIN_TOKEN_USER:
        owner = admin_token_principal()
        return Principal(owner.user_id, owner.email, owner.role, owner.permissions, "session", csrf)
    user = runtime.accounts.user(user_id)
    if user is None or not user.active:
        return None
    return Principal(user.id, user.email, user.role, permissions_of(user.role), "session", csrf)


def principal(request: Request) -> Principal | None:
    """Who the request acts as (looked up once per request), or None."""
    scope = request.scope
    if _SCOPE_KEY in scope:
        found: Principal | None = scope[_SCOPE_KEY]
        return found
    runtime = request.app.state.runtime
    given = bearer(request)
    if given:
        who = _from_token(runtime, given)
    else:
        session = request.cookies.get(SESSION_COOKIE, "")
        who = _from_session(runtime, session) if session else None
    scope[_SCOPE_KEY] = who
    return who


def same_origin(request: Request) -> bool:
    """Whether the browser says the request comes from this server's own pages (no Origin: not a
    browser's cross-site request; "null" or another host: refused)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin != "null" and urlsplit(origin).netloc == request.headers.get("host", "")


def authorize(request: Request, permission: Permission) -> Principal:
    """The request's principal, when it may act with ``permission`` (401, 403 otherwise)."""
    who = principal(request)
    if who is None:
        raise HttpError(
            401,
            "unauthorized",
            "missing or wrong credential: send 'Authorization: Bearer <admin or API token>', or sign in"
            " at /dashboard/login",
        )
    if who.via == "session" and request.method not in SAFE_METHODS:
        if not same_origin(request):
            raise HttpError(403, "cross_origin", "this request must come from the dashboard's own pages")
        if not token_matches(request.headers.get(CSRF_HEADER, ""), who.csrf):
            raise HttpError(
                403, "csrf", "missing or wrong X-CSRF-Token header: reload the dashboard and try again"
            )
    if not who.may(permission):
        raise HttpError(
            403,
            "forbidden",
            f"{who.actor} (role {who.role}) may not do this: it needs the {permission!r} permission",
        )
    return who


def note_audit(request: Request, target: str, **detail: Any) -> None:
    """What the audit log records of the change this request makes (http/app.py writes it, when the
    answer is below 400); without a note the route's path parameters name the target."""
    request.scope[AUDIT_KEY] = (target, detail)


def audit_note(request: Request) -> tuple[str, dict[str, Any]]:
    noted: tuple[str, dict[str, Any]] | None = request.scope.get(AUDIT_KEY)
    if noted is not None:
        return noted
    return ", ".join(f"{k}={v}" for k, v in request.path_params.items()), {}


def require_admin(request: Request) -> Principal:
    """The request's principal: a credential that may read (the route's own permission was checked
    before the handler ran, by http/app.py)."""
    return authorize(request, "read")


def is_admin(request: Request) -> bool:
    """Whether the request carries a credential with every permission (the owner's or an admin's)."""
    who = principal(request)
    return who is not None and who.may("admin")


def may_read_metrics(request: Request) -> bool:
    """Whether the request may read /metrics: any principal with the ``metrics`` permission (an
    owner, admin, analyst or viewer, or an API token with that scope), or the metrics token (Bearer;
    the setting ``metrics_token``, for a Prometheus that needs no account)."""
    who = principal(request)
    if who is not None and who.may("metrics"):
        return True
    token = getattr(request.app.state.runtime.settings, "metrics_token", None)
    secret = token.get_secret_value() if isinstance(token, SecretStr) else token
    return isinstance(secret, str) and bool(secret) and token_matches(bearer(request), secret)
