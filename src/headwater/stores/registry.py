"""Every store backend by URL scheme: where its code lives, the extra it needs, what it can do.

The one place that knows backends apart. Everything that used to test a scheme or a type (the
settings' validation, ``serve --workers N``, the openers) reads these declarations instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from headwater.urls import mask_url, scheme_of

Kind = Literal["sql", "live", "warehouse", "objects"]


@dataclass(frozen=True, slots=True)
class Backend:
    scheme: str
    kind: Kind
    module: str  # the module that opens it
    extra: str | None  # the pip extra its driver comes with (None: the standard library)
    example: str
    #: lives inside one process: two processes (workers, the CLI) each see their own
    in_process: bool = False
    #: several processes (HTTP workers, the background process) may use it at once
    shared_by_workers: bool = True


BACKENDS: tuple[Backend, ...] = (
    Backend("sqlite", "sql", "headwater.stores.sql.sqlite", None, "sqlite:///path/to/file.sqlite3"),
    Backend("postgresql", "sql", "headwater.stores.sql.postgres", "postgres", "postgresql://user@host/db"),
    Backend("postgres", "sql", "headwater.stores.sql.postgres", "postgres", "postgres://user@host/db"),
    Backend(
        "memory",
        "live",
        "headwater.stores.live.memory",
        None,
        "memory://",
        in_process=True,
        shared_by_workers=False,
    ),
    Backend("redis", "live", "headwater.stores.live.redis", "redis", "redis://host:6379/0"),
    Backend("rediss", "live", "headwater.stores.live.redis", "redis", "rediss://host:6380/0"),
    Backend(
        "redis+cluster", "live", "headwater.stores.live.redis", "redis", "redis+cluster://host:port,host:port"
    ),
    Backend(
        "bigquery",
        "warehouse",
        "headwater.stores.warehouse.bigquery",
        "bigquery",
        "bigquery://PROJECT/DATASET?location=EU",
    ),
    Backend("gs", "objects", "headwater.stores.objects.gcs", "gcs", "gs://BUCKET/PREFIX"),
    Backend("s3", "objects", "headwater.stores.objects.s3", "s3", "s3://BUCKET/PREFIX"),
)


class UnknownBackendError(ValueError):
    """A URL whose scheme no backend of that kind has; the message lists the ones that exist."""


def schemes(kind: Kind) -> list[str]:
    return [b.scheme for b in BACKENDS if b.kind == kind]


def backend_for(url: str, kind: Kind) -> Backend:
    scheme = scheme_of(url)
    for backend in BACKENDS:
        if backend.scheme == scheme and backend.kind == kind:
            return backend
    examples = " or ".join(b.example for b in BACKENDS if b.kind == kind and b.scheme != "postgres")
    what = {
        "sql": "realtime store (database)",
        "live": "live store",
        "warehouse": "warehouse",
        "objects": "object store (HEADWATER_OBJECT_STORE_URL)",
    }[kind]
    raise UnknownBackendError(f"unsupported {what} URL {mask_url(url)!r}: use {examples}")


def missing_extra(backend: Backend) -> str:
    """The message for a backend whose driver is not installed."""
    return f"{backend.scheme}:// needs the {backend.extra!r} extra: pip install 'headwater[{backend.extra}]'"
