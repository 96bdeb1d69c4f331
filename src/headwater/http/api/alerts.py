"""Alerts (docs/dashboard.md, "Alerts"): ``/api/v1/alerts`` CRUD on saved trend insights, each with its
last check (state ok, firing or error, and the value), ``POST /api/v1/alerts/{id}/check`` (check
now: the evaluation, the webhook sent when the state crossed) and ``GET .../{id}/events`` (the
history). An analyst's credential changes and checks them; a reader sees them, the webhook URL cut
to its host (a Slack webhook's path is its secret). ``ALERT_ROUTES`` are these routes' lines of
the route table (http/routes.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from headwater.alerts.checks import check_alert, check_target
from headwater.alerts.rules import EVERY_SECONDS, AlertError, AlertSpec, parse_alert, parse_condition
from headwater.http.api.insight_paths import decode_body
from headwater.http.api.saved_insights import path_id
from headwater.http.auth import note_audit, principal, require_admin
from headwater.http.endpoint import Param, Route
from headwater.http.errors import HttpError
from headwater.stores.sql.alerts import Alert, AlertCatalog
from headwater.stores.sql.saved import SavedCatalog, UnknownInsight

MAX_BODY_BYTES = 16 * 1024
MAX_EVENTS = 1000


class ConditionBody(msgspec.Struct, kw_only=True):
    """above / below a threshold, or a change of ``value`` percent from the period before"""

    type: Literal["above", "below", "change"]
    value: float
    period: Literal["day", "week"] | msgspec.UnsetType = msgspec.UNSET
    direction: Literal["any", "up", "down"] | msgspec.UnsetType = msgspec.UNSET


class AlertBody(msgspec.Struct, kw_only=True):
    """An alert on a saved trend insight, sent to a webhook (Slack-compatible JSON)."""

    name: str
    insight: str
    condition: ConditionBody
    series: int | msgspec.UnsetType = msgspec.UNSET
    webhook_url: str
    every: Literal["hour", "day"] | msgspec.UnsetType = msgspec.UNSET


class AlertChange(msgspec.Struct, kw_only=True):
    """The fields of an alert to change (the others are kept)."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    insight: str | msgspec.UnsetType = msgspec.UNSET
    condition: ConditionBody | msgspec.UnsetType = msgspec.UNSET
    series: int | msgspec.UnsetType = msgspec.UNSET
    webhook_url: str | msgspec.UnsetType = msgspec.UNSET
    every: Literal["hour", "day"] | msgspec.UnsetType = msgspec.UNSET


def _catalog(request: Request) -> AlertCatalog:
    require_admin(request)
    return AlertCatalog(request.app.state.runtime.settings.effective_database_url)


def _no_alert(alert_id: str) -> HttpError:
    return HttpError(404, "not_found", f"no alert {alert_id!r} (GET /api/v1/alerts lists them)")


def _refused(exc: AlertError) -> HttpError:
    return HttpError(400, exc.code, exc.message)


def masked(url: str) -> str:
    """A webhook URL cut to its scheme and host."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/..."


def _shown(request: Request, alerts: AlertCatalog, found: list[Alert]) -> list[dict[str, Any]]:
    who = principal(request)
    hide = who is None or not who.may("audiences")
    names = {i.id: i.name for i in SavedCatalog(db=alerts.db).insights()}
    return [a.as_json(names.get(a.insight), masked(a.webhook_url) if hide else None) for a in found]


def _spec(stored: Alert) -> AlertSpec:
    condition = parse_condition(stored.condition)
    return AlertSpec(stored.name, stored.insight, condition, stored.series, stored.webhook_url, stored.every)


def _checked(alerts: AlertCatalog, body: Any, current: Alert | None = None) -> AlertSpec:
    """The alert a body defines, its insight a saved trend with that series; else a 400."""
    try:
        spec = parse_alert(body, _spec(current) if current is not None else None)
        check_target(spec, SavedCatalog(db=alerts.db).insight(spec.insight))
    except AlertError as exc:
        raise _refused(exc) from None
    return spec


def _unknown(exc: UnknownInsight) -> HttpError:
    return HttpError(400, "bad_field", f"field 'insight' is no saved insight: {exc.insight_id!r}")


async def list_alerts(request: Request) -> Response:
    """Every alert with its last check: state (ok, firing, error; null before the first), value"""
    insight = request.query_params.get("insight") or None
    with _catalog(request) as alerts:
        return JSONResponse({"alerts": _shown(request, alerts, alerts.alerts(insight))})


async def create_alert(request: Request) -> Response:
    """Create an alert on a saved trend insight (checked within a minute, then every hour or day)"""
    with _catalog(request) as alerts:
        spec = _checked(alerts, decode_body(await request.body()))
        try:
            stored = alerts.create(
                spec.name, spec.insight, spec.condition.as_json(), spec.series, spec.webhook_url, spec.every
            )
        except UnknownInsight as exc:
            raise _unknown(exc) from None
        shown = _shown(request, alerts, [stored])[0]
    note_audit(request, stored.id, name=stored.name, insight=stored.insight)
    return JSONResponse(shown, status_code=201)


async def get_alert(request: Request) -> Response:
    """One alert with its last check"""
    alert_id = path_id(request)
    with _catalog(request) as alerts:
        stored = alerts.alert(alert_id)
        if stored is None:
            raise _no_alert(alert_id)
        return JSONResponse(_shown(request, alerts, [stored])[0])


async def put_alert(request: Request) -> Response:
    """Change an alert: the fields given (the others are kept); it is checked again soon"""
    alert_id = path_id(request)
    with _catalog(request) as alerts:
        current = alerts.alert(alert_id)
        if current is None:
            raise _no_alert(alert_id)
        body = decode_body(await request.body())
        if isinstance(body, dict) and body.get("id", alert_id) != alert_id:
            raise HttpError(400, "bad_field", f"field 'id' must be {alert_id!r}, the id in the path")
        spec = _checked(alerts, body, current)
        try:
            stored = alerts.update(
                alert_id,
                spec.name,
                spec.insight,
                spec.condition.as_json(),
                spec.series,
                spec.webhook_url,
                spec.every,
            )
        except UnknownInsight as exc:
            raise _unknown(exc) from None
        if stored is None:
            raise _no_alert(alert_id)
        return JSONResponse(_shown(request, alerts, [stored])[0])


async def delete_alert(request: Request) -> Response:
    """Delete an alert and its history"""
    alert_id = path_id(request)
    with _catalog(request) as alerts:
        if not alerts.delete(alert_id):
            raise _no_alert(alert_id)
    return Response(status_code=204)


async def check_now(request: Request) -> Response:
    """Check an alert now: its evaluation (the webhook is sent when the state crossed)"""
    alert_id = path_id(request)
    settings = request.app.state.runtime.settings
    dry_run = request.query_params.get("dry_run", "false").lower()
    if dry_run not in ("true", "false", "1", "0"):
        raise HttpError(400, "bad_parameter", "parameter 'dry_run' must be true or false")
    with _catalog(request) as alerts:
        stored = alerts.alert(alert_id)
        if stored is None:
            raise _no_alert(alert_id)
        now = datetime.now(UTC)
        if dry_run in ("false", "0"):  # this check is the scheduled one: the next is an interval away
            alerts.reschedule(alert_id, now + timedelta(seconds=EVERY_SECONDS[stored.every]))
        found = await asyncio.to_thread(
            check_alert, settings, alerts, stored, now, dry_run=dry_run in ("true", "1")
        )
    return JSONResponse(found)


async def alert_events(request: Request) -> Response:
    """An alert's history, newest first: state changes and webhook deliveries (failed ones with errors)"""
    alert_id = path_id(request)
    text = request.query_params.get("limit", "100")
    if not text.isdigit() or not 1 <= int(text) <= MAX_EVENTS:
        raise HttpError(
            400, "bad_parameter", f"parameter 'limit' must be an integer from 1 to {MAX_EVENTS:,}"
        )
    with _catalog(request) as alerts:
        if alerts.alert(alert_id) is None:
            raise _no_alert(alert_id)
        found = alerts.events(alert_id, int(text))
    return JSONResponse({"alert": alert_id, "events": [e.as_json() for e in found]})


_ID = Param("id", "path", description="an alert's id")
ALERT_ROUTES: tuple[Route, ...] = (
    Route(
        "/api/v1/alerts",
        ("GET",),
        list_alerts,
        params=(Param("insight", "query", description="only the alerts on this saved insight"),),
        statuses=(),
    ),
    Route(
        "/api/v1/alerts",
        ("POST",),
        create_alert,
        writes="audiences",
        body=AlertBody,
        statuses=(201, 400, 408, 413),
        max_body=MAX_BODY_BYTES,
    ),
    Route("/api/v1/alerts/{id}", ("GET",), get_alert, params=(_ID,), statuses=(404,)),
    Route(
        "/api/v1/alerts/{id}",
        ("PUT",),
        put_alert,
        writes="audiences",
        params=(_ID,),
        body=AlertChange,
        statuses=(400, 404, 408, 413),
        max_body=MAX_BODY_BYTES,
    ),
    Route(
        "/api/v1/alerts/{id}",
        ("DELETE",),
        delete_alert,
        writes="audiences",
        params=(_ID,),
        statuses=(204, 404),
    ),
    Route(
        "/api/v1/alerts/{id}/check", ("POST",), check_now, writes="audiences", params=(_ID,), statuses=(404,)
    ),
    Route(
        "/api/v1/alerts/{id}/events",
        ("GET",),
        alert_events,
        params=(
            _ID,
            Param("limit", "query", {"type": "integer"}, "at most this many events (1 to 1,000; 100)"),
        ),
        statuses=(400, 404),
    ),
)
