"""The people routes (http/people_routes.py) as a small Starlette app over a running in-process
server's runtime, mounted as http/app.py mounts the route table (credential checked first)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.routing import Route as StarletteRoute

from headwater.http.app import guarded
from headwater.http.errors import HttpError, http_error_handler
from headwater.http.people_routes import PEOPLE_ROUTES
from headwater.runtime import Runtime


def people_app(runtime: Runtime) -> Starlette:
    routes = []
    for r in PEOPLE_ROUTES:
        assert r.handler is not None and r.auth == "admin"
        routes.append(StarletteRoute(r.mount_path or r.path, guarded(r, r.handler), methods=list(r.methods)))
    app = Starlette(routes=routes, exception_handlers={HttpError: http_error_handler})
    app.state.runtime = runtime
    return app


@contextlib.asynccontextmanager
async def people_client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=people_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://headwater.test") as client:
        yield client
