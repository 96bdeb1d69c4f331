"""Reading a request body within limits: size, time, and decompression (gzip bombs refused)."""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

from headwater.http.errors import HttpError

Receive = Any


class ClientGone(Exception):
    """The client disconnected before the body was complete; nothing is answered or stored."""


async def read_body(receive: Receive, limit: int, timeout: float, content_length: int | None) -> bytes:
    if content_length is not None and content_length > limit:
        raise HttpError(
            413, "body_too_large", f"request body is {content_length} bytes; the limit is {limit}"
        )
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone()
                chunk = message.get("body", b"")
                if chunk:
                    size += len(chunk)
                    if size > limit:
                        raise HttpError(413, "body_too_large", f"request body is over the {limit} byte limit")
                    chunks.append(chunk)
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        raise HttpError(
            408, "body_timeout", f"the request body did not arrive within {timeout:g} s"
        ) from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


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
