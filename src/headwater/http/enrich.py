"""POST /openrtb2/enrich: an OpenRTB 2.5 / 2.6 BidRequest back with our user.data segments.

Authenticated by an enrich API key (``headwater audiences keys create NAME``), sent as
``Authorization: Bearer <key>`` or ``X-Api-Key: <key>``. Answers: 200 with the request (unchanged
but for our user.data entries; the original bytes when nothing changed) and the outcome in the
``X-Headwater-Enrichment`` header (``enriched`` or the reason it was not, counted on /metrics);
400 naming the field for a request Prebid Server would refuse; 413 above 5 MiB, read no further;
408 when the body does not come whole within ``body_timeout_seconds``; 401 without a valid key
(checked before any of the body is read); 503 when the audience layer is not running.

The request path reads nothing but the one Redis round trip of the lookup: keys, settings and
audiences are a snapshot in memory, refreshed from the database every half second by the audience
service's own task (in a thread, never on the event loop), and the metrics' label children are
bound once. Each decision (200 answers) goes to the decision log (headwater.decisions) as a
tuple appended to an in-memory buffer, written by the log's own thread.
"""

from __future__ import annotations

import logging
import time
from hashlib import sha256
from typing import Any

import msgspec

from headwater.audiences.metrics import ENRICH_OUTCOMES, ENRICH_SECONDS
from headwater.audiences.service import AudienceService
from headwater.http.body import ClientGone, content_length, read_body
from headwater.http.errors import HttpError
from headwater.targeting.pipeline import enrich_body
from headwater.targeting.validate import DEFAULT_MAX_BYTES, InvalidBidRequest

_encode = msgspec.json.Encoder().encode
_outcomes: dict[str, Any] = {}  # reason -> bound counter child
log = logging.getLogger("headwater.audiences")


def _count(reason: str) -> None:
    child = _outcomes.get(reason)
    if child is None:
        child = _outcomes[reason] = ENRICH_OUTCOMES.labels(reason)
    child.inc()


# -- the hot path, as plain ASGI (dispatched ahead of Starlette, like the collector) ----------------
ENRICH_PATH = "/openrtb2/enrich"
_JSON = (b"content-type", b"application/json")


async def _send(
    send: Any, status: int, body: bytes, reason: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [
        _JSON,
        (b"content-length", str(len(body)).encode()),
        (b"x-headwater-enrichment", reason.encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})


async def _send_error(
    send: Any, status: int, code: str, message: str, reason: str, field: str | None = None
) -> None:
    _count(reason)
    err: dict[str, object] = {"code": code, "message": message}
    if field is not None:
        err["field"] = field
    await _send(send, status, _encode({"error": err}), reason)


async def asgi_enrich(runtime: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
    """POST /openrtb2/enrich without a framework in the way (see the module docstring)."""
    started = time.perf_counter()
    if scope["method"] != "POST":
        await _send(
            send,
            405,
            _encode({"error": {"code": "method_not_allowed", "message": "use POST"}}),
            "method_not_allowed",
            [(b"allow", b"POST")],
        )
        return
    headers = {k: v for k, v in scope["headers"]}
    service: AudienceService | None = runtime.audiences
    if service is None:
        await _send_error(
            send, 503, "unavailable", "the audience layer is not running in this server", "unavailable"
        )
        return
    snapshot = service.definitions.current()
    auth = headers.get(b"authorization", b"")
    key = auth[7:].strip() if auth[:7].lower() == b"bearer " else headers.get(b"x-api-key", b"").strip()
    if sha256(key).hexdigest() not in snapshot.keys:  # only the keys' hashes are stored
        await _send_error(
            send,
            401,
            "unauthorized",
            "missing or unknown enrich API key: send 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'"
            " (create one with: headwater audiences keys create NAME)",
            "unauthorized",
        )
        return
    declared = content_length(headers.get(b"content-length", b"").decode("latin-1"))
    try:  # the one body reader of every route (http/body.py): its limit and its deadline
        body = await read_body(receive, DEFAULT_MAX_BYTES, runtime.settings.body_timeout_seconds, declared)
    except ClientGone:
        return
    except HttpError as err:
        if err.status == 413:
            message = f"the request body is over {DEFAULT_MAX_BYTES} bytes"
            await _send_error(send, 413, "too_large", message, "too_large")
        else:
            await _send_error(send, err.status, err.code, err.message, err.code)
        return
    begun = time.perf_counter()
    try:
        outcome = await enrich_body(body, service.lookup, snapshot.settings)
    except InvalidBidRequest as exc:
        await _send_error(send, 400, exc.code, str(exc), "invalid", exc.field)
        return
    decisions = runtime.decisions
    if decisions is not None:  # a tuple into a buffer: the log's own thread writes it
        decisions.note(outcome, time.perf_counter() - begun)
    _count(outcome.reason)
    await _send(send, 200, _encode(outcome.request) if outcome.changed else body, outcome.reason)
    ENRICH_SECONDS.observe(time.perf_counter() - started)
