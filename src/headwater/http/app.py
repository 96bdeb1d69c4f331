"""The ASGI application of one server process: the route table (http/routes.py) mounted, with the
hot paths (collection, OpenRTB enrichment) dispatched ahead of the framework as plain ASGI.

The lifespan builds the process's runtime (headwater.wiring) and stops it; handlers find it as
``request.app.state.runtime``. A route that takes a body reads it through http/body.py's reader,
within its ``max_body`` and the body deadline (:func:`limited`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute

from headwater.config import Settings
from headwater.http.auth import audit_note, authorize
from headwater.http.body import BodyReader, content_length
from headwater.http.collect import is_collection_path
from headwater.http.endpoint import Route
from headwater.http.enrich import asgi_enrich
from headwater.http.errors import HttpError, http_error_handler, not_found_handler
from headwater.http.routes import ROUTES, hot_paths
from headwater.runtime import Runtime
from headwater.wiring import start_runtime

Endpoint = Callable[[Request], Awaitable[Response]]
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def limited(handler: Endpoint, limit: int) -> Endpoint:
    """The handler, its request's body read within ``limit`` bytes and the body deadline (413, 408).

    Nothing is read until the handler reads: its credential check comes first."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        timeout: float = request.app.state.runtime.settings.body_timeout_seconds
        declared = content_length(request.headers.get("content-length"))
        reader = BodyReader(request.receive, limit, timeout, declared)
        return await handler(Request(request.scope, reader.receive))

    return endpoint


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _has_body(request: Request) -> bool:
    declared = content_length(request.headers.get("content-length"))
    return bool(declared) or "transfer-encoding" in request.headers


def guarded(route: Route, handler: Endpoint) -> Endpoint:
    """The handler, behind the route's credential and permission (http/auth.py: 401, 403), its body
    refused unless in one of the route's media types (415, before it is read), and every change it
    makes written to the audit log (who, what, to what)."""
    accepted = frozenset(route.content)
    takes_json = "application/json" in accepted

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        permission = route.needs(request.method)
        who = authorize(request, permission)
        if request.method in _BODY_METHODS and _has_body(request):
            media = _media_type(request)
            if media not in accepted and not (takes_json and media.endswith("+json")):
                raise HttpError(
                    415,
                    "unsupported_media_type",
                    f"Content-Type {media or '(none)'!r} is not accepted here: send {' or '.join(accepted)}",
                )
        response = await handler(request)
        accounts = request.app.state.runtime.accounts
        if permission != "read" and response.status_code < 400 and accounts is not None:
            target, detail = audit_note(request)
            await asyncio.to_thread(
                accounts.record,
                who.actor,
                f"{request.method} {route.path}",
                target,
                {"status": response.status_code, "via": who.via, **detail},
            )
        return response

    return endpoint


def framework_routes() -> list[StarletteRoute]:
    """The table's routes that go through Starlette, as Starlette routes."""
    routes = []
    for r in ROUTES:
        if r.hot or r.handler is None:
            continue
        handler = guarded(r, r.handler) if r.auth == "admin" else r.handler
        if _BODY_METHODS.intersection(r.methods):
            handler = limited(handler, r.max_body)
        routes.append(StarletteRoute(r.mount_path or r.path, handler, methods=list(r.methods)))
    return routes


class HeadwaterApp:
    """The ASGI application: the hot paths first, then the framework; the runtime once started."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._runtime: Runtime | None = None
        self.framework = Starlette(
            routes=framework_routes(),
            lifespan=self._lifespan,
            exception_handlers={HttpError: http_error_handler, 404: not_found_handler},
        )
        self.enrich_paths = hot_paths("enrich")

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            raise RuntimeError("the application has not started (its lifespan did not run)")
        return self._runtime

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        runtime = await start_runtime(self.settings)
        self._runtime = runtime
        app.state.runtime = runtime
        try:
            yield
        finally:
            await runtime.stop()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if is_collection_path(path):
                await self.runtime.collector(scope, receive, send)
                return
            if path in self.enrich_paths:  # a bidder's hot path: no framework either
                await asgi_enrich(self.runtime, scope, receive, send)
                return
        await self.framework(scope, receive, send)


def create_app(settings: Settings) -> HeadwaterApp:
    """The whole application for one worker process."""
    return HeadwaterApp(settings)
