"""Cohorts (docs/insights.md, "Cohorts"): saved groups of people for the insights' filters and
breakdowns. ``/api/v1/cohorts`` CRUD (an analyst's credential), ``POST /api/v1/cohorts/{id}/compute``
and ``GET /api/v1/cohorts/{id}/members``. A bad definition is a 400 naming the field;
``COHORT_ROUTES`` are these routes' lines of the route table (http/routes.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from headwater.http import json_body
from headwater.http.auth import require_admin
from headwater.http.endpoint import Param, Route
from headwater.http.errors import HttpError
from headwater.insights.cohort_spec import CohortError, parse_cohort
from headwater.lake.layout import LakeError
from headwater.lake.params import MetricError
from headwater.stores.sql.cohorts import CohortCatalog, StoredCohort

# headwater.insights.cohorts (the lake's query, DuckDB and pyarrow with it) is imported on first use.

MAX_DEFINITION_BYTES = 8 * 1024 * 1024  # a static list of 100,000 ids
MAX_MEMBERS_PAGE = 10_000


class CohortDefinition(msgspec.Struct, kw_only=True):
    """A cohort: an audience rule evaluated per person, or a static list of ids (docs/insights.md)."""

    id: str
    name: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    rule: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    members: list[str] | msgspec.UnsetType = msgspec.UNSET


def _catalog(request: Request) -> CohortCatalog:
    require_admin(request)
    return CohortCatalog(request.app.state.runtime.settings.effective_database_url)


def _describe(stored: StoredCohort, members: dict[str, Any] | None) -> dict[str, Any]:
    definition = stored.definition
    kind = "static" if definition.get("members") is not None else "rule"
    out = {
        "id": stored.id,
        "name": definition.get("name", stored.id),
        "description": definition.get("description", ""),
        "kind": kind,
        "created_at": stored.created_at,
        "updated_at": stored.updated_at,
        "computed": members,
    }
    if kind == "rule":
        out["rule"] = definition["rule"]
    else:
        out["size"] = len(definition["members"])
    return out


def _computed(request: Request, cohort_id: str) -> dict[str, Any] | None:
    from headwater.insights.cohorts import stored_members

    kept = stored_members(request.app.state.runtime.settings.data_dir, cohort_id)
    return None if kept is None else kept.describe()


async def _definition(request: Request, path_id: str | None = None) -> dict[str, Any]:
    try:
        obj = json_body.loads(await request.body())
    except ValueError:
        raise HttpError(400, "invalid_json", "the body is not valid JSON") from None
    if isinstance(obj, dict) and path_id is not None and obj.setdefault("id", path_id) != path_id:
        raise HttpError(400, "bad_field", f"field 'id' must be {path_id!r}, the id in the path")
    try:
        parse_cohort(obj)
    except CohortError as exc:
        raise HttpError(400, "invalid_cohort", str(exc)) from None
    assert isinstance(obj, dict)
    return obj


async def list_cohorts(request: Request) -> Response:
    """Every cohort, with when its members were last computed"""
    with _catalog(request) as catalog:
        stored = catalog.list()
    return JSONResponse({"cohorts": [_describe(s, _computed(request, s.id)) for s in stored]})


async def create_cohort(request: Request) -> Response:
    """Create a cohort (409 when the id exists)"""
    with _catalog(request) as catalog:
        definition = await _definition(request)
        try:
            stored, _ = catalog.put(definition, create_only=True)
        except KeyError:
            raise HttpError(
                409, "exists", f"cohort {definition['id']!r} exists: PUT /api/v1/cohorts/{{id}}"
            ) from None
    return JSONResponse(_describe(stored, None), status_code=201)


def _cohort_id(request: Request) -> str:
    return str(request.path_params["cohort_id"])


async def get_cohort(request: Request) -> Response:
    """One cohort"""
    cohort_id = _cohort_id(request)
    with _catalog(request) as catalog:
        stored = catalog.get(cohort_id)
    if stored is None:
        raise HttpError(404, "not_found", f"no cohort {cohort_id!r} (GET /api/v1/cohorts lists them)")
    return JSONResponse(_describe(stored, _computed(request, cohort_id)))


async def put_cohort(request: Request) -> Response:
    """Create or replace a cohort (its members are computed again when next used)"""
    cohort_id = _cohort_id(request)
    with _catalog(request) as catalog:
        definition = await _definition(request, cohort_id)
        stored, created = catalog.put(definition)
    return JSONResponse(_describe(stored, None), status_code=201 if created else 200)


async def delete_cohort(request: Request) -> Response:
    """Delete a cohort and its computed members"""
    from headwater.insights.cohorts import cohorts_dir

    cohort_id = _cohort_id(request)
    with _catalog(request) as catalog:
        if not catalog.delete(cohort_id):
            raise HttpError(404, "not_found", f"no cohort {cohort_id!r}")
    (cohorts_dir(request.app.state.runtime.settings.data_dir) / f"{cohort_id}.parquet").unlink(
        missing_ok=True
    )
    return Response(status_code=204)


async def compute_cohort(request: Request) -> Response:
    """Compute a cohort's members now (they are otherwise computed when an insight needs them)"""
    from headwater.insights.cohorts import Cohorts, compute_members

    cohort_id = _cohort_id(request)
    settings = request.app.state.runtime.settings
    with _catalog(request) as catalog:
        try:
            cohort = Cohorts(settings.data_dir, settings.effective_database_url).definition(
                catalog, cohort_id, "the path's cohort id"
            )
        except MetricError as exc:
            raise HttpError(
                404 if exc.code == "unknown_cohort" else exc.status, exc.code, exc.message
            ) from None
    try:
        members = await asyncio.to_thread(compute_members, settings.data_dir, cohort)
    except LakeError as exc:
        raise HttpError(500, "lake_error", str(exc)) from None
    return JSONResponse({"id": cohort_id, **members.describe(), "seconds": round(members.seconds, 3)})


async def cohort_members(request: Request) -> Response:
    """A cohort's members (people as the insights name them), computed first when needed"""
    from headwater.insights.cohorts import Cohorts

    cohort_id = _cohort_id(request)
    limit_text = request.query_params.get("limit", "1000")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_MEMBERS_PAGE:
        raise HttpError(
            400, "bad_parameter", f"parameter 'limit' must be an integer from 1 to {MAX_MEMBERS_PAGE:,}"
        )
    settings = request.app.state.runtime.settings
    require_admin(request)
    try:
        found = await asyncio.to_thread(
            Cohorts(settings.data_dir, settings.effective_database_url).resolve,
            {cohort_id: "the path's cohort id"},
        )
    except MetricError as exc:
        raise HttpError(404 if exc.code == "unknown_cohort" else exc.status, exc.code, exc.message) from None
    except LakeError as exc:
        raise HttpError(500, "lake_error", str(exc)) from None
    members = found[cohort_id]
    import pyarrow.parquet as pq

    people = pq.read_table(members.path, columns=["person"]).column("person").to_pylist()
    limit = int(limit_text)
    return JSONResponse(
        {"id": cohort_id, **members.describe(), "people": people[:limit], "truncated": len(people) > limit}
    )


_ID = Param("cohort_id", "path", description="a cohort's id")
COHORT_ROUTES: tuple[Route, ...] = (
    Route("/api/v1/cohorts", ("GET",), list_cohorts),
    Route(
        "/api/v1/cohorts",
        ("POST",),
        create_cohort,
        writes="audiences",
        body=CohortDefinition,
        statuses=(201, 400, 408, 409, 413),
        max_body=MAX_DEFINITION_BYTES,
    ),
    Route("/api/v1/cohorts/{cohort_id}", ("GET",), get_cohort, params=(_ID,), statuses=(404,)),
    Route(
        "/api/v1/cohorts/{cohort_id}",
        ("PUT",),
        put_cohort,
        writes="audiences",
        params=(_ID,),
        body=CohortDefinition,
        statuses=(201, 400, 408, 413),
        max_body=MAX_DEFINITION_BYTES,
    ),
    Route(
        "/api/v1/cohorts/{cohort_id}",
        ("DELETE",),
        delete_cohort,
        writes="audiences",
        params=(_ID,),
        statuses=(204, 404),
    ),
    Route(
        "/api/v1/cohorts/{cohort_id}/compute",
        ("POST",),
        compute_cohort,
        writes="read",
        params=(_ID,),
        statuses=(404, 500),
    ),
    Route(
        "/api/v1/cohorts/{cohort_id}/members",
        ("GET",),
        cohort_members,
        params=(_ID, Param("limit", "query", {"type": "integer"}, "at most this many people (1 to 10,000)")),
        statuses=(400, 404, 500),
    ),
)
