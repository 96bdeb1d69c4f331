"""Admin authentication (Bearer token) and the API's error shape."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def require_admin(request: Request) -> None:
    """Raise ApiError(401) unless the request carries the admin token (Bearer, or the dashboard cookie)."""
    token: str = request.app.state.runtime.admin_token
    header = request.headers.get("authorization", "")
    given = (
        header[7:].strip() if header[:7].lower() == "bearer " else request.cookies.get("headwater_admin", "")
    )
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        raise ApiError(
            401, "unauthorized", "missing or wrong admin token: send 'Authorization: Bearer <token>'"
        )


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message)
