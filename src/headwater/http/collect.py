"""The collection endpoints as a plain ASGI app (the hot path: no framework in the way).

POST /v1/batch, /v1/b                      a batch: {"batch": [...], "sentAt", "context", "writeKey"}
POST /v1/{track,identify,...}, /v1/{t,...}  one message
POST /api/events                           one event object or an array (snake_case accepted)
GET  /v1/projects/{writeKey}/settings      what analytics.js fetches first
"""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime
from typing import Any

import msgspec

from headwater.collector.ingest import Ingestor
from headwater.collector.keys import KeyCache, key_from_headers
from headwater.config import Settings
from headwater.events.model import PATH_TYPES
from headwater.events.normalize import RequestInfo
from headwater.events.timestamps import parse_timestamp
from headwater.http.body import ClientGone, content_length, decode_body, read_body
from headwater.http.clientip import ClientIpResolver
from headwater.http.cors import Cors
from headwater.http.errors import HttpError
from headwater.http.ratelimit import RateLimiter, address_key
from headwater.log.writer import BackpressureError, DrainingError, LogWriteError
from headwater.ops import metrics

log = logging.getLogger("headwater.collector")

_decode = msgspec.json.decode
_encode = msgspec.json.Encoder().encode

Scope = dict[str, Any]

BATCH_ROUTES = {"/v1/batch": "batch", "/v1/b": "batch", "/v1/import": "batch"}
SINGLE_ROUTES = {f"/v1/{name}": kind for name, kind in PATH_TYPES.items()}
API_ROUTE = "/api/events"
_JSON = (b"content-type", b"application/json")


def is_collection_path(path: str) -> bool:
    return (
        path in BATCH_ROUTES
        or path in SINGLE_ROUTES
        or path == API_ROUTE
        or (path.startswith("/v1/projects/") and path.endswith("/settings"))
    )


class CollectorApp:
    def __init__(self, settings: Settings, ingestor: Ingestor, keys: KeyCache) -> None:
        self.settings = settings
        self.ingestor = ingestor
        self.keys = keys
        self.cors = Cors(settings.cors_origins)
        self.ips = ClientIpResolver(settings.trusted_proxies)
        self._observers: dict[str, Any] = {}
        # quotas, None when off (the default): one `if` each on the hot path (http/ratelimit.py)
        self.per_key: RateLimiter | None = None
        self.per_address: RateLimiter | None = None
        if settings.collect_rate_per_key is not None:
            self.per_key = RateLimiter(settings.collect_rate_per_key, settings.collect_burst_per_key)
        if settings.collect_rate_per_address is not None:
            self.per_address = RateLimiter(
                settings.collect_rate_per_address, settings.collect_burst_per_address
            )

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        headers = _headers(scope)
        origin = headers.get("origin")
        if method == "OPTIONS":
            await self._preflight(send, origin, headers.get("access-control-request-headers"))
            return
        if path.startswith("/v1/projects/"):
            await self._project_settings(send, path, method, origin)
            return
        route = BATCH_ROUTES.get(path) or ("api" if path == API_ROUTE else "single")
        started = time.perf_counter()
        try:
            if method != "POST":
                raise HttpError(
                    405, "method_not_allowed", f"{path} takes POST", [(b"allow", b"POST, OPTIONS")]
                )
            status, body = await self._collect(scope, receive, path, headers)
            extra: list[tuple[bytes, bytes]] = []
        except ClientGone:
            metrics.REQUESTS.labels(route, "disconnect").inc()
            return
        except HttpError as err:
            status = err.status
            body = {"success": False, "error": {"code": err.code, "message": err.message}}
            extra = err.headers
            if status >= 500:
                log.warning("collection refused: %s", err)
        except Exception:  # a bug must cost one 500, never the process or the log
            log.exception("unexpected error in %s", path)
            status, extra = 500, []
            body = {
                "success": False,
                "error": {"code": "internal", "message": "internal error; nothing stored"},
            }
        allowed_origin = origin if origin and self.cors.allows(origin) else None
        await _send_json(send, status, body, self.cors.headers(allowed_origin) + extra)
        metrics.REQUESTS.labels(route, str(status)).inc()
        observer = self._observers.get(route)
        if observer is None:
            observer = self._observers[route] = metrics.REQUEST_SECONDS.labels(route)
        observer.observe(time.perf_counter() - started)

    async def _collect(
        self, scope: Scope, receive: Any, path: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        settings = self.settings
        if self.per_address is not None:  # before anything is read: a flood costs one dict lookup
            self._check_address(scope, headers)
        header_key = key_from_headers(headers.get("authorization"), headers.get("x-write-key"))
        source = None
        if header_key is not None:  # a key in a header is checked before the body is read
            source = await self._authenticate(header_key)
        length = content_length(headers.get("content-length"))
        raw = await read_body(receive, settings.max_request_bytes, settings.body_timeout_seconds, length)
        received_at = datetime.now(UTC)

        try:
            data = decode_body(raw, headers.get("content-encoding", ""), settings.max_request_bytes)
            payload = _parse_json(data)
        except HttpError as err:
            if source is not None and err.status == 400:
                req = self._request_info(scope, headers, source.name, received_at, None)
                await self._write_guard(self.ingestor.quarantine_body(raw, err.code, err.message, req))
            raise
        if source is None:
            body_key = payload.get("writeKey") if isinstance(payload, dict) else None
            if not isinstance(body_key, str) or not body_key:
                raise HttpError(
                    401,
                    "missing_write_key",
                    "no write key: send it as HTTP Basic user, X-Write-Key header or 'writeKey' in the body",
                    [(b"www-authenticate", b'Basic realm="headwater"')],
                )
            source = await self._authenticate(body_key)
        origin = headers.get("origin")
        if origin and source.allowed_origins and not self.cors.allows(origin, source.allowed_origins):
            raise HttpError(
                403, "origin_not_allowed", f"origin {origin!r} may not send to source {source.name!r}"
            )

        batch_route = path in BATCH_ROUTES
        path_type = SINGLE_ROUTES.get(path)
        shared_context = None
        sent_at_value = payload.get("sentAt") if isinstance(payload, dict) else None
        if batch_route:
            if not isinstance(payload, dict):
                raise HttpError(
                    400,
                    "not_a_batch",
                    f"the body must be an object with a 'batch' array, got {_kind(payload)}",
                )
            events = payload.get("batch")
            if not isinstance(events, list):
                raise HttpError(
                    400, "not_a_batch", f"field 'batch' must be an array of events, got {_kind(events)}"
                )
            shared_context = payload.get("context")
        elif path == API_ROUTE:
            if isinstance(payload, list):
                events = payload
                batch_route = True
                sent_at_value = None
            elif isinstance(payload, dict):
                events = [payload]
            else:
                raise HttpError(
                    400, "not_an_event", f"the body must be an event object or an array, got {_kind(payload)}"
                )
        else:
            if not isinstance(payload, dict):
                raise HttpError(
                    400, "not_an_event", f"the body must be one event object, got {_kind(payload)}"
                )
            events = [payload]
            sent_at_value = None  # a single message's own sentAt is read per event

        sent_at = None
        if sent_at_value is not None:
            sent_at = parse_timestamp(sent_at_value)
            if sent_at is None:
                raise HttpError(
                    400, "bad_timestamp", "field 'sentAt' of the batch is not an ISO 8601 timestamp"
                )
        req = self._request_info(scope, headers, source.name, received_at, sent_at)
        req.path_type = path_type
        req.api_format = path == API_ROUTE
        if self.per_key is not None and events:
            wait = self.per_key.take(source.key, len(events))
            if wait:
                metrics.EVENTS_REJECTED.labels(source.name, "rate_limited").inc(len(events))
                raise _rate_limited(
                    wait,
                    f"write key of source {source.name!r} is over its quota of"
                    f" {settings.collect_rate_per_key:g} events/s, burst {settings.collect_burst_per_key}"
                    " (HEADWATER_COLLECT_RATE_PER_KEY, per worker)",
                )

        result = await self._write_guard(self.ingestor.ingest(events, req, shared_context))
        body: dict[str, Any] = {
            "success": True,
            "accepted": result.accepted,
            "rejected": [r.as_dict() for r in result.rejected],
        }
        if result.warnings:
            body["warnings"] = result.warnings
        if not events:
            body["warnings"] = [{"message": "the batch is empty: nothing was stored"}]
        if not batch_route and result.rejected:
            rej = result.rejected[0]
            status = 413 if rej.code == "event_too_large" else 400
            return status, {
                "success": False,
                "accepted": 0,
                "rejected": body["rejected"],
                "error": {"code": rej.code, "message": rej.error},
            }
        return 200, body

    def _check_address(self, scope: Scope, headers: dict[str, str]) -> None:
        assert self.per_address is not None
        client = scope.get("client")
        ip = self.ips.resolve(client[0] if client else None, headers.get("x-forwarded-for"))
        wait = self.per_address.take(address_key(ip or "-"))
        if wait:
            settings = self.settings
            raise _rate_limited(
                wait,
                f"this address is over its quota of {settings.collect_rate_per_address:g} requests/s,"
                f" burst {settings.collect_burst_per_address} (HEADWATER_COLLECT_RATE_PER_ADDRESS,"
                " per worker)",
            )

    async def _write_guard(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except DrainingError as exc:
            raise HttpError(503, "draining", str(exc), [(b"retry-after", b"5")]) from None
        except BackpressureError as exc:
            raise HttpError(503, "overloaded", str(exc), [(b"retry-after", b"1")]) from None
        except LogWriteError as exc:
            raise HttpError(
                503, "log_unavailable", f"{exc}; nothing was stored, retry later", [(b"retry-after", b"5")]
            ) from None

    async def _authenticate(self, key: str) -> Any:
        found = await self.keys.lookup(key)
        if found is not None:
            return found
        if self.keys.is_revoked(key):
            raise HttpError(401, "revoked_write_key", "this write key has been revoked: create a new one")
        raise HttpError(
            401, "unknown_write_key", "unknown write key: create one with `headwater keys create NAME`"
        )

    def _request_info(
        self,
        scope: Scope,
        headers: dict[str, str],
        source: str,
        received_at: datetime,
        sent_at: datetime | None,
    ) -> RequestInfo:
        client = scope.get("client")
        peer = client[0] if client else None
        return RequestInfo(
            received_at=received_at,
            source=source,
            ip=self.ips.resolve(peer, headers.get("x-forwarded-for")),
            user_agent=headers.get("user-agent"),
            sent_at=sent_at,
        )

    async def _preflight(self, send: Any, origin: str | None, requested: str | None) -> None:
        if not origin or not self.cors.allows(origin):
            await _send_json(
                send,
                403,
                {
                    "success": False,
                    "error": {"code": "origin_not_allowed", "message": f"origin {origin!r} is not allowed"},
                },
                [],
            )
            return
        await send(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": self.cors.preflight_headers(origin, requested),
            }
        )
        await send({"type": "http.response.body", "body": b""})

    async def _project_settings(self, send: Any, path: str, method: str, origin: str | None) -> None:
        key = path[len("/v1/projects/") : -len("/settings")]
        cors = self.cors.headers(origin if origin and self.cors.allows(origin) else None)
        if method != "GET":
            await _send_json(send, 405, {"error": {"code": "method_not_allowed", "message": "use GET"}}, cors)
            return
        if await self.keys.lookup(key) is None:
            await _send_json(
                send, 404, {"error": {"code": "unknown_write_key", "message": "unknown write key"}}, cors
            )
            return
        body = {
            "integrations": {
                "Segment.io": {"apiKey": key, "addBundledMetadata": True, "unbundledIntegrations": []}
            },
            "plan": {
                "track": {"__default": {"enabled": True, "integrations": {}}},
                "identify": {"__default": {"enabled": True}},
                "group": {"__default": {"enabled": True}},
            },
            "edgeFunction": {},
            "analyticsNextEnabled": True,
            "middlewareSettings": {},
            "enabledMiddleware": {},
            "metrics": {"sampleRate": 0},
            "legacyVideoPluginsEnabled": False,
            "remotePlugins": [],
        }
        await _send_json(send, 200, body, cors)


def _rate_limited(wait: float, what: str) -> HttpError:
    seconds = max(1, math.ceil(wait))
    return HttpError(
        429,
        "rate_limited",
        f"{what}: nothing was stored, retry in {seconds} s",
        [(b"retry-after", str(seconds).encode())],
    )


def _parse_json(data: bytes) -> Any:
    try:
        return _decode(data)
    except UnicodeDecodeError:
        raise HttpError(400, "not_utf8", "the body is not valid UTF-8 text") from None
    except RecursionError:
        raise HttpError(400, "too_deep", "the JSON body is nested too deeply") from None
    except msgspec.DecodeError as exc:
        # msgspec >= 0.19 reports invalid UTF-8 as a DecodeError (older versions raised
        # UnicodeDecodeError): tell the client which of the two is wrong, whatever the version.
        if not _is_utf8(data):
            raise HttpError(400, "not_utf8", "the body is not valid UTF-8 text") from None
        raise HttpError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )


async def _send_json(
    send: Any, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]
) -> None:
    data = _encode(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [_JSON, (b"content-length", str(len(data)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": data})
