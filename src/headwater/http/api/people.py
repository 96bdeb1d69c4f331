"""People and events (admin token, or any account that may read): ``GET /api/v1/people?search=``,
``GET /api/v1/people/{id}`` (a profile), ``GET /api/v1/people/{id}/events`` (their timeline) and
``GET /api/v1/events/latest`` (the stream of the latest events). The JSON is headwater.people's,
which ``headwater people ...`` and ``headwater events latest --json`` print too.

Each answer is computed in a worker thread; DuckDB is loaded on the first one that reads the lake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from headwater.http.auth import require_admin
from headwater.http.errors import HttpError

T = TypeVar("T")
MAX_ID = 2048  # characters of an id, a trait's name or value, an event's name
MAX_CURSOR = 16384  # a cursor holds a message id (base64)


def _sources(request: Request) -> Any:
    from headwater.people.sources import Sources

    runtime = request.app.state.runtime
    settings = runtime.settings
    live = runtime.live.backend if runtime.live is not None else None
    note = None if live is not None else "the live store is not running in this server"
    return Sources(settings.data_dir, settings.effective_database_url, live, note)


def _text(
    request: Request, name: str, value: str | None, required: bool = False, longest: int = MAX_ID
) -> str | None:
    """A text parameter: at most ``longest`` characters, no NUL, valid unicode (400 naming it)."""
    where = "path parameter" if name in request.path_params else "query parameter"
    if value is None or (value == "" and name != "id"):
        if required:
            raise HttpError(400, "missing_parameter", f"{where} {name!r} is required")
        return None
    problem = None
    if len(value) > longest:
        problem = f"is longer than {longest} characters"
    elif "\x00" in value:
        problem = "holds a NUL character"
    else:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            problem = "is not valid UTF-8"
    if problem is not None:
        raise HttpError(400, "invalid_parameter", f"{where} {name!r} {problem}")
    return value


def _limit(request: Request, default: int, maximum: int) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= maximum:
        raise HttpError(
            400, "invalid_parameter", f"query parameter 'limit' must be a whole number 1..{maximum}"
        )
    return limit


async def _run(request: Request, work: Callable[[Any], T]) -> T:
    """``work(reading)`` in a worker thread; store failures as 500 / 503 answers."""
    from headwater.lake.layout import LakeError
    from headwater.lake.swapped import read_again
    from headwater.people.sources import Reading
    from headwater.stores.sql.ports import StoreUnavailableError

    sources = _sources(request)

    def once() -> T:
        with Reading(sources) as reading:
            return work(reading)

    def call() -> T:
        return read_again(once)  # a lake file swapped while read: again, over a fresh view

    try:
        return await asyncio.to_thread(call)
    except StoreUnavailableError as exc:
        raise HttpError(503, "unavailable", str(exc)) from None
    except LakeError as exc:
        raise HttpError(500, "lake_error", str(exc)) from None
    except Exception as exc:
        if type(exc).__module__.startswith(("duckdb", "_duckdb")):
            first = (str(exc).splitlines() or [""])[0][:300]
            raise HttpError(500, "lake_error", f"reading the lake failed: {first}") from None
        raise


def _not_found(asked: str) -> HttpError:
    return HttpError(
        404,
        "person_not_found",
        f"no person has the id {asked!r}: no event, identity or session holds it"
        " (GET /api/v1/people?search=TEXT finds ids by their start)",
    )


async def search(request: Request) -> Response:
    """People whose id starts with a text, or whose trait (trait=NAME) has that value"""
    from headwater.people.search import DEFAULT_LIMIT, MAX_LIMIT
    from headwater.people.search import search as find

    require_admin(request)
    params = request.query_params
    text = _text(request, "search", params.get("search"), required=True)
    trait = _text(request, "trait", params.get("trait"))
    limit = _limit(request, DEFAULT_LIMIT, MAX_LIMIT)
    assert text is not None
    body = await _run(request, lambda reading: find(reading, text, trait, limit))
    return JSONResponse(body)


async def person(request: Request) -> Response:
    """A person's profile: every merged id, traits, first and last seen, sessions, experiments, audiences"""
    from headwater.people.profile import profile

    require_admin(request)
    asked = _text(request, "id", request.path_params["id"], required=True) or ""
    body = await _run(request, lambda reading: profile(reading, asked))
    if body is None:
        raise _not_found(asked)
    return JSONResponse(body)


async def person_events(request: Request) -> Response:
    """A person's events, newest first, a page at a time (?limit=100&before=<the last page's next>)"""
    from headwater.people.person import resolve_person
    from headwater.people.profile import known
    from headwater.people.timeline import DEFAULT_LIMIT, MAX_LIMIT, CursorError, decode_cursor, timeline

    require_admin(request)
    params = request.query_params
    asked = _text(request, "id", request.path_params["id"], required=True) or ""
    limit = _limit(request, DEFAULT_LIMIT, MAX_LIMIT)
    event = _text(request, "event", params.get("event"))
    cursor = _text(request, "before", params.get("before"), longest=MAX_CURSOR)
    try:
        before = decode_cursor(cursor) if cursor else None
    except CursorError as exc:
        raise HttpError(400, "invalid_parameter", f"query parameter 'before': {exc}") from None

    def page(reading: Any) -> dict[str, Any] | None:
        found = resolve_person(reading, asked)
        body = timeline(reading, found, limit, before, event) if found.ids else None
        if body is not None and not body["events"] and not known(reading, found):
            return None  # nothing of the id anywhere
        return body

    body = await _run(request, page)
    if body is None:
        raise _not_found(asked)
    return JSONResponse(body)


async def latest_events(request: Request) -> Response:
    """The latest events received, newest first (for checking instrumentation)"""
    from headwater.people.latest import DEFAULT_LIMIT, MAX_LIMIT, Filters, latest

    require_admin(request)
    params = request.query_params
    limit = _limit(request, DEFAULT_LIMIT, MAX_LIMIT)
    filters = Filters(
        **{name: _text(request, name, params.get(name)) for name in ("event", "user", "type", "source")}
    )
    log_dir = request.app.state.runtime.settings.log_dir
    body = await asyncio.to_thread(latest, log_dir, limit, filters)
    return JSONResponse(body)
