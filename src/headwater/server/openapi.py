"""The OpenAPI document of the HTTP API (kept by hand: the hot path is plain ASGI)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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


def _describe(endpoint: Any) -> str:
    doc = (getattr(endpoint, "__doc__", None) or "").strip()
    return doc.splitlines()[0].rstrip(".") if doc else getattr(endpoint, "__name__", "").replace("_", " ")


def _route_paths(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, str, str]]:
    """(path, method, summary) of every mounted route (their docstrings give the summaries)."""
    for route in routes:
        path = prefix + getattr(route, "path", "")
        sub = getattr(route, "routes", None)
        if sub:  # a Mount
            yield from _route_paths(sub, path)
            continue
        methods = sorted((getattr(route, "methods", None) or {"GET"}) - {"HEAD", "OPTIONS"})
        for method in methods:
            yield path or "/", method.lower(), _describe(getattr(route, "endpoint", None))


def _security(path: str) -> list[dict[str, list[str]]]:
    if path.startswith("/api/v1/") or path.startswith("/dashboard/data"):
        return [{"admin": []}]
    if path.startswith("/dashboard"):
        return [{"adminCookie": []}]
    return []


def openapi_document(
    routes: Iterable[Any] = (), extra: Iterable[tuple[str, str, str]] = ()
) -> dict[str, Any]:
    """The collection API (by hand: plain ASGI), then every route mounted in the app (``routes``) and
    ``extra`` (path, method, summary) of the other plain ASGI endpoints."""
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
    for path, method, summary in [*_route_paths(routes), *extra]:
        if path in paths and method in paths[path]:
            continue
        op: dict[str, Any] = {"summary": summary, "responses": {"200": {"description": "OK"}}}
        security = _security(path)
        if security:
            op["security"] = security
            op["responses"]["401"] = {"description": "Missing or wrong admin token"}
        paths.setdefault(path, {})[method] = op
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
                "admin": {"type": "http", "scheme": "bearer", "description": "the admin token"},
                "adminCookie": {"type": "apiKey", "in": "cookie", "name": "headwater_admin"},
            }
        },
    }
