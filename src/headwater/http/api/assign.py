"""Assignment for SDKs and browsers, authenticated by a source's write key, with CORS.

GET  /v1/experiments/{key}/assignment?userId=|anonymousId=[&attr=value...]   one experiment
POST /v1/assign  {"userId", "anonymousId", "attributes": {...}}               every running experiment

The answer has GrowthBook's result fields. An unknown experiment is 404, and so is a draft (a write
key ships in web pages: nothing of a draft is shown to it); a stopped one answers the control with
``inExperiment: false`` and logs nothing. Each assignment served logs one `Experiment
Viewed` event per user and phase, durable in the event log before the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from headwater.collector.keys import key_from_headers
from headwater.events.normalize import RequestInfo
from headwater.experiments.live_sticky import StickyRestoring
from headwater.experiments.model import Status
from headwater.experiments.service import ExperimentsService
from headwater.experiments.serving import ExposureSink, Visitor
from headwater.http import json_body
from headwater.http.errors import HttpError
from headwater.log.writer import BackpressureError, LogWriteError
from headwater.stores.live.ports import LiveUnavailableError

MAX_ID_CHARS = 1000
_RESERVED = {"userId", "anonymousId", "writeKey"}
_encode = msgspec.json.Encoder().encode
_CORS_CACHE_MAX = 256
_cors_cache: dict[tuple[int, str | None], dict[str, str]] = {}


def _cors(request: Request) -> dict[str, str]:
    """The CORS headers for the request's origin, built once per origin (and CORS policy)."""
    origin = request.headers.get("origin")
    cors = request.app.state.runtime.collector.cors
    key = (id(cors), origin)
    found = _cors_cache.get(key)
    if found is None:
        allowed = origin if origin and cors.allows(origin) else None
        found = {k.decode(): v.decode() for k, v in cors.headers(allowed)}
        if len(_cors_cache) >= _CORS_CACHE_MAX:
            _cors_cache.clear()
        _cors_cache[key] = found
    return dict(found)


def _preflight(request: Request) -> Response:
    cors = request.app.state.runtime.collector.cors
    origin = request.headers.get("origin")
    if not origin or not cors.allows(origin):
        raise HttpError(403, "origin_not_allowed", f"origin {origin!r} is not allowed")
    headers = cors.preflight_headers(origin, request.headers.get("access-control-request-headers"))
    return Response(status_code=204, headers={k.decode(): v.decode() for k, v in headers})


async def _source(request: Request, body_key: Any = None) -> Any:
    runtime = request.app.state.runtime
    key = key_from_headers(request.headers.get("authorization"), request.headers.get("x-write-key"))
    if key is None and isinstance(body_key, str) and body_key:
        key = body_key
    if key is None:
        raise HttpError(401, "missing_write_key", "no write key: send it as HTTP Basic user or X-Write-Key")
    found = await runtime.keys.lookup(key)
    if found is None:
        if runtime.keys.is_revoked(key):
            raise HttpError(401, "revoked_write_key", "this write key has been revoked: create a new one")
        raise HttpError(
            401, "unknown_write_key", "unknown write key: create one with `headwater keys create NAME`"
        )
    origin = request.headers.get("origin")
    if origin and found.allowed_origins and not runtime.collector.cors.allows(origin, found.allowed_origins):
        raise HttpError(403, "origin_not_allowed", f"origin {origin!r} may not use source {found.name!r}")
    return found


def _service(request: Request) -> ExperimentsService:
    found: ExperimentsService | None = request.app.state.runtime.experiments
    if found is None:
        raise HttpError(503, "experiments_unavailable", "experiments are not running in this server")
    return found


def _id(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise HttpError(400, "invalid_parameter", f"{name!r} must be a string")
    value = value.strip()
    if len(value) > MAX_ID_CHARS:
        raise HttpError(400, "invalid_parameter", f"{name!r} is longer than {MAX_ID_CHARS} characters")
    return value or None


def visitor_of(user_id: Any, anonymous_id: Any, attributes: Mapping[str, Any]) -> Visitor:
    visitor = Visitor(_id(user_id, "userId"), _id(anonymous_id, "anonymousId"), attributes)
    if visitor.user_id is None and visitor.anonymous_id is None:
        raise HttpError(400, "missing_user_id", "'userId' or 'anonymousId' is required and must not be empty")
    return visitor


def _sink(request: Request, source: Any) -> ExposureSink:
    runtime = request.app.state.runtime

    async def sink(events: list[dict[str, Any]]) -> None:
        client = request.client
        req = RequestInfo(
            received_at=datetime.now(UTC),
            source=source.name,
            ip=runtime.collector.ips.resolve(
                client.host if client else None, request.headers.get("x-forwarded-for")
            ),
            user_agent=request.headers.get("user-agent"),
        )
        try:
            result = await runtime.collector.ingestor.ingest(events, req)
        except BackpressureError as exc:
            raise HttpError(503, "overloaded", str(exc)) from None
        except LogWriteError as exc:
            raise HttpError(503, "log_unavailable", f"{exc}; retry later") from None
        if result.rejected:
            rej = result.rejected[0]
            raise HttpError(400, "invalid_user", f"the exposure event was refused: {rej.error}")

    return sink


async def _serve(request: Request, handler: Any) -> Response:
    cors = _cors(request)
    try:
        if request.method == "OPTIONS":
            return _preflight(request)
        body = await handler(request)
    except HttpError as exc:
        return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, exc.status, headers=cors)
    except StickyRestoring as exc:
        message = f"{exc}: nobody is assigned afresh before the assignments made so far are back; retry"
        return JSONResponse(
            {"error": {"code": "assignments_restoring", "message": message}},
            503,
            headers={**cors, "Retry-After": "1"},
        )
    except LiveUnavailableError as exc:
        message = f"{exc}; assignments need the sticky-bucket store, retry later"
        return JSONResponse(
            {"error": {"code": "live_store_unavailable", "message": message}}, 503, headers=cors
        )
    return Response(_encode(body), media_type="application/json", headers=cors)


async def _one(request: Request) -> dict[str, Any]:
    source = await _source(request)
    svc = _service(request)
    key = request.path_params["key"]
    exp = svc.definitions.get(key)
    if exp is None or exp.status is Status.DRAFT:
        raise HttpError(404, "unknown_experiment", f"no experiment with key {key!r}")
    q = request.query_params
    attributes = {k: v for k, v in q.items() if k not in _RESERVED}
    visitor = visitor_of(q.get("userId"), q.get("anonymousId"), attributes)
    served = await svc.assign([exp], visitor, _sink(request, source))
    return served[0].to_json()


async def _all(request: Request) -> dict[str, Any]:
    # a key sent in a header is checked before any byte of the body is read (the body is read
    # within the route's limit and deadline: http/app.py)
    headers = request.headers
    header_key = key_from_headers(headers.get("authorization"), headers.get("x-write-key"))
    checked = await _source(request) if header_key is not None else None
    raw = await request.body()
    try:
        body = json_body.loads(raw) if raw else {}
    except ValueError:
        raise HttpError(400, "invalid_json", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise HttpError(400, "invalid_body", "the body must be an object with userId or anonymousId")
    source = checked or await _source(request, body.get("writeKey"))
    attributes = body.get("attributes", {})
    if not isinstance(attributes, dict):
        raise HttpError(400, "invalid_parameter", "'attributes' must be an object")
    visitor = visitor_of(body.get("userId"), body.get("anonymousId"), attributes)
    svc = _service(request)
    served = await svc.assign(svc.running(), visitor, _sink(request, source))
    return {
        "userId": visitor.user_id,
        "anonymousId": visitor.anonymous_id,
        "assignments": [s.to_json() for s in served],
    }


async def assignment(request: Request) -> Response:
    """One experiment's variation for a user (GrowthBook's result fields); logs the exposure"""
    return await _serve(request, _one)


async def assign(request: Request) -> Response:
    """Every running experiment's variation for a user; logs each exposure"""
    return await _serve(request, _all)
