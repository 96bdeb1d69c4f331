"""/api/v1/sources/{source}/webhook (a source's Segment webhook: secret and token) and
/api/v1/regulations (deletion and suppression requests), for owners and admins."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from headwater.http.auth import note_audit
from headwater.http.errors import HttpError
from headwater.http.schemas import RegulationRequest, WebhookSettings
from headwater.stores.sql.keys import SqlWriteKeys
from headwater.stores.sql.privacy import SqlPrivacy
from headwater.stores.sql.webhooks import SqlRegulations, SqlWebhookSources

MIN_SECRET = 16


def active_key(keys: SqlWriteKeys, name: str) -> str | None:
    """The newest active write key of a source name."""
    found = [k for k in keys.list_keys() if k.name == name]
    return found[-1].key if found else None


async def webhook(request: Request) -> Response:
    """A source's Segment webhook (GET), set its secret or a new token (PUT), or remove it (DELETE)"""
    db = request.app.state.runtime.database
    sources = SqlWebhookSources(db)
    name = request.path_params["source"]
    if request.method == "GET":
        found = await asyncio.to_thread(sources.get, name)
        if found is None:
            raise HttpError(404, "unknown_source", f"source {name!r} has no webhook")
        return JSONResponse(found.public())
    if request.method == "DELETE":
        if not await asyncio.to_thread(sources.remove, name):
            raise HttpError(404, "unknown_source", f"source {name!r} has no webhook")
        return Response(status_code=204)
    try:
        wanted = msgspec.json.decode(await request.body(), type=WebhookSettings)
    except msgspec.ValidationError as exc:
        raise HttpError(400, "invalid_body", f"invalid request body: {exc}") from None
    except msgspec.DecodeError as exc:
        raise HttpError(400, "invalid_json", f"the body is not JSON: {exc}") from None
    if wanted.secret is not None and len(wanted.secret) < MIN_SECRET:
        raise HttpError(400, "weak_secret", f"field 'secret' needs at least {MIN_SECRET} characters")
    key = await asyncio.to_thread(active_key, SqlWriteKeys(db), name)
    if key is None:
        raise HttpError(
            404, "unknown_source", f"no active write key named {name!r}: `headwater keys create {name}`"
        )
    existing = await asyncio.to_thread(sources.get, name)
    if wanted.secret is None and not wanted.token and existing is None:
        raise HttpError(400, "nothing_to_check", "give the webhook a 'secret', a 'token': true, or both")
    stored, token = await asyncio.to_thread(sources.configure, name, key, wanted.secret, wanted.token)
    note_audit(request, name, secret=wanted.secret is not None, token=wanted.token)
    body = stored.public() | ({"token_value": token} if token else {})
    return JSONResponse(body)


WAITING = "waiting: deleting stored data is not available in this version (docs/privacy.md)"


def _apply(db: Any, wanted: RegulationRequest) -> dict[str, Any]:
    """File a regulation and do what this version does of it: suppression and its lifting at once
    (keyed hashes only, FINISHED); a deletion is filed INITIALIZED, with the ids it needs."""
    privacy, regulations = SqlPrivacy(db), SqlRegulations(db)
    subject = {k: v for k, v in msgspec.to_builtins(wanted.subject).items() if v}
    hashed = {k: "hmac:" + privacy.hashed(v) for k, v in subject.items()}
    deletes = wanted.type in ("SUPPRESS_WITH_DELETE", "DELETE_ONLY")
    entry = regulations.file(wanted.type, subject if deletes else hashed, "api")
    progress: dict[str, Any] = {}
    if wanted.type in ("SUPPRESS_ONLY", "SUPPRESS_WITH_DELETE"):
        progress["suppression"] = {"ids": privacy.suppress(subject, entry["id"])}
    if wanted.type == "UNSUPPRESS":
        progress["unsuppressed_ids"] = privacy.unsuppress(subject)
    if deletes:
        progress["deletion"] = WAITING
    status = "INITIALIZED" if deletes else "FINISHED"
    regulations.update(entry["id"], status, progress)
    return {"id": entry["id"], "type": wanted.type, "status": status}


async def regulations(request: Request) -> Response:
    """Requests to delete or suppress a person's data, latest first (GET); file one (POST)"""
    db = request.app.state.runtime.database
    if request.method == "GET":
        found = await asyncio.to_thread(SqlRegulations(db).all)
        return JSONResponse({"regulations": found})
    try:
        wanted = msgspec.json.decode(await request.body(), type=RegulationRequest)
    except msgspec.ValidationError as exc:
        raise HttpError(400, "invalid_body", f"invalid request body: {exc}") from None
    except msgspec.DecodeError as exc:
        raise HttpError(400, "invalid_json", f"the body is not JSON: {exc}") from None
    if (wanted.subject.userId is None) == (wanted.subject.anonymousId is None):
        raise HttpError(400, "invalid_subject", "'subject' names exactly one of 'userId' or 'anonymousId'")
    answer = await asyncio.to_thread(_apply, db, wanted)
    note_audit(request, answer["id"], type=wanted.type)  # the regulation, never the person's id
    return JSONResponse(answer, status_code=201)


async def regulation(request: Request) -> Response:
    """One regulation: its status and progress"""
    rid = request.path_params["regulation_id"]
    found = await asyncio.to_thread(SqlRegulations(request.app.state.runtime.database).get, rid)
    if found is None:
        raise HttpError(404, "unknown_regulation", f"no regulation {rid!r}")
    return JSONResponse(found)
