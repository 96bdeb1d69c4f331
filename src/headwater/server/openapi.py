"""The OpenAPI document of the HTTP API (kept by hand: the hot path is plain ASGI)."""

from __future__ import annotations

from typing import Any

from headwater import __version__

_ERROR = {
    "type": "object",
    "properties": {
        "success": {"type": "boolean"},
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}
_RESULT = {
    "type": "object",
    "properties": {
        "success": {"type": "boolean"},
        "accepted": {"type": "integer"},
        "rejected": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "code": {"type": "string"},
                    "error": {"type": "string"},
                },
            },
        },
        "warnings": {"type": "array", "items": {"type": "object"}},
    },
}


def _collect(summary: str) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {
            "description": "Stored (on disk under fsync=always); rejected events are quarantined",
            "content": {"application/json": {"schema": _RESULT}},
        },
    }
    for code, text in [
        ("400", "Body not JSON / not a batch / invalid single event"),
        ("401", "Missing, unknown or revoked write key"),
        ("408", "Body too slow"),
        ("413", "Body or event too large"),
        ("415", "Unsupported Content-Encoding"),
        ("503", "Log not writable or overloaded: nothing stored, retry"),
    ]:
        responses[code] = {"description": text, "content": {"application/json": {"schema": _ERROR}}}
    return {
        "post": {
            "summary": summary,
            "security": [{"basic": []}, {"writeKey": []}],
            "requestBody": {
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "text/plain": {"schema": {"type": "string"}},
                }
            },
            "responses": responses,
        }
    }


def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/v1/batch": _collect("A Segment batch"),
        "/api/events": _collect("Event or array"),
    }
    for name in ("track", "identify", "page", "screen", "group", "alias"):
        paths[f"/v1/{name}"] = _collect(f"One {name} message")
        paths[f"/v1/{name[0]}"] = _collect(f"One {name} message (analytics.js short path)")
    paths["/v1/b"] = _collect("A batch (analytics.js short path)")
    for path, text in [
        ("/healthz", "Liveness"),
        ("/readyz", "Readiness: the log can be written"),
        ("/metrics", "Prometheus metrics"),
    ]:
        paths[path] = {"get": {"summary": text, "responses": {"200": {"description": "OK"}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Headwater", "version": __version__},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "basic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "write key as user, empty password",
                },
                "writeKey": {"type": "apiKey", "in": "header", "name": "X-Write-Key"},
                "admin": {"type": "http", "scheme": "bearer"},
            }
        },
    }
