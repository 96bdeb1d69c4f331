"""An HTTP error answered to a client: status, stable code, message naming what to fix.

The collection endpoints answer it as ``{"success": false, "error": {...}}`` (Segment's clients read
``success``); every other route as ``{"error": {"code", "message"}}`` (:func:`error_response`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response


@dataclass(slots=True)
class HttpError(Exception):
    status: int
    code: str
    message: str
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HttpError)
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in exc.headers} or None
    return error_response(exc.status, exc.code, exc.message, headers)


async def not_found_handler(request: Request, exc: Exception) -> Response:
    """A path no route matches (an id no route's pattern takes, such as one with a newline): the same
    JSON error as every other API answer, never the framework's plain text. The dashboard's pages and
    files keep their plain-text 404 (what /openapi.json documents for them)."""
    path = request.url.path
    if path.startswith("/dashboard"):
        return PlainTextResponse("Not Found", status_code=404)
    return error_response(404, "not_found", f"no route answers {path!r}: GET /openapi.json lists them")
