"""What the route table (http/routes.py) says of each route; /openapi.json is made from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from headwater.accounts.roles import Permission

Auth = Literal["none", "admin", "admin_cookie", "write_key", "enrich_key", "metrics", "webhook"]
Hot = Literal["", "collect", "enrich"]

#: a framework route's body limit unless its line in http/routes.py says otherwise
DEFAULT_MAX_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    where: Literal["query", "path"] = "query"
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    description: str = ""
    required: bool = False


@dataclass(frozen=True, slots=True)
class Route:
    path: str  # OpenAPI syntax: /api/v1/experiments/{key}
    methods: tuple[str, ...]
    handler: Callable[..., Any] | None  # None for the hot paths (see ``hot``)
    auth: Auth = "admin"
    params: tuple[Param, ...] = ()
    body: Any = None  # a msgspec type: the JSON request body
    statuses: tuple[int, ...] = (400,)  # answered besides 200 (and 401 where a credential is needed)
    summary: str = ""  # default: the handler's docstring's first line
    hot: Hot = ""  # dispatched ahead of the framework, as plain ASGI
    mount_path: str | None = None  # the router's path, where it differs ({path:path})
    content: tuple[str, ...] = ("application/json",)  # request body media types
    # the largest body the handler reads (413 beyond, 408 past body_timeout_seconds: http/body.py);
    # the hot paths have their own: collection HEADWATER_MAX_REQUEST_BYTES, enrichment 5 MiB
    max_body: int = DEFAULT_MAX_BODY
    # what a principal needs (auth "admin" routes: http/auth.py, accounts/roles.py): to read (GET)
    # and to change (every other method)
    reads: Permission = "read"
    writes: Permission = "admin"

    def needs(self, method: str) -> Permission:
        return self.reads if method in ("GET", "HEAD", "OPTIONS") else self.writes

    @property
    def title(self) -> str:
        if self.summary:
            return self.summary
        doc = (getattr(self.handler, "__doc__", None) or "").strip()
        return doc.splitlines()[0].rstrip(".") if doc else self.path
