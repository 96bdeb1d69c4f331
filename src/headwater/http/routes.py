"""Every HTTP route of Headwater in one table: the app mounts it and /openapi.json is made from it.

A route says its path (OpenAPI syntax), methods, handler, who may call it, its query and path
parameters, the type of its JSON body (http/schemas.py) and the statuses it answers besides 200.
The hot paths (collection, OpenRTB enrichment) are plain ASGI callables dispatched ahead of the
framework (``hot``); the others are Starlette endpoints. A new endpoint is one line here.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from headwater.events.model import PATH_TYPES
from headwater.http import dashboard, enrich, ops, schemas
from headwater.http.account_routes import ACCOUNT_ROUTES, SOURCE_ROUTES
from headwater.http.api import assign, audiences, experiments, live, metrics, realtime
from headwater.http.api import dashboard as dashboard_api
from headwater.http.api.alerts import ALERT_ROUTES
from headwater.http.api.cohorts import COHORT_ROUTES
from headwater.http.api.dashboards import DASHBOARD_ROUTES
from headwater.http.api.export import export_events_route
from headwater.http.api.insight_paths import PATH_ROUTES
from headwater.http.api.insight_web import WEB_ROUTES
from headwater.http.api.saved_insights import SAVED_ROUTES
from headwater.http.collect import API_ROUTE, BATCH_ROUTES, SINGLE_ROUTES
from headwater.http.endpoint import Hot, Param, Route
from headwater.http.insight_routes import INSIGHT_ROUTES
from headwater.http.openapi import openapi_document
from headwater.http.people_routes import PEOPLE_ROUTES


def _q(name: str, description: str, **schema: Any) -> Param:
    return Param(name, "query", {"type": "string", **schema}, description)


DATE = {"type": "string", "format": "date"}
_DAY_RANGE = (
    Param("start", "query", DATE, "first local day (YYYY-MM-DD)", required=True),
    Param("end", "query", DATE, "last local day (YYYY-MM-DD)", required=True),
    _q("tz", "IANA time zone of the days (default: the project's)"),
)
_METRIC_OPTIONS = tuple(
    _q(name, text)
    for name, text in [
        ("trait", "preferences: the trait whose values are counted"),
        ("property", "preferences: the event property whose values are counted"),
        (
            "engine",
            "lake (default) or warehouse: the same metric computed in BigQuery (docs/warehouse-metrics.md)",
        ),
        ("period", "retention, lifecycle: day, week or month"),
        ("mode", "retention: on or on_or_after"),
        ("cohort", "retention: first or recurring"),
        ("in_cohort", "only the people of this saved cohort (GET /api/v1/cohorts; the lake engine)"),
        ("start_event", "retention: the event that starts a cohort"),
        ("return_event", "retention: the event that counts as a return"),
        ("steps", "funnel: comma-separated event names, in order"),
        ("window_days", "funnel: days from the first step"),
        ("breakdown", "funnel: a property to break the steps down by"),
    ]
)
_KEY = Param(
    "key", "path", {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$"}, "the experiment's key"
)
_AUDIENCE = Param(
    "audience_id",
    "path",
    {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"},
    "the audience's id",
)
_COLLECT_STATUSES = (400, 401, 403, 405, 408, 413, 415, 429, 503)  # 429: the rate limits, when set
_DEFINITION_BYTES = 256 * 1024  # an experiment's definition (conditions may list many ids)


def _collect(path: str, summary: str, body: Any) -> Route:
    return Route(
        path,
        ("POST",),
        None,
        "write_key",
        body=body,
        statuses=_COLLECT_STATUSES,
        summary=summary,
        hot="collect",
        content=("application/json", "text/plain"),
    )


async def openapi(request: Request) -> Response:
    """This document: every route of the table below"""
    return JSONResponse(openapi_document(ROUTES))


ROUTES: tuple[Route, ...] = (
    # -- operations --------------------------------------------------------------------------
    Route("/", ("GET",), ops.index, "none", statuses=(303,)),
    Route("/healthz", ("GET",), ops.healthz, "none", statuses=()),
    Route("/readyz", ("GET",), ops.readyz, "none", statuses=(503,)),
    Route("/metrics", ("GET",), ops.prometheus, "metrics", statuses=()),
    Route("/openapi.json", ("GET",), openapi, "none", statuses=()),
    # -- collection (Segment-compatible) -------------------------------------------------------
    *(_collect(path, "A batch of Segment messages", schemas.SegmentBatch) for path in BATCH_ROUTES),
    *(
        _collect(path, f"One {PATH_TYPES[path.rsplit('/', 1)[1]]} message", schemas.SegmentMessage)
        for path in SINGLE_ROUTES
    ),
    _collect(
        API_ROUTE,
        "One event object, or an array of them (snake_case accepted)",
        schemas.SegmentMessage | list[schemas.SegmentMessage],
    ),
    Route(
        "/v1/projects/{writeKey}/settings",
        ("GET",),
        None,
        "none",
        (Param("writeKey", "path", description="a source's write key"),),
        statuses=(404,),
        summary="The settings analytics.js fetches first",
        hot="collect",
    ),
    # -- experiments: assignment (write key) and administration ----------------------------------
    Route(
        "/v1/experiments/{key}/assignment",
        ("GET", "OPTIONS"),
        assign.assignment,
        "write_key",
        (
            _KEY,
            _q("userId", "the user's id (or anonymousId)"),
            _q("anonymousId", "the visitor's anonymous id"),
            Param(
                "attributes",
                "query",
                {"type": "object", "additionalProperties": {"type": "string"}},
                "the visitor's attributes for targeting: every other query parameter, name=value",
            ),
        ),
        statuses=(400, 401, 403, 404, 503),
    ),
    Route(
        "/v1/assign",
        ("POST", "OPTIONS"),
        assign.assign,
        "write_key",
        body=schemas.AssignRequest,
        statuses=(400, 401, 403, 408, 413, 503),
    ),
    Route(
        "/api/v1/experiments",
        ("GET", "POST"),
        experiments.collection,
        writes="experiments",
        body=schemas.ExperimentDefinition,
        statuses=(400, 408, 409, 413),
        max_body=_DEFINITION_BYTES,
    ),
    Route(
        "/api/v1/experiments/{key}",
        ("GET", "PUT", "PATCH"),
        experiments.item,
        writes="experiments",
        params=(_KEY,),
        body=schemas.ExperimentDefinition,
        statuses=(400, 404, 408, 413),
        max_body=_DEFINITION_BYTES,
    ),
    Route(
        "/api/v1/experiments/{key}/start",
        ("POST",),
        experiments.start,
        writes="experiments",
        params=(_KEY,),
        body=schemas.StartRequest,
        statuses=(400, 404, 408, 413),
    ),
    Route(
        "/api/v1/experiments/{key}/stop",
        ("POST",),
        experiments.stop,
        writes="experiments",
        params=(_KEY,),
        statuses=(404,),
    ),
    Route(
        "/api/v1/experiments/{key}/results",
        ("GET",),
        experiments.results,
        params=(
            _KEY,
            _q("alpha", "1 - confidence level (default 0.05)"),
            Param("sequential", "query", {"type": "boolean"}, "always-valid intervals too"),
            Param("correction", "query", {"enum": ["holm", "bh", "none"]}, "across metrics"),
        ),
        statuses=(400, 404, 500),
    ),
    # -- metrics, realtime and live ----------------------------------------------------------
    Route("/api/v1/metrics", ("GET",), metrics.list_metrics, statuses=()),
    Route(
        "/api/v1/metrics/{name}",
        ("GET",),
        metrics.get_metric,
        params=(
            Param("name", "path", description="a metric of GET /api/v1/metrics"),
            *_DAY_RANGE,
            *_METRIC_OPTIONS,
        ),
        statuses=(400, 404, 409, 500, 502, 503),
    ),
    Route(
        "/api/v1/export/events",
        ("GET",),
        export_events_route,
        params=(
            *_DAY_RANGE,
            Param("format", "query", {"enum": ["ndjson", "csv", "parquet"]}, "the default: ndjson"),
            _q("user", "only this person's events (a userId, or anon:<anonymousId>)", maxLength=2048),
            _q("event", "only this event (a track's name, or page, identify, ...)", maxLength=2048),
        ),
        statuses=(400, 500),
    ),
    Route("/api/v1/realtime/daily", ("GET",), realtime.daily, params=(Param("date", "query", DATE),)),
    Route(
        "/api/v1/realtime/sessions",
        ("GET",),
        realtime.sessions,
        params=(
            Param("active", "query", {"type": "boolean"}, "only sessions active now"),
            Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000}),
        ),
    ),
    Route(
        "/api/v1/live/active-users",
        ("GET",),
        live.active_users,
        params=(Param("window", "query", {"enum": ["5m", "1h", "24h"]}),),
        statuses=(400, 503),
    ),
    Route(
        "/api/v1/live/hourly",
        ("GET",),
        live.hourly,
        params=(_q("hour", "a UTC hour, YYYY-MM-DDTHH (default: this hour)"),),
        statuses=(400, 503),
    ),
    Route("/api/v1/live/today", ("GET",), live.today, statuses=(503,)),
    # -- audiences and OpenRTB ------------------------------------------------------------------
    Route("/api/v1/audiences", ("GET",), audiences.list_audiences, statuses=(503,)),
    Route(
        "/api/v1/audiences",
        ("POST",),
        audiences.create_audience,
        writes="audiences",
        body=schemas.AudienceDefinition,
        statuses=(400, 408, 409, 413),
        max_body=audiences.MAX_DEFINITION_BYTES,
    ),
    Route(
        "/api/v1/audiences/recompute",
        ("POST",),
        audiences.recompute,
        writes="audiences",
        params=(Param("dry_run", "query", {"type": "boolean"}, "report the drift, change nothing"),),
        statuses=(503,),
    ),
    Route(
        "/api/v1/audiences/{audience_id}",
        ("GET",),
        audiences.get_audience,
        params=(_AUDIENCE,),
        statuses=(404,),
    ),
    Route(
        "/api/v1/audiences/{audience_id}",
        ("PUT",),
        audiences.update_audience,
        writes="audiences",
        params=(_AUDIENCE,),
        body=schemas.AudienceDefinition,
        statuses=(201, 400, 408, 413),
        max_body=audiences.MAX_DEFINITION_BYTES,
    ),
    Route(
        "/api/v1/audiences/{audience_id}",
        ("DELETE",),
        audiences.delete_audience,
        writes="audiences",
        params=(_AUDIENCE,),
        statuses=(204, 404),
    ),
    Route(
        "/v1/users/{user_id}/segments",
        ("GET",),
        audiences.user_segments,
        params=(Param("user_id", "path", description="a user id or a mapped advertising id"),),
        statuses=(404, 503),
    ),
    Route(
        enrich.ENRICH_PATH,
        ("POST",),
        None,
        "enrich_key",
        body=schemas.BidRequest,
        statuses=(400, 401, 405, 408, 413, 503),
        summary="An OpenRTB 2.5 / 2.6 bid request, back with the user's audience segments",
        hot="enrich",
    ),
    # -- accounts (http/account_routes.py) --------------------------------------------------------
    *ACCOUNT_ROUTES,
    *SOURCE_ROUTES,
    *INSIGHT_ROUTES,
    *COHORT_ROUTES,
    *PATH_ROUTES,
    *WEB_ROUTES,
    *PEOPLE_ROUTES,
    *SAVED_ROUTES,
    *DASHBOARD_ROUTES,
    *ALERT_ROUTES,
    # -- the dashboard ---------------------------------------------------------------------------
    Route("/api/v1/dashboard/config", ("GET",), dashboard_api.config, statuses=()),
    Route("/api/v1/dashboard/health", ("GET",), dashboard_api.health, statuses=()),
    Route(
        "/api/v1/dashboard/metrics",
        ("POST",),
        dashboard_api.metrics,
        writes="read",  # a batch of metric queries: reads, sent as a POST body
        body=schemas.MetricQueries,
        statuses=(400, 408, 413, 500),
        max_body=dashboard_api.MAX_BODY_BYTES,
    ),
    Route("/dashboard", ("GET",), dashboard.to_dashboard, "none", statuses=(307,)),
    Route("/dashboard/", ("GET",), dashboard.dashboard, "admin_cookie", statuses=(303,)),
    Route(
        "/dashboard/login",
        ("GET", "POST"),
        dashboard.login,
        "none",
        body=schemas.LoginForm,
        statuses=(303, 401, 403, 408, 413, 429),
        max_body=dashboard.MAX_FORM_BYTES,  # a token: 4 KiB, refused before more is read
        content=("application/x-www-form-urlencoded",),
    ),
    Route("/dashboard/logout", ("POST",), dashboard.logout, "none", statuses=(303, 403)),
    Route(
        "/dashboard/static/{path}",
        ("GET",),
        dashboard.static_file,
        "none",
        (Param("path", "path", description="a file of the page"),),
        statuses=(304, 404),
        mount_path="/dashboard/static/{path:path}",
    ),
    Route(
        "/dashboard/data/experiments/{key}/results",
        ("GET",),
        dashboard.experiment_results,
        params=(_KEY,),
        statuses=(404, 500, 503),
    ),
)


def hot_paths(kind: Hot) -> frozenset[str]:
    """The exact paths of one hot route kind (the collector also matches /v1/projects/*/settings)."""
    return frozenset(r.path for r in ROUTES if r.hot == kind and "{" not in r.path)
