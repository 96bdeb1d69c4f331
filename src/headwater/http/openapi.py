"""/openapi.json, made from the route table (http/routes.py): paths, methods, parameters, request
bodies (JSON Schema from their msgspec types), every status a route can answer (the connection
layer's too) with its media types and body schema, and who may call each route.

tests/http/test_openapi_fuzz.py holds a live server to it with schemathesis."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from headwater import __version__
from headwater.http.auth import SESSION_COOKIE
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
_OBJECT: dict[str, Any] = {"type": "object"}
_STRING = {"type": "string"}


def _obj(required: str, **properties: Any) -> dict[str, Any]:
    """An object schema: ``required`` names the keys always there (space separated)."""
    return {"type": "object", "properties": properties, "required": required.split()}


_ARRAY = {"type": "array"}
_COLLECTED = _obj(
    "success accepted rejected",
    success={"const": True},
    accepted={"type": "integer", "minimum": 0},
    rejected={
        "type": "array",
        "items": _obj("index code error", index={"type": "integer"}, code=_STRING, error=_STRING),
    },
    warnings=_ARRAY,
)
_READY = _obj("status", status={"enum": ["ready", "not_ready"]}, writer=_STRING, checks=_OBJECT)
#: the JSON a route answers on success, where it is cheap to say (else: an object)
_ANSWERS: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/"): _obj("name version docs", name={"const": "headwater"}, version=_STRING, docs=_STRING),
    ("get", "/healthz"): _obj("status version", status={"const": "ok"}, version=_STRING),
    ("get", "/readyz"): _READY,
    ("get", "/openapi.json"): _obj("openapi info paths", openapi=_STRING, info=_OBJECT, paths=_OBJECT),
    ("get", "/v1/projects/{writeKey}/settings"): _obj(
        "integrations plan", integrations=_OBJECT, plan=_OBJECT
    ),
    ("post", "/v1/assign"): _obj("assignments", assignments=_ARRAY),
    ("get", "/api/v1/experiments"): _obj("experiments", experiments=_ARRAY),
    ("get", "/api/v1/metrics"): _obj(
        "metrics",
        metrics={
            "type": "array",
            "items": _obj("name doc options", name=_STRING, doc=_STRING, options=_ARRAY),
        },
    ),
    ("get", "/api/v1/metrics/{name}"): _obj(
        "metric start end tz", metric=_STRING, start=_STRING, end=_STRING
    ),
    ("get", "/api/v1/audiences"): _obj("audiences", audiences=_ARRAY),
    ("get", "/api/v1/dashboard/config"): _obj("version timezone today apis", apis=_OBJECT),
    ("post", "/api/v1/dashboard/metrics"): _obj("results", results=_ARRAY),
}
_TEXT = {"schema": _STRING}
_HTML = {"text/html": _TEXT}
#: what a route answers that is not ``_ERROR`` (4xx, 5xx) or ``_ANSWERS`` (2xx) as JSON, nor a
#: page's HTML (``_is_page``)
_CONTENT: dict[tuple[str, int], dict[str, Any]] = {
    ("/readyz", 503): {"application/json": {"schema": {"anyOf": [_READY, _ERROR]}}},
    ("/metrics", 200): {"text/plain": _TEXT},  # Prometheus' text format
    ("/api/v1/export/events", 200): {  # streamed, in the format asked for (docs/transfer.md)
        "application/x-ndjson": _TEXT,
        "text/csv": _TEXT,
        "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
    },
    ("/dashboard/static/{path}", 200): {"text/javascript": _TEXT, "text/css": _TEXT, "text/html": _TEXT},
    ("/dashboard/static/{path}", 404): {"text/plain": _TEXT},
}
#: where a POST creates (201, not 200); a PUT that may create lists 201 in its route's statuses
_CREATED = (
    "/api/v1/experiments",
    "/api/v1/audiences",
    "/api/v1/users",
    "/api/v1/tokens",
    "/api/v1/regulations",
)
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No content",
    303: "See other",
    304: "Not modified",
    307: "Temporary redirect",
    400: "Bad input: the error names the field or parameter",
    401: "Missing or wrong credential",
    403: "Not allowed: the origin, or the credential lacks the route's permission",
    404: "Not found",
    405: "Method not allowed",
    408: "The request (its head or its body) did not arrive in time",
    409: "Exists already (or, for a metric, the engine asked for is not configured)",
    413: "Too large",
    415: "Unsupported Content-Encoding or Content-Type",
    429: "Too many requests: retry after the Retry-After header's seconds",
    431: "The request head is too large or has too many headers",
    500: "The lake could not be read",
    502: "The warehouse refused the query",
    503: "Not available right now (or this address holds too many connections): retry",
}
#: answered by the connection layer (http/protocol.py) whatever the route: a head that does not come
#: whole in time (408) or is too large (431), and one address over its share of connections (503)
PROTOCOL_STATUSES = (408, 431, 503)
SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "none": [],
    "admin": [{"admin": []}, {"adminCookie": []}],
    "admin_cookie": [{"adminCookie": []}],
    "write_key": [{"basic": []}, {"writeKey": []}],
    "enrich_key": [{"enrichKey": []}, {"enrichKeyHeader": []}],
    "metrics": [{"admin": []}, {"adminCookie": []}, {"metricsToken": []}],
    # a Segment webhook source: its signature, its token, or both (whatever the source was given)
    "webhook": [{"webhookToken": []}, {"segmentSignature": []}, {"segmentSignature": [], "webhookToken": []}],
}
SCHEMES = {
    "basic": {"type": "http", "scheme": "basic", "description": "a source's write key as user, no password"},
    "writeKey": {"type": "apiKey", "in": "header", "name": "X-Write-Key"},
    "admin": {
        "type": "http",
        "scheme": "bearer",
        "description": "the admin token, or a user's API token (hwt_...) with the route's permission",
    },
    "adminCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "the dashboard's session (sign in at /dashboard/login); a change also needs"
        " the X-CSRF-Token header",
    },
    "enrichKey": {"type": "http", "scheme": "bearer", "description": "an enrich API key"},
    "enrichKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
    "metricsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "the metrics token (HEADWATER_METRICS_TOKEN), for /metrics only",
    },
    "segmentSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Signature",
        "description": "hex HMAC-SHA1 of the body (a batch: of its first element) with the source's secret",
    },
    "webhookToken": {"type": "apiKey", "in": "header", "name": "X-Webhook-Token"},
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
    statuses = {_success(route, method), *route.statuses, *PROTOCOL_STATUSES}
    if route.auth not in ("none", "admin_cookie"):  # without the cookie, the page redirects (303)
        statuses.add(401)
    if route.auth == "admin":  # checked before the handler (http/app.py): permission, media type
        statuses.add(403)
        if method in ("post", "put", "patch", "delete"):
            statuses.add(415)
    if method == "get":  # the statuses of the route's body (a GET beside a POST) are not a GET's
        statuses.discard(413)
    statuses.discard(0)
    op["responses"] = {str(status): _response(route, method, status) for status in sorted(statuses)}
    security = SECURITY[route.auth]
    op["security"] = security
    return op


def _success(route: Route, method: str) -> int:
    """The status of a request that succeeds (0: a redirect of ``route.statuses`` is the answer)."""
    if method == "post" and route.path in _CREATED:
        return 201
    if 204 in route.statuses:
        return 204
    if 307 in route.statuses or (method == "post" and 303 in route.statuses):
        return 0
    return 200


def _is_page(route: Route) -> bool:
    """An HTML page of the dashboard (not its static files nor its JSON data)."""
    return route.path.startswith("/dashboard") and not route.path.startswith(
        ("/dashboard/static/", "/dashboard/data/")
    )


def _response(route: Route, method: str, status: int) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": _STATUS_TEXT.get(status, "")}
    content = _CONTENT.get((route.path, status))
    if content is None and status in (204, 303, 304, 307):
        return answer
    if content is None and _is_page(route):  # a page, its form's refusals too; else errors as JSON
        content = {**_HTML, "application/json": {"schema": _ERROR}} if status >= 400 else _HTML
    if content is None and status >= 400:
        content = {"application/json": {"schema": _ERROR}}
    if content is None:
        collected = route.hot == "collect" and method == "post"
        schema = _COLLECTED if collected else _ANSWERS.get((method, route.path), _OBJECT)
        content = {"application/json": {"schema": schema}}
    answer["content"] = content
    return answer


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
