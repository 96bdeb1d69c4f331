"""``POST /api/v1/insights/trend`` (a reader's credential, like the metrics): a trend over the lake
and today's log, the same JSON as ``headwater insights trend --json`` (docs/insights.md). Every bad
input is a 400 naming the field."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from headwater.http import json_body
from headwater.http.auth import require_admin
from headwater.http.errors import HttpError
from headwater.insights.schema import TrendQuery
from headwater.lake.layout import LakeError
from headwater.lake.params import MetricError

# headwater.insights.trend (the lake's query, DuckDB and pyarrow with it) is imported on first use:
# an HTTP worker that never answers an insight does not carry them.

MAX_BODY_BYTES = 256 * 1024  # 50 filters of 1,000 values each, and the series' own
_AT = re.compile(r"(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?", re.DOTALL)
_FIELD = re.compile(r"Object (?P<what>missing required|contains unknown) field `(?P<name>[^`]*)`")


def field_error(exc: msgspec.ValidationError) -> HttpError:
    """msgspec's refusal (``Expected `int`, got `str` - at `$.limit```) as a 400 naming the field."""
    found = _AT.fullmatch(str(exc))
    message, path = (found["message"], found["path"] or "") if found else (str(exc), "")
    path = path.lstrip(".")
    named = _FIELD.fullmatch(message)
    if named:
        field = f"{path}.{named['name']}" if path else named["name"]
        if named["what"] == "missing required":
            return HttpError(400, "missing_field", f"field {field!r} is required (see docs/insights.md)")
        return HttpError(400, "bad_field", f"field {field!r} is not a field of a trend query here")
    text = message[:1].lower() + message[1:]
    if not path:
        return HttpError(400, "bad_body", f"the body: {text}")
    return HttpError(400, "bad_field", f"field {path!r}: {text}")


def decode_trend(raw: bytes) -> dict[str, Any]:
    """The body as the plain JSON request.py checks, or HttpError(400)."""
    try:
        query = msgspec.json.decode(raw, type=TrendQuery)
    except RecursionError:
        raise json_body.too_deep() from None
    except msgspec.ValidationError as exc:
        raise field_error(exc) from None
    except msgspec.DecodeError as exc:
        raise HttpError(400, "invalid_json", f"the body is not JSON: {exc}") from None
    builtins: dict[str, Any] = msgspec.to_builtins(query)
    return builtins


async def answer_insight(request: Request, run: Callable[..., dict[str, Any]], body: Any) -> Response:
    """``run(data_dir, project_tz, body, cohorts)`` in a worker thread (trend, paths, web analytics):
    its JSON, a MetricError as the 4xx naming the field, an unreadable lake file as 500 lake_error."""
    from headwater.insights.cohorts import Cohorts

    settings = request.app.state.runtime.settings
    cohorts = Cohorts(settings.data_dir, settings.effective_database_url)
    try:
        found: dict[str, Any] = await asyncio.to_thread(
            run, settings.data_dir, settings.timezone, body, cohorts
        )
    except MetricError as exc:
        raise HttpError(exc.status, exc.code, exc.message) from None
    except LakeError as exc:
        raise HttpError(500, "lake_error", str(exc)) from None
    return JSONResponse(found)


async def trend(request: Request) -> Response:
    """A trend: events, users or a numeric property per interval, filtered, broken down, compared"""
    require_admin(request)
    body = decode_trend(await request.body())
    from headwater.insights.trend import run_trend

    return await answer_insight(request, run_trend, body)
