"""Reading a request body within limits: size, time, and decompression (gzip bombs refused).

One reader for every route. The hot paths (collection, OpenRTB enrichment) call :func:`read_body`;
the framework's routes get a :class:`BodyReader` as their request's ``receive`` (http/app.py), so
``request.body()`` stops at the route's limit (``Route.max_body`` in http/routes.py) and at the
deadline (``body_timeout_seconds``) just the same. A body declared over the limit is refused before
any of it is read (413); one that does not come whole in time is 408. Nothing is read before the
handler asks, so a handler that checks a credential first answers 401 without reading the body
(the connection then closes: http/protocol.py).
"""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

from headwater.http.errors import HttpError

Receive = Any
Message = dict[str, Any]


class ClientGone(Exception):
    """The client disconnected before the body was complete; nothing is answered or stored."""


def content_length(value: str | None) -> int | None:
    """The declared body size (the Content-Length header's value), None when absent or not a number."""
    return int(value) if value and value.isdigit() else None


def _over(limit: int, size: int | None = None) -> HttpError:
    if size is not None:
        return HttpError(413, "body_too_large", f"request body is {size} bytes; the limit is {limit}")
    return HttpError(413, "body_too_large", f"request body is over the {limit} byte limit")


class BodyReader:
    """A request's body within ``limit`` bytes and ``timeout`` seconds from now (module docstring)."""

    __slots__ = ("_receive", "deadline", "declared", "limit", "size", "timeout")

    def __init__(self, receive: Receive, limit: int, timeout: float, declared: int | None) -> None:
        self._receive = receive
        self.limit = limit
        self.timeout = timeout
        self.declared = declared or 0
        self.deadline = asyncio.get_running_loop().time() + timeout
        self.size = 0

    def _timed_out(self) -> HttpError:
        return HttpError(408, "body_timeout", f"the request body did not arrive within {self.timeout:g} s")

    def _count(self, message: Message) -> bytes:
        chunk: bytes = message.get("body", b"")
        if chunk:
            self.size += len(chunk)
            if self.size > self.limit:
                raise _over(self.limit)
        return chunk

    async def receive(self) -> Message:
        """The ASGI ``receive`` of a framework route: its messages, or HttpError (413, 408)."""
        if self.declared > self.limit:
            raise _over(self.limit, self.declared)
        try:
            async with asyncio.timeout_at(self.deadline):
                message: Message = await self._receive()
        except TimeoutError:
            raise self._timed_out() from None
        self._count(message)
        return message

    async def read(self) -> bytes:
        """The whole body; ClientGone when the client leaves before it is complete."""
        if self.declared > self.limit:
            raise _over(self.limit, self.declared)
        chunks: list[bytes] = []
        try:
            async with asyncio.timeout_at(self.deadline):
                while True:
                    message = await self._receive()
                    if message["type"] == "http.disconnect":
                        raise ClientGone()
                    chunk = self._count(message)
                    if chunk:
                        chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            raise self._timed_out() from None
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_body(receive: Receive, limit: int, timeout: float, content_length: int | None) -> bytes:
    """The whole body within the limits: HttpError 413 over ``limit``, 408 after ``timeout``."""
    return await BodyReader(receive, limit, timeout, content_length).read()


def decode_body(body: bytes, encoding: str, limit: int) -> bytes:
    """Undo Content-Encoding (gzip, deflate) whatever the Content-Type; stop at ``limit`` bytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":
        wbits = 32 + zlib.MAX_WBITS  # zlib or gzip header, detected
    else:
        raise HttpError(
            415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported: use gzip or none"
        )
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise HttpError(400, "bad_gzip", f"the body is not valid {encoding} data: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise HttpError(413, "body_too_large", f"the decompressed body is over the {limit} byte limit")
    if not inflater.eof:
        raise HttpError(400, "bad_gzip", f"the {encoding} body is truncated (stream did not end)")
    return out
