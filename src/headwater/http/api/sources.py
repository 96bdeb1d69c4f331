"""/api/v1/sources/{source}/webhook (a source's Segment webhook: secret and token) and
/api/v1/regulations (deletion and suppression requests), for owners and admins."""

from __future__ import annotations

import asyncio

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from headwater.http.auth import note_audit
from headwater.http.errors import HttpError
from headwater.http.schemas import RegulationRequest, WebhookSettings
from headwater.privacy.requests import RequestError, file_request
from headwater.stores.sql.keys import SqlWriteKeys
from headwater.stores.sql.webhooks import SqlRegulations, SqlWebhookSources, public
from headwater.transfer.export_stream import ChunkPipe, PipeWriter, run_in_thread

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


async def regulations(request: Request) -> Response:
    """Requests to delete or suppress a person's data, latest first (GET); file one (POST)"""
    db = request.app.state.runtime.database
    if request.method == "GET":
        found = await asyncio.to_thread(SqlRegulations(db).all)
        return JSONResponse({"regulations": [public(r) for r in found]})
    try:
        wanted = msgspec.json.decode(await request.body(), type=RegulationRequest)
    except msgspec.ValidationError as exc:
        raise HttpError(400, "invalid_body", f"invalid request body: {exc}") from None
    except msgspec.DecodeError as exc:
        raise HttpError(400, "invalid_json", f"the body is not JSON: {exc}") from None
    subject = msgspec.to_builtins(wanted.subject)
    try:
        answer = await asyncio.to_thread(file_request, db, wanted.type, subject, "api")
    except RequestError as exc:
        raise HttpError(400, "invalid_subject", str(exc)) from None
    note_audit(request, answer["id"], type=wanted.type)  # the regulation, never the person's id
    return JSONResponse(answer, status_code=201)


async def regulation(request: Request) -> Response:
    """One regulation: its status and progress"""
    rid = request.path_params["regulation_id"]
    found = await asyncio.to_thread(SqlRegulations(request.app.state.runtime.database).get, rid)
    if found is None:
        raise HttpError(404, "unknown_regulation", f"no regulation {rid!r}")
    return JSONResponse(public(found))


async def regulation_export(request: Request) -> Response:
    """Everything stored of a regulation's subject, from every store, as NDJSON (an access request)"""
    from headwater.privacy.access import export_ids

    runtime = request.app.state.runtime
    rid = request.path_params["regulation_id"]
    found = await asyncio.to_thread(SqlRegulations(runtime.database).get, rid)
    if found is None:
        raise HttpError(404, "unknown_regulation", f"no regulation {rid!r}")
    ids = await asyncio.to_thread(export_ids, runtime.settings, runtime.database, found)
    if ids is None:
        raise HttpError(
            410,
            "subject_deleted",
            f"regulation {rid} keeps only hashes of its subject's ids:"
            " file an ACCESS request before a deletion",
        )
    pipe = ChunkPipe(asyncio.get_running_loop())
    live = runtime.live.backend if runtime.live is not None else None

    def work(sink: PipeWriter) -> None:
        from headwater.privacy.access import write_records

        write_records(runtime.settings, ids, sink, live)

    run_in_thread(pipe, work, name="privacy-export")
    first = await pipe.get()
    if first[0] == "error":
        raise HttpError(500, "export_failed", f"the export failed: {type(first[1]).__name__}")
    return StreamingResponse(
        pipe.stream(first),
        media_type="application/x-ndjson",
        headers={
            "Content-Disposition": f'attachment; filename="{rid}.ndjson"',
            "Cache-Control": "no-store",
        },
    )
