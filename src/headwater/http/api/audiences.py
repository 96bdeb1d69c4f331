"""Audience admin API (admin token): /api/v1/audiences CRUD, sizes, recompute; and
GET /v1/users/{id}/segments, which shows how an id resolves and what would be sent.

Errors are ``{"error": {"code", "message", "field"?}}``; a bad definition names the field.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from headwater.audiences.service import AudienceService
from headwater.http import json_body
from headwater.http.auth import require_admin
from headwater.http.errors import HttpError
from headwater.stores.live.ports import LiveUnavailableError
from headwater.stores.sql.audiences import StoredAudience
from headwater.targeting.audience_spec import parse_audience
from headwater.targeting.audiences import AudienceError, member_segments
from headwater.targeting.enrich import IdentityKey

MAX_DEFINITION_BYTES = 64 * 1024


def _service(request: Request) -> AudienceService:
    require_admin(request)
    found: AudienceService | None = request.app.state.runtime.audiences
    if found is None:
        raise HttpError(503, "unavailable", "the audience layer is not running in this server")
    return found


def _invalid(field: str, message: str) -> Response:
    return JSONResponse(
        {"error": {"code": "invalid_audience", "message": f"{field}: {message}", "field": field}},
        status_code=400,
    )


async def _definition(request: Request, path_id: str | None = None) -> dict[str, Any] | Response:
    body = await request.body()
    if len(body) > MAX_DEFINITION_BYTES:
        return _invalid("audience", f"is over {MAX_DEFINITION_BYTES} bytes")
    try:
        obj = json_body.loads(body)
    except ValueError:
        return _invalid("audience", "the body is not valid JSON")
    if isinstance(obj, dict) and path_id is not None and obj.setdefault("id", path_id) != path_id:
        return _invalid("id", f"must be {path_id!r}, the id in the path")
    try:
        parse_audience(obj)
    except AudienceError as exc:
        return _invalid(exc.field, str(exc).split(": ", 1)[-1])
    assert isinstance(obj, dict)
    return obj


def _json(stored: StoredAudience, size: int | None = None) -> dict[str, Any]:
    out = {**stored.definition, "created_at": stored.created_at, "updated_at": stored.updated_at}
    if size is not None:
        out["live_size"] = size
    return out


async def _live_size(service: AudienceService, audience_id: str) -> int | None:
    try:
        return await service.lookup_size(audience_id)
    except LiveUnavailableError:
        return None


async def list_audiences(request: Request) -> Response:
    """Every audience, with its live size"""
    service = _service(request)
    stored = service.catalog.list_audiences()
    return JSONResponse({"audiences": [_json(s, await _live_size(service, s.id)) for s in stored]})


async def create_audience(request: Request) -> Response:
    """Create an audience (409 when the id exists)"""
    service = _service(request)
    obj = await _definition(request)
    if isinstance(obj, Response):
        return obj
    try:
        stored, _ = service.catalog.put_audience(obj, create_only=True)
    except KeyError:
        raise HttpError(
            409, "exists", f"audience {obj['id']!r} exists: PUT /api/v1/audiences/{obj['id']}"
        ) from None
    service.definitions.refresh(force=True)
    return JSONResponse(_json(stored), status_code=201)


def _found(service: AudienceService, audience_id: str) -> StoredAudience:
    stored = service.catalog.get_audience(audience_id)
    if stored is None:
        raise HttpError(404, "not_found", f"no audience {audience_id!r}")
    return stored


async def get_audience(request: Request) -> Response:
    """One audience, with its live size and its sizes over time"""
    service = _service(request)
    stored = _found(service, request.path_params["audience_id"])
    sizes = [
        {"measured_at": p.measured_at, "source": p.source, "size": p.size}
        for p in service.catalog.sizes(stored.id, limit=30)
    ]
    return JSONResponse({**_json(stored, await _live_size(service, stored.id)), "sizes": sizes})


async def update_audience(request: Request) -> Response:
    """Create or replace an audience"""
    service = _service(request)
    obj = await _definition(request, request.path_params["audience_id"])
    if isinstance(obj, Response):
        return obj
    stored, created = service.catalog.put_audience(obj)
    service.definitions.refresh(force=True)
    return JSONResponse(_json(stored), status_code=201 if created else 200)


async def delete_audience(request: Request) -> Response:
    """Delete an audience"""
    service = _service(request)
    audience_id = request.path_params["audience_id"]
    if not service.catalog.delete_audience(audience_id):
        raise HttpError(404, "not_found", f"no audience {audience_id!r}")
    service.definitions.refresh(force=True)
    return Response(status_code=204)


async def recompute(request: Request) -> Response:
    """Recompute every audience exactly from the lake and reconcile the live store"""
    service = _service(request)
    dry_run = request.query_params.get("dry_run", "") in ("1", "true", "yes")
    try:
        return JSONResponse(await service.recompute(dry_run))
    except LiveUnavailableError as exc:
        raise HttpError(503, "live_store_unavailable", str(exc)) from None


async def user_segments(request: Request) -> Response:
    """How an id resolves to a user, its audiences, and the segments a bid request would get"""
    service = _service(request)
    user_id = request.path_params["user_id"]
    try:
        found = await service.lookup.find([IdentityKey("user.id", user_id)])
    except LiveUnavailableError as exc:
        raise HttpError(503, "live_store_unavailable", str(exc)) from None
    except OSError as exc:
        raise HttpError(503, "live_store_unavailable", f"live store unavailable: {exc}") from None
    compiled = service.definitions.current().compiled
    if found is None:
        raise HttpError(404, "unknown_user", f"no user or mapped id {user_id!r} in the live store")
    user, audiences = found
    segments = member_segments(compiled.audiences, audiences)
    return JSONResponse(
        {
            "id": user_id,
            "user": user,
            "audiences": sorted(audiences),
            "segments": [{"id": s.id, "segtax": s.segtax} for s in segments],
        }
    )
