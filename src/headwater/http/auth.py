"""Admin authentication: the Bearer token, or the dashboard's cookie."""

from __future__ import annotations

import hmac

from pydantic import SecretStr
from starlette.requests import Request

from headwater.http.errors import HttpError

#: the cookie the dashboard's login sets (http/dashboard.py)
ADMIN_COOKIE = "headwater_admin"


def token_matches(given: str, token: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def is_admin(request: Request) -> bool:
    """Whether the request carries the admin token (Bearer, or the dashboard cookie)."""
    token: str = request.app.state.runtime.admin_token
    header = request.headers.get("authorization", "")
    given = header[7:].strip() if header[:7].lower() == "bearer " else request.cookies.get(ADMIN_COOKIE, "")
    return token_matches(given, token)


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else ""


def may_read_metrics(request: Request) -> bool:
    """Whether the request may read /metrics: the admin token, or the metrics token (Bearer; the
    setting ``metrics_token``, for Prometheus, which then needs no admin rights)."""
    if is_admin(request):
        return True
    token = getattr(request.app.state.runtime.settings, "metrics_token", None)
    secret = token.get_secret_value() if isinstance(token, SecretStr) else token
    return isinstance(secret, str) and bool(secret) and token_matches(_bearer(request), secret)


def require_admin(request: Request) -> None:
    """Raise HttpError(401) unless the request carries the admin token (Bearer, or the dashboard cookie)."""
    if not is_admin(request):
        raise HttpError(
            401, "unauthorized", "missing or wrong admin token: send 'Authorization: Bearer <token>'"
        )
