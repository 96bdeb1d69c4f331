"""/openapi.json, made from the route table (http/routes.py): paths, methods, parameters, request
bodies (JSON Schema from their msgspec types), statuses and who may call each route."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from headwater import __version__
from headwater.http.endpoint import Route

_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "required": ["code", "message"],
        },
        "success": {"type": "boolean"},
    },
    "required": ["error"],
}
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No content",
    303: "See other",
    304: "Not modified",
    307: "Temporary redirect",
    400: "Bad input: the error names the field or parameter",
    401: "Missing or wrong credential",
    403: "Origin not allowed",
    404: "Not found",
    405: "Method not allowed",
    408: "The body did not arrive in time",
    409: "Exists already",
    413: "Too large",
    415: "Unsupported encoding",
    500: "The lake could not be read",
    503: "Not available right now: retry",
}
SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "none": [],
    "admin": [{"admin": []}, {"adminCookie": []}],
    "admin_cookie": [{"adminCookie": []}],
    "write_key": [{"basic": []}, {"writeKey": []}],
    "enrich_key": [{"enrichKey": []}, {"enrichKeyHeader": []}],
    "metrics": [{"admin": []}, {"adminCookie": []}, {"metricsToken": []}],
}
SCHEMES = {
    "basic": {"type": "http", "scheme": "basic", "description": "a source's write key as user, no password"},
    "writeKey": {"type": "apiKey", "in": "header", "name": "X-Write-Key"},
    "admin": {"type": "http", "scheme": "bearer", "description": "the admin token"},
    "adminCookie": {"type": "apiKey", "in": "cookie", "name": "headwater_admin"},
    "enrichKey": {"type": "http", "scheme": "bearer", "description": "an enrich API key"},
    "enrichKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
    "metricsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "the metrics token (HEADWATER_METRICS_TOKEN), for /metrics only",
    },
}


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def _operation(route: Route, method: str, bodies: dict[Any, Any]) -> dict[str, Any]:
    declared = {p.name: p for p in route.params}
    parameters = []
    for name in _path_params(route.path):
        p = declared.pop(name, None)
        entry: dict[str, Any] = {"name": name, "in": "path", "required": True}
        entry["schema"] = p.schema if p else {"type": "string"}
        if p and p.description:
            entry["description"] = p.description
        parameters.append(entry)
    for p in declared.values():
        entry = {"name": p.name, "in": p.where, "required": p.required, "schema": p.schema}
        if p.description:
            entry["description"] = p.description
        parameters.append(entry)
    name = route.path.strip("/").replace("/", "_").replace("{", "").replace("}", "") or "index"
    op: dict[str, Any] = {"summary": route.title, "operationId": f"{method}_{name}"}
    if parameters:
        op["parameters"] = parameters
    if route.body is not None and method in ("post", "put", "patch"):
        schema = bodies[route.body]
        op["requestBody"] = {
            "required": True,
            "content": {media: {"schema": schema} for media in route.content},
        }
    ok = 201 if method == "post" and route.path in ("/api/v1/experiments", "/api/v1/audiences") else 200
    responses: dict[str, Any] = {str(ok): {"description": _STATUS_TEXT[ok]}}
    statuses = set(route.statuses)
    if route.auth not in ("none",):
        statuses.add(401)
    for status in sorted(statuses):
        answer: dict[str, Any] = {"description": _STATUS_TEXT.get(status, "")}
        if status >= 400:
            answer["content"] = {"application/json": {"schema": _ERROR}}
        responses[str(status)] = answer
    op["responses"] = responses
    security = SECURITY[route.auth]
    op["security"] = security
    return op


def openapi_document(routes: Iterable[Route]) -> dict[str, Any]:
    routes = list(routes)
    types = list(dict.fromkeys(r.body for r in routes if r.body is not None))
    schemas, components = msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
    bodies = dict(zip(types, schemas, strict=True))
    paths: dict[str, Any] = {}
    for route in routes:
        for method in route.methods:
            if method in ("HEAD", "OPTIONS"):
                continue
            paths.setdefault(route.path, {})[method.lower()] = _operation(route, method.lower(), bodies)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Headwater",
            "version": __version__,
            "description": "Segment-compatible collection, analytics, experiments, audiences and OpenRTB.",
        },
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": SCHEMES},
    }
