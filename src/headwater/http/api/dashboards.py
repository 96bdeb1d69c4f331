"""Dashboards (docs/dashboard.md, "Saved insights, dashboards, alerts"): ``/api/v1/dashboards`` CRUD,
each a name and tiles that place saved insights on a grid (an analyst's credential to change, any
reader's to read). A tile naming no saved insight is a 400 naming ``tiles[i].insight``.
``DASHBOARD_ROUTES`` are these routes' lines of the route table (http/routes.py)."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from headwater.http.api.insight_paths import decode_body
from headwater.http.api.saved_insights import catalog, path_id, refused
from headwater.http.auth import note_audit
from headwater.http.endpoint import Param, Route
from headwater.http.errors import HttpError
from headwater.insights.saved import DashboardSpec, TileSpec, parse_dashboard
from headwater.lake.params import MetricError
from headwater.stores.sql.saved import Dashboard, UnknownInsight

MAX_BODY_BYTES = 64 * 1024  # 100 tiles


class TileBody(msgspec.Struct, kw_only=True):
    """A saved insight placed on the dashboard's grid (defaults: x 0, y below the tiles before, w 6, h 4)."""

    insight: str
    x: int | msgspec.UnsetType = msgspec.UNSET
    y: int | msgspec.UnsetType = msgspec.UNSET
    w: int | msgspec.UnsetType = msgspec.UNSET
    h: int | msgspec.UnsetType = msgspec.UNSET


class DashboardBody(msgspec.Struct, kw_only=True):
    """A dashboard: a name and its tiles."""

    name: str
    description: str | msgspec.UnsetType = msgspec.UNSET
    tiles: list[TileBody] | msgspec.UnsetType = msgspec.UNSET


class DashboardChange(msgspec.Struct, kw_only=True):
    """The fields of a dashboard to change (the others are kept; tiles are replaced as a whole)."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    tiles: list[TileBody] | msgspec.UnsetType = msgspec.UNSET


def _no_dashboard(dashboard_id: str) -> HttpError:
    return HttpError(404, "not_found", f"no dashboard {dashboard_id!r} (GET /api/v1/dashboards lists them)")


def _unknown(exc: UnknownInsight) -> HttpError:
    return HttpError(
        400,
        "unknown_insight",
        f"field 'tiles[{exc.index}].insight' names no saved insight: {exc.insight_id!r}"
        " (GET /api/v1/insights/saved lists them)",
    )


def _spec(stored: Dashboard) -> DashboardSpec:
    tiles = tuple(TileSpec(t.insight, t.x, t.y, t.w, t.h) for t in stored.tiles)
    return DashboardSpec(stored.name, stored.description, tiles)


def _parse(body: Any, current: Dashboard | None = None) -> DashboardSpec:
    try:
        return parse_dashboard(body, _spec(current) if current is not None else None)
    except MetricError as exc:
        raise refused(exc) from None


async def list_dashboards(request: Request) -> Response:
    """Every dashboard with its tiles, oldest first"""
    with catalog(request) as saved:
        found = saved.dashboards()
    return JSONResponse({"dashboards": [d.as_json() for d in found]})


async def create_dashboard(request: Request) -> Response:
    """Create a dashboard of saved insights"""
    with catalog(request) as saved:
        spec = _parse(decode_body(await request.body()))
        try:
            stored = saved.create_dashboard(spec.name, spec.description, spec.tiles)
        except UnknownInsight as exc:
            raise _unknown(exc) from None
    note_audit(request, stored.id, name=stored.name, tiles=len(stored.tiles))
    return JSONResponse(stored.as_json(), status_code=201)


async def get_dashboard(request: Request) -> Response:
    """One dashboard with its tiles"""
    dashboard_id = path_id(request)
    with catalog(request) as saved:
        stored = saved.dashboard(dashboard_id)
    if stored is None:
        raise _no_dashboard(dashboard_id)
    return JSONResponse(stored.as_json())


async def put_dashboard(request: Request) -> Response:
    """Change a dashboard: its name, description or tiles (the fields given)"""
    dashboard_id = path_id(request)
    with catalog(request) as saved:
        current = saved.dashboard(dashboard_id)
        if current is None:
            raise _no_dashboard(dashboard_id)
        body = decode_body(await request.body())
        if isinstance(body, dict) and body.get("id", dashboard_id) != dashboard_id:
            raise HttpError(400, "bad_field", f"field 'id' must be {dashboard_id!r}, the id in the path")
        spec = _parse(body, current)
        try:
            stored = saved.update_dashboard(dashboard_id, spec.name, spec.description, spec.tiles)
        except UnknownInsight as exc:
            raise _unknown(exc) from None
    if stored is None:
        raise _no_dashboard(dashboard_id)
    return JSONResponse(stored.as_json())


async def delete_dashboard(request: Request) -> Response:
    """Delete a dashboard (its insights are kept)"""
    dashboard_id = path_id(request)
    with catalog(request) as saved:
        if not saved.delete_dashboard(dashboard_id):
            raise _no_dashboard(dashboard_id)
    return Response(status_code=204)


_ID = Param("id", "path", description="a dashboard's id")
DASHBOARD_ROUTES: tuple[Route, ...] = (
    Route("/api/v1/dashboards", ("GET",), list_dashboards, statuses=()),
    Route(
        "/api/v1/dashboards",
        ("POST",),
        create_dashboard,
        writes="audiences",
        body=DashboardBody,
        statuses=(201, 400, 408, 413),
        max_body=MAX_BODY_BYTES,
    ),
    Route("/api/v1/dashboards/{id}", ("GET",), get_dashboard, params=(_ID,), statuses=(404,)),
    Route(
        "/api/v1/dashboards/{id}",
        ("PUT",),
        put_dashboard,
        writes="audiences",
        params=(_ID,),
        body=DashboardChange,
        statuses=(400, 404, 408, 413),
        max_body=MAX_BODY_BYTES,
    ),
    Route(
        "/api/v1/dashboards/{id}",
        ("DELETE",),
        delete_dashboard,
        writes="audiences",
        params=(_ID,),
        statuses=(204, 404),
    ),
)
