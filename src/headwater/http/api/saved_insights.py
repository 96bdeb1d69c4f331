"""Saved insights (docs/dashboard.md, "Saved insights, dashboards, alerts"): ``/api/v1/insights/saved``
CRUD (an analyst's credential to change, any reader's to read) and ``GET .../{id}/result``, which
runs one now and answers the same JSON as its endpoint. A query is checked by its endpoint's own
parser: a bad one is a 400 naming the field under ``query``. ``SAVED_ROUTES`` are these routes'
lines of the route table (http/routes.py)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from headwater.http.api.insight_paths import decode_body
from headwater.http.api.insights import answer_insight
from headwater.http.auth import note_audit, require_admin
from headwater.http.endpoint import Param, Route
from headwater.http.errors import HttpError
from headwater.insights.saved import InsightSpec, parse_insight, run_saved, with_range
from headwater.lake.params import MetricError, parse_date
from headwater.stores.sql.alerts import AlertCatalog
from headwater.stores.sql.saved import SavedCatalog, SavedInsight

# headwater.insights.trend, paths, web and the metrics (DuckDB, pyarrow, numpy with them) are
# imported by run_saved when an insight is first run: an HTTP worker that never runs one does not
# carry them.

MAX_BODY_BYTES = 256 * 1024  # a query as large as the insight endpoints take, and its name
Kind = Literal["trend", "paths", "web", "funnel", "retention"]


class SavedInsightBody(msgspec.Struct, kw_only=True):
    """A saved insight: a name, a kind and the body its endpoint takes (docs/dashboard.md)."""

    name: str
    kind: Kind
    query: dict[str, Any]
    description: str | msgspec.UnsetType = msgspec.UNSET


class SavedInsightChange(msgspec.Struct, kw_only=True):
    """The fields of a saved insight to change (the others are kept)."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    kind: Kind | msgspec.UnsetType = msgspec.UNSET
    query: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET


def catalog(request: Request) -> SavedCatalog:
    require_admin(request)
    return SavedCatalog(request.app.state.runtime.settings.effective_database_url)


def refused(exc: MetricError) -> HttpError:
    return HttpError(exc.status, exc.code, exc.message)


def path_id(request: Request) -> str:
    """The path's id (one with a NUL character, which no id holds and PostgreSQL cannot take, is
    no object's: 404)."""
    found = str(request.path_params["id"])
    if "\x00" in found:
        raise HttpError(404, "not_found", f"no object has the id {found!r}")
    return found


def no_insight(insight_id: str) -> HttpError:
    return HttpError(
        404, "not_found", f"no saved insight {insight_id!r} (GET /api/v1/insights/saved lists them)"
    )


def _spec(stored: SavedInsight) -> InsightSpec:
    return InsightSpec(stored.name, stored.kind, stored.query, stored.description)


async def list_saved(request: Request) -> Response:
    """Every saved insight, oldest first"""
    with catalog(request) as saved:
        found = saved.insights()
    return JSONResponse({"insights": [i.as_json() for i in found]})


async def create_saved(request: Request) -> Response:
    """Save an insight: its name, kind and query (checked as its endpoint checks it)"""
    tz = request.app.state.runtime.settings.timezone
    with catalog(request) as saved:
        body = decode_body(await request.body())
        try:
            spec = parse_insight(body, tz)
        except MetricError as exc:
            raise refused(exc) from None
        stored = saved.create_insight(spec.name, spec.kind, spec.query, spec.description)
    note_audit(request, stored.id, name=stored.name, kind=stored.kind)
    return JSONResponse(stored.as_json(), status_code=201)


async def get_saved(request: Request) -> Response:
    """One saved insight"""
    insight_id = path_id(request)
    with catalog(request) as saved:
        stored = saved.insight(insight_id)
    if stored is None:
        raise no_insight(insight_id)
    return JSONResponse(stored.as_json())


async def put_saved(request: Request) -> Response:
    """Change a saved insight: the fields given (the others are kept)"""
    insight_id = path_id(request)
    tz = request.app.state.runtime.settings.timezone
    with catalog(request) as saved:
        current = saved.insight(insight_id)
        if current is None:
            raise no_insight(insight_id)
        body = decode_body(await request.body())
        if isinstance(body, dict) and body.get("id", insight_id) != insight_id:
            raise HttpError(400, "bad_field", f"field 'id' must be {insight_id!r}, the id in the path")
        try:
            spec = parse_insight(body, tz, _spec(current))
        except MetricError as exc:
            raise refused(exc) from None
        if spec.kind != "trend":
            watching = AlertCatalog(db=saved.db).alerts(insight_id)
            if watching:
                names = ", ".join(repr(a.id) for a in watching[:5])
                raise HttpError(
                    400,
                    "bad_field",
                    f"field 'kind' must stay 'trend': the alerts {names} watch this insight"
                    " (delete them first)",
                )
        stored = saved.update_insight(insight_id, spec.name, spec.kind, spec.query, spec.description)
    if stored is None:
        raise no_insight(insight_id)
    return JSONResponse(stored.as_json())


async def delete_saved(request: Request) -> Response:
    """Delete a saved insight, its dashboard tiles and its alerts (the answer counts them)"""
    insight_id = path_id(request)
    with catalog(request) as saved:
        removed = saved.delete_insight(insight_id)
    if removed is None:
        raise no_insight(insight_id)
    note_audit(request, insight_id, tiles=removed.tiles, alerts=list(removed.alerts))
    return JSONResponse(
        {
            "id": insight_id,
            "deleted": True,
            "removed_tiles": removed.tiles,
            "dashboards": list(removed.dashboards),
            "removed_alerts": list(removed.alerts),
        }
    )


async def saved_result(request: Request) -> Response:
    """Run a saved insight now: the same JSON as its endpoint (start, end, tz: another range)"""
    insight_id = path_id(request)
    params = request.query_params
    overrides = {name: params.get(name) or None for name in ("start", "end", "tz")}
    try:
        for name in ("start", "end"):
            if overrides[name] is not None:
                parse_date(overrides[name], name)
    except MetricError as exc:
        raise refused(exc) from None
    with catalog(request) as saved:
        stored = saved.insight(insight_id)
    if stored is None:
        raise no_insight(insight_id)
    query = with_range(stored.query, overrides["start"], overrides["end"], overrides["tz"])
    kind = stored.kind

    def run(data_dir: Any, project_tz: str, body: Any, cohorts: Any) -> dict[str, Any]:
        from headwater.dashboard.caches import caches_for  # duckdb: in the worker thread, on first use

        answers = caches_for(data_dir, project_tz).insights  # the tiles ask again and again: cached
        return answers.answer(kind, body, lambda: run_saved(data_dir, project_tz, kind, body, cohorts))

    return await answer_insight(request, run, query)


_ID = Param("id", "path", description="a saved insight's id")
_DATE = {"type": "string", "format": "date"}
SAVED_ROUTES: tuple[Route, ...] = (
    Route("/api/v1/insights/saved", ("GET",), list_saved, statuses=()),
    Route(
        "/api/v1/insights/saved",
        ("POST",),
        create_saved,
        writes="audiences",  # an analyst's, as cohorts
        body=SavedInsightBody,
        statuses=(201, 400, 408, 413),
        max_body=MAX_BODY_BYTES,
    ),
    Route("/api/v1/insights/saved/{id}", ("GET",), get_saved, params=(_ID,), statuses=(404,)),
    Route(
        "/api/v1/insights/saved/{id}",
        ("PUT",),
        put_saved,
        writes="audiences",
        params=(_ID,),
        body=SavedInsightChange,
        statuses=(400, 404, 408, 413),
        max_body=MAX_BODY_BYTES,
    ),
    Route(
        "/api/v1/insights/saved/{id}",
        ("DELETE",),
        delete_saved,
        writes="audiences",
        params=(_ID,),
        statuses=(404,),
    ),
    Route(
        "/api/v1/insights/saved/{id}/result",
        ("GET",),
        saved_result,
        params=(
            _ID,
            Param("start", "query", _DATE, "another first day than the saved query's (YYYY-MM-DD)"),
            Param("end", "query", _DATE, "another last day than the saved query's (YYYY-MM-DD)"),
            Param("tz", "query", description="another IANA time zone than the saved query's"),
        ),
        statuses=(400, 404, 500),
    ),
)
