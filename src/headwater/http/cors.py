"""CORS for browser SDKs: analytics.js sends text/plain with Basic auth, so preflights ask for
``authorization``; the answer echoes the allowed origin and the requested headers."""

from __future__ import annotations


class Cors:
    def __init__(self, origins: list[str]) -> None:
        self.any = "*" in origins
        self.origins = {o.rstrip("/") for o in origins if o != "*"}

    def allows(self, origin: str, source_origins: tuple[str, ...] = ()) -> bool:
        if source_origins:
            return origin.rstrip("/") in source_origins
        return self.any or origin.rstrip("/") in self.origins

    def headers(self, origin: str | None) -> list[tuple[bytes, bytes]]:
        if not origin:
            return []
        return [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"vary", b"Origin"),
            # a browser SDK may read how long to wait after a 429 (rate limits, docs/collector.md)
            (b"access-control-expose-headers", b"Retry-After"),
        ]

    def preflight_headers(self, origin: str, requested: str | None) -> list[tuple[bytes, bytes]]:
        allow = requested or "authorization, content-type, content-encoding, x-write-key"
        return [
            *self.headers(origin),
            (b"access-control-allow-methods", b"POST, GET, OPTIONS"),
            (b"access-control-allow-headers", allow.encode("latin-1")),
            (b"access-control-max-age", b"86400"),
        ]
