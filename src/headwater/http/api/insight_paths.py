"""``POST /api/v1/insights/paths`` (a reader's credential, like the trend): the most common steps
after (or before) an event, the same JSON as ``headwater insights paths --json`` (docs/insights.md,
"Paths"). Every bad input is a 400 naming the field; ``PATH_ROUTES`` is this route's line of the
route table (http/routes.py)."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from headwater.events.normalize import json_too_deep
from headwater.http import json_body
from headwater.http.api.insights import answer_insight
from headwater.http.auth import require_admin
from headwater.http.endpoint import Route
from headwater.http.errors import HttpError
from headwater.insights.paths_request import PathsQuery

# headwater.insights.paths (the lake's query, DuckDB and pyarrow with it) is imported on first use:
# an HTTP worker that never answers an insight does not carry them.

MAX_BODY_BYTES = 256 * 1024  # 50 filters of 1,000 values each


def decode_body(raw: bytes) -> Any:
    """The body as plain JSON (paths_request.py checks it and names the field), or HttpError(400)."""
    try:
        value = msgspec.json.decode(raw)
    except RecursionError:
        raise json_body.too_deep() from None
    except msgspec.DecodeError as exc:
        raise HttpError(400, "invalid_json", f"the body is not JSON: {exc}") from None
    if json_too_deep(raw, value):
        raise json_body.too_deep()
    return value


async def paths(request: Request) -> Response:
    """Paths: the most common next (or previous) steps of the people who did an event"""
    require_admin(request)
    body = decode_body(await request.body())
    from headwater.insights.paths import run_paths

    return await answer_insight(request, run_paths, body)


PATH_ROUTES: tuple[Route, ...] = (
    Route(
        "/api/v1/insights/paths",
        ("POST",),
        paths,
        writes="read",  # a query sent as a POST body: a reader's credential is enough
        body=PathsQuery,
        statuses=(400, 408, 413, 500),
        max_body=MAX_BODY_BYTES,
    ),
)
