"""POST /v1/webhooks/segment/{source}: Segment's cloud as a source (docs/segment.md).

Credentials come first, before the body is read where they are in headers: the source must exist
and its write key be active; with a per-source token, ``X-Webhook-Token`` (or a Bearer header) must
carry it; with a shared secret, ``X-Signature`` must sign the body as Segment does
(collector/segment_webhook.py). Either failing: 401, nothing stored.

Segment has corrected the device clock already: each message keeps its ``timestamp`` as sent (a
delivery retried hours later does not move the event) and Segment's ``receivedAt`` is kept as
``_hw.upstream_received_at`` beside ours. The request's own address and User-Agent are Segment's
servers', so they are not taken for the user's. A ``delete`` message (Segment forwards user
deletions) files a regulation (GET /api/v1/regulations) instead of an event. Segment retries 5xx
and 429 for hours with a 5 s timeout: a full log answers 503 at once, and retries are idempotent by
messageId downstream (the lake and the counters drop a messageId seen before).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from headwater.accounts.secrets import digest
from headwater.collector.segment_webhook import MAX_BATCH, signature_ok
from headwater.events.normalize import RequestInfo
from headwater.http.auth import bearer, token_matches
from headwater.http.errors import HttpError
from headwater.http.json_body import loads
from headwater.log.writer import BackpressureError, DrainingError, LogWriteError
from headwater.privacy.requests import file_request
from headwater.stores.sql.webhooks import SqlWebhookSources, WebhookSource

#: a batch of 4,000 messages is about 4 MB
MAX_BODY = 6 * 1024 * 1024
_CACHE_SECONDS = 1.0
SourceCache = dict[str, tuple[float, WebhookSource | None]]


async def _source(request: Request, name: str) -> WebhookSource:
    """The source, read at most once a second per process: kept by the application (its runtime's
    database), never across applications of one process (a test's, or a server started again)."""
    state = request.app.state
    cache: SourceCache | None = getattr(state, "webhook_sources", None)
    if cache is None:
        cache = state.webhook_sources = {}
    now = time.monotonic()
    cached = cache.get(name)
    if cached is None or now - cached[0] > _CACHE_SECONDS:
        found = await asyncio.to_thread(SqlWebhookSources(request.app.state.runtime.database).get, name)
        if len(cache) > 10_000:
            cache.clear()
        cached = cache[name] = (now, found)
    if cached[1] is None:
        raise HttpError(
            404,
            "unknown_source",
            f"no webhook source {name!r}: give the source a secret with"
            f" `headwater keys webhook {name} --secret-file PATH`",
        )
    return cached[1]


def _check_token(request: Request, source: WebhookSource) -> None:
    if source.token_hash is None:
        return
    given = request.headers.get("x-webhook-token") or bearer(request)
    if not given or not token_matches(digest(given), source.token_hash):
        raise HttpError(401, "bad_token", "missing or wrong X-Webhook-Token for this source")


def _events(payload: Any) -> list[Any]:
    if isinstance(payload, dict):
        return [payload]
    if isinstance(payload, list):
        if len(payload) > MAX_BATCH:
            raise HttpError(
                413, "batch_too_large", f"the array holds {len(payload)} messages: at most {MAX_BATCH}"
            )
        return payload
    raise HttpError(400, "not_an_event", "the body must be a Segment message or an array of them")


def _file_deletions(request: Request, name: str, messages: list[Any]) -> list[str]:
    """Segment's deletion requests: a SUPPRESS_WITH_DELETE per id of each (suppressed at once)."""
    db = request.app.state.runtime.database
    filed = []
    for message in messages:
        subjects = [
            {k: str(message[k])} for k in ("userId", "anonymousId") if message.get(k) not in (None, "")
        ]
        if not subjects:
            raise HttpError(400, "missing_id", "a delete message needs 'userId' or 'anonymousId'")
        for subject in subjects:
            filed.append(file_request(db, "SUPPRESS_WITH_DELETE", subject, f"segment:{name}")["id"])
    return filed


async def segment_webhook(request: Request) -> Response:
    """Messages from Segment's Webhooks destinations (classic or Actions), signed or with a token"""
    runtime = request.app.state.runtime
    name = request.path_params["source"]
    source = await _source(request, name)
    key = await runtime.keys.lookup(source.write_key)
    if key is None:
        raise HttpError(401, "revoked_write_key", f"the write key of source {name!r} has been revoked")
    _check_token(request, source)
    body = await request.body()
    if source.secret is not None and not signature_ok(
        body, source.secret, request.headers.get("x-signature")
    ):
        raise HttpError(401, "bad_signature", "missing or wrong X-Signature (HMAC-SHA1 of the body)")
    try:
        payload = loads(body)
    except ValueError as exc:
        raise HttpError(400, "invalid_json", f"the body is not JSON: {exc}") from None
    messages = _events(payload)
    is_delete = [isinstance(m, dict) and m.get("type") == "delete" for m in messages]
    deletions = [m for m, d in zip(messages, is_delete, strict=True) if d]
    positions = [i for i, d in enumerate(is_delete) if not d]  # rejections name the request's index
    events = [messages[i] for i in positions]
    filed = await asyncio.to_thread(_file_deletions, request, name, deletions) if deletions else []
    req = RequestInfo(received_at=datetime.now(UTC), source=key.name, upstream="segment")
    try:
        result = await runtime.collector.ingestor.ingest(events, req)
    except DrainingError as exc:
        raise HttpError(503, "draining", str(exc), [(b"retry-after", b"5")]) from None
    except BackpressureError as exc:
        raise HttpError(503, "overloaded", str(exc), [(b"retry-after", b"1")]) from None
    except LogWriteError as exc:
        message = f"{exc}; nothing was stored"
        raise HttpError(503, "log_unavailable", message, [(b"retry-after", b"5")]) from None
    answer: dict[str, Any] = {
        "success": True,
        "accepted": result.accepted,
        "rejected": [r.as_dict() | {"index": positions[r.index]} for r in result.rejected],
    }
    if filed:
        answer["regulations"] = filed
    if events and not result.accepted and not filed:  # every message refused (and quarantined)
        first = result.rejected[0]
        answer |= {"success": False, "error": {"code": first.code, "message": first.error}}
        return JSONResponse(answer, status_code=400)
    return JSONResponse(answer)
