"""``POST /api/v1/insights/web`` (a reader's credential, like the trends): web analytics over the
lake and today's log, the same JSON as ``headwater insights web --json`` (docs/insights.md, "Web
analytics"). Every bad input is a 400 naming the field. ``WEB_ROUTES`` is its line of the route
table (http/routes.py)."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from headwater.http import json_body
from headwater.http.api.insights import MAX_BODY_BYTES, answer_insight, field_error
from headwater.http.auth import require_admin
from headwater.http.endpoint import Route
from headwater.http.errors import HttpError
from headwater.insights.web_schema import WebQuery

# headwater.insights.web (the lake's query, DuckDB and pyarrow with it) is imported on first use:
# an HTTP worker that never answers an insight does not carry them.


def decode_web(raw: bytes) -> dict[str, Any]:
    """The body as the plain JSON web_request.py checks, or HttpError(400)."""
    try:
        query = msgspec.json.decode(raw, type=WebQuery)
    except RecursionError:
        raise json_body.too_deep() from None
    except msgspec.ValidationError as exc:
        error = field_error(exc)
        raise HttpError(
            error.status, error.code, error.message.replace("a trend query", "a web query")
        ) from None
    except msgspec.DecodeError as exc:
        raise HttpError(400, "invalid_json", f"the body is not JSON: {exc}") from None
    builtins: dict[str, Any] = msgspec.to_builtins(query)
    return builtins


async def web(request: Request) -> Response:
    """Web analytics: visitors, visits, pageviews, bounce rate, visit duration, top pages, sources"""
    require_admin(request)
    body = decode_web(await request.body())
    from headwater.insights.web import run_web

    return await answer_insight(request, run_web, body)


WEB_ROUTES: tuple[Route, ...] = (
    Route(
        "/api/v1/insights/web",
        ("POST",),
        web,
        writes="read",  # a query sent as a POST body: a reader's credential is enough
        body=WebQuery,
        statuses=(400, 408, 413, 500),
        max_body=MAX_BODY_BYTES,
    ),
)
