"""The connection limits uvicorn's httptools protocol does not have, as a small subclass of it.

- **A head deadline**: a connection has ``head_timeout_seconds`` to send a whole request head, from
  its opening or from the first byte of its next request; then it is closed (408 if part of a head
  came). Between requests, the keep-alive timeout (``keepalive_timeout_seconds``) closes it.
- **A head size and header count** (``max_header_bytes``, ``max_headers``): 431 beyond, counted
  while the head arrives, so an unfinished head never holds more than the limit and one read.
- **A per-address cap** (``max_connections_per_address``): the connections one client address (an
  IPv6 /64) holds in this worker; more are answered 503 and closed at once, so one address cannot
  take the whole of ``limit_concurrency``. Trusted proxies are exempt (they carry many clients).
- **An unread body is never read**: when the answer goes out before its request's body arrived
  whole (a 401 before the body, a 413, a 408), the connection stops: it half-closes, discards what
  still comes for a moment (so the client reads the answer rather than a reset), then closes.

Why a subclass: uvicorn's httptools protocol has no header limit and no deadline before the first
request (its keep-alive timer starts after a response), and h11's size limit (``h11_max_incomplete
_event_size``) comes with the slower parser and still no deadline or per-address cap. A wrapper
around the ASGI app would see a request only once its head is complete: too late for all three.
"""

from __future__ import annotations

import asyncio
import http
import ipaddress
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from headwater.config import Settings

log = logging.getLogger("headwater.http")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: how long a connection being stopped still has its input discarded before it closes
LINGER_SECONDS = 2.0
_WARN_EVERY = 10.0


def answer(status: int, code: str, message: str) -> bytes:
    """A whole HTTP/1.1 response that closes the connection, the body as every route's errors."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


@dataclass(slots=True)
class ConnectionLimits:
    """The limits of one worker, and the connections each address holds in it."""

    max_header_bytes: int
    max_headers: int
    head_timeout: float
    keepalive_timeout: float
    per_address: int  # 0: no cap
    exempt: tuple[Network, ...] = ()
    held: dict[str, int] = field(default_factory=dict)
    warned_at: float = float("-inf")

    @classmethod
    def of(cls, settings: Settings) -> ConnectionLimits:
        per_address = settings.max_connections_per_address
        if per_address is None:
            per_address = max(1, settings.limit_concurrency // 8)
        return cls(
            settings.max_header_bytes,
            settings.max_headers,
            settings.head_timeout_seconds,
            settings.keepalive_timeout_seconds,
            per_address,
            tuple(ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies),
        )

    def address_of(self, peer: Any) -> str | None:
        """The key the cap counts the peer under (IPv6: its /64), None when it is not capped."""
        if not self.per_address or not isinstance(peer, tuple):
            return None
        try:
            addr = ipaddress.ip_address(peer[0].partition("%")[0])
        except ValueError:
            return None
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        if any(addr in net for net in self.exempt):
            return None
        if isinstance(addr, ipaddress.IPv6Address):
            return str(ipaddress.IPv6Network((addr, 64), strict=False))
        return str(addr)

    def warn_full(self, address: str) -> None:
        now = time.monotonic()
        if now - self.warned_at >= _WARN_EVERY:  # under a flood, one line every few seconds
            self.warned_at = now
            log.warning(
                "%s holds %d connections, the most one address may (HEADWATER_MAX_CONNECTIONS_PER"
                "_ADDRESS): more are refused",
                address,
                self.per_address,
            )


class _HeadRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class LimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits of :class:`ConnectionLimits` (module docstring).

    Per request this costs a few attribute updates: the head deadline is one timer per connection
    that checks when the pending head began, and the head's size is summed only when the reads that
    brought it were larger than the limit (a head and its body in one read)."""

    limits: ConnectionLimits  # set by :func:`protocol_class`

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout_keep_alive = self.limits.keepalive_timeout  # type: ignore[assignment]
        self._address: str | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._awaiting_head = True  # no request yet, or the last one's body is complete
        self._head_since: float | None = None  # when the pending head began (None: none pending)
        self._head_bytes = 0  # bytes read while awaiting a head: bounds what httptools buffers
        self._stopping = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        limits = self.limits
        address = limits.address_of(transport.get_extra_info("peername"))
        if address is not None:
            held = limits.held.get(address, 0)
            if held >= limits.per_address:
                self.transport = transport
                limits.warn_full(address)
                message = f"{address} holds the most connections one address may; retry later"
                self._stop(answer(503, "too_many_connections", message))
                return
            limits.held[address] = held + 1
            self._address = address
        super().connection_made(transport)
        self._head_since = self.loop.time()  # a new connection owes its first head at once
        self._head_timer = self.loop.call_later(limits.head_timeout, self._check_head)

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._head_timer, self._linger):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._linger = None
        address = self._address
        if address is not None:
            self._address = None
            left = self.limits.held.pop(address) - 1
            if left:
                self.limits.held[address] = left
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._stopping:
            return  # discarded while the answer reaches the client
        if self._awaiting_head:
            self._head_bytes += len(data)
            if self._head_since is None:
                self._head_since = self.loop.time()
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            refused = exc.__context__
            if isinstance(refused, _HeadRefused):
                self._stop(answer(431, refused.code, str(refused)))
            else:
                msg = "Invalid HTTP request received."
                self.logger.warning(msg)
                self.send_400_response(msg)
            return
        if self._awaiting_head and self._head_bytes > self.limits.max_header_bytes:
            self._stop(answer(431, "headers_too_large", self._too_large()))

    def _too_large(self) -> str:
        limit = self.limits.max_header_bytes
        return f"the request head is over the {limit} byte limit (HEADWATER_MAX_HEADER_BYTES)"

    def on_headers_complete(self) -> None:
        limits = self.limits
        self._awaiting_head = False
        self._head_since = None
        if len(self.headers) > limits.max_headers:
            message = f"the request has over {limits.max_headers} headers (HEADWATER_MAX_HEADERS)"
            raise _HeadRefused("too_many_headers", message)
        if self._head_bytes > limits.max_header_bytes:  # the reads held more than the head: count it
            size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
            if size > limits.max_header_bytes:
                raise _HeadRefused("headers_too_large", self._too_large())
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._awaiting_head = True
        self._head_bytes = 0
        super().on_message_complete()

    def on_response_complete(self) -> None:
        # the answer went out before its request's body came whole: the rest is never read
        unread = not self.pipeline and self.cycle is not None and self.cycle.more_body
        super().on_response_complete()
        if unread:
            self._stop()

    def _check_head(self) -> None:
        """The head deadline: one timer per connection, looking at when the pending head began."""
        timeout = self.limits.head_timeout
        since = self._head_since
        left = timeout if since is None else since + timeout - self.loop.time()
        cycle = self.cycle
        if left > 0 or (cycle is not None and not cycle.response_complete):  # a pipelined head waits
            self._head_timer = self.loop.call_later(left if left > 0 else timeout, self._check_head)
            return
        self._head_timer = None
        if self._head_bytes:
            seconds = f"{timeout:g}"
            message = f"the request head did not arrive within {seconds} s (HEADWATER_HEAD_TIMEOUT_SECONDS)"
            self._stop(answer(408, "head_timeout", message))
        elif not self.transport.is_closing():
            self.transport.close()

    def _stop(self, response: bytes = b"") -> None:
        """Answer (if anything), then half-close, discard what still comes for a moment, and close."""
        transport = self.transport
        if self._stopping or transport.is_closing():
            return
        self._stopping = True
        self._unset_keepalive_if_required()
        if response:
            transport.write(response)
        try:
            transport.write_eof()
        except (NotImplementedError, RuntimeError, OSError):  # TLS cannot half-close
            transport.close()
            return
        if self.flow is not None:
            self.flow.resume_reading()
        self._linger = self.loop.call_later(LINGER_SECONDS, transport.close)


def protocol_class(settings: Settings) -> type[asyncio.Protocol]:
    """The HTTP protocol of one worker (``uvicorn.Config(http=...)``) with the settings' limits."""

    class HeadwaterProtocol(LimitedProtocol):
        limits = ConnectionLimits.of(settings)

    return HeadwaterProtocol
