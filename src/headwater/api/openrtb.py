"""POST /openrtb2/enrich: an OpenRTB 2.5 / 2.6 BidRequest back with our user.data segments.

Authenticated by an enrich API key (``headwater audiences keys create NAME``), sent as
``Authorization: Bearer <key>`` or ``X-Api-Key: <key>``. Answers: 200 with the request (unchanged
but for our user.data entries; the original bytes when nothing changed) and the outcome in the
``X-Headwater-Enrichment`` header (``enriched`` or the reason it was not, counted on /metrics);
400 naming the field for a request Prebid Server would refuse; 413 above 5 MiB, read no further;
401 without a valid key; 503 when the audience layer is not running.

The request path reads nothing but the one Redis round trip of the lookup: keys, settings and
audiences are a snapshot in memory, refreshed from the database every half second by a task of its
own in a thread (never on the event loop), and the metrics' label children are bound once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from headwater.audiences.metrics import ENRICH_OUTCOMES, ENRICH_SECONDS
from headwater.audiences.service import AudienceService, find_service
from headwater.targeting.pipeline import enrich_body
from headwater.targeting.validate import DEFAULT_MAX_BYTES, InvalidBidRequest, too_large

OUTCOME_HEADER = "X-Headwater-Enrichment"
REFRESH_SECONDS = 0.5  # under Definitions' own 1 s: current() then never reads the database itself
_encode = msgspec.json.Encoder().encode
_outcomes: dict[str, Any] = {}  # reason -> bound counter child
log = logging.getLogger("headwater.audiences")


def _count(reason: str) -> None:
    child = _outcomes.get(reason)
    if child is None:
        child = _outcomes[reason] = ENRICH_OUTCOMES.labels(reason)
    child.inc()


def _error(status: int, code: str, message: str, reason: str, field: str | None = None) -> Response:
    _count(reason)
    body: dict[str, object] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status, headers={OUTCOME_HEADER: reason})


def api_key(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.headers.get("x-api-key", "").strip()


async def read_limited(request: Request, limit: int = DEFAULT_MAX_BYTES) -> bytes | None:
    """The body, or None as soon as it is known to exceed ``limit`` (never buffering more)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and too_large(int(declared), limit):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if too_large(size, limit):
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _refresh_loop(service: AudienceService) -> None:
    while True:
        try:
            await asyncio.to_thread(service.definitions.refresh)
        except Exception as exc:  # refresh() keeps the last snapshot itself; never end the loop
            log.warning("enrichment settings not refreshed: %s", exc)
        await asyncio.sleep(REFRESH_SECONDS)


def _service(request: Request) -> AudienceService | None:
    state = request.app.state
    cached: AudienceService | None = getattr(state, "audience_service", None)
    if cached is None:
        cached = find_service(state.runtime.services)
        state.audience_service = cached
        if cached is not None and getattr(state, "audience_refresher", None) is None:
            state.audience_refresher = asyncio.get_running_loop().create_task(_refresh_loop(cached))
    return cached


async def enrich(request: Request) -> Response:
    started = time.perf_counter()
    service = _service(request)
    if service is None:
        return _error(503, "unavailable", "the audience layer is not running in this server", "unavailable")
    snapshot = service.definitions.current()
    if api_key(request) not in snapshot.keys:
        return _error(
            401,
            "unauthorized",
            "missing or unknown enrich API key: send 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'"
            " (create one with: headwater audiences keys create NAME)",
            "unauthorized",
        )
    body = await read_limited(request)
    if body is None:
        return _error(413, "too_large", f"the request body is over {DEFAULT_MAX_BYTES} bytes", "too_large")
    try:
        outcome = await enrich_body(body, service.lookup, snapshot.settings)
    except InvalidBidRequest as exc:
        return _error(400, "invalid_request", str(exc), "invalid", exc.field)
    _count(outcome.reason)
    content = _encode(outcome.request) if outcome.changed else body
    response = Response(content, media_type="application/json", headers={OUTCOME_HEADER: outcome.reason})
    ENRICH_SECONDS.observe(time.perf_counter() - started)
    return response


def routes() -> list[BaseRoute]:
    return [Route("/openrtb2/enrich", enrich, methods=["POST"])]
