"""What differs between the SQL backends, as one object each: connecting, placeholders, opening a
write transaction, binding timestamps, migrating, and the realtime aggregates' statements.

Statements shared by both backends are written once as templates with ``{p}`` where a parameter
goes; :meth:`Dialect.sql` renders a template for its driver (``?`` for sqlite3, ``%s`` for
psycopg). The realtime aggregates differ more than that (COPY into temp tables on PostgreSQL), so
each backend has its own module for them, named by its dialect.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Iterable
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any, Protocol

from headwater.events.sessions import Session
from headwater.log.tailing.batch import TailReject
from headwater.stores.registry import backend_for, missing_extra
from headwater.stores.sql.ports import DailyTotals, RealtimeTx, StoreUnavailableError


class RealtimeSql(Protocol):
    """The realtime aggregates' statements of one backend (modules realtime_sqlite, realtime_postgres)."""

    def prepare(self, db: Any) -> None:
        """Once per new connection (temporary tables ...)."""
        ...

    def write_transaction(self, db: Any) -> AbstractContextManager[RealtimeTx]: ...

    def load_checkpoint(self, db: Any, tailer: str) -> dict[str, int]: ...

    def daily(self, db: Any, day: date) -> DailyTotals: ...

    def sessions(self, db: Any, active_at: datetime | None, limit: int) -> tuple[int, list[Session]]: ...

    def quarantined(self, db: Any, tailer: str) -> list[TailReject]: ...

    def reset(
        self, db: Any, tailer: str, from_day: date | None, since: datetime | None, files: Iterable[str]
    ) -> None: ...

    def forget(self, db: Any, ids: Collection[str]) -> dict[str, int]: ...


class Dialect(Protocol):
    name: str
    #: the statement that opens a write transaction (SQLite: IMMEDIATE, so writers queue, never deadlock)
    begin: str
    #: timestamp columns hold timestamps (else fixed-width UTC text)
    native_timestamps: bool

    def connect(self, url: str, durable: bool = True) -> Any:
        """A DB-API connection in autocommit mode; StoreUnavailableError naming the masked URL.
        ``durable=False``: commits may skip the fsync (data rebuilt from the log anyway)."""
        ...

    def is_broken(self, conn: Any) -> bool:
        """The connection was lost (the server restarted): make a new one."""
        ...

    def sql(self, template: str) -> Any:
        """A ``{p}`` template as a statement of this driver."""
        ...

    def timestamp(self, moment: datetime) -> Any:
        """A UTC moment as a parameter of a timestamp column of the shared tables."""
        ...

    def upgrade(self, conn: Any) -> list[int]:
        """Apply pending migrations (one transaction, one migrating process at a time)."""
        ...

    def schema_version(self, conn: Any) -> int: ...

    def realtime(self) -> RealtimeSql: ...


def dialect_for(url: str) -> Dialect:
    """The dialect of a database URL (UnknownBackendError, or StoreUnavailableError naming the extra)."""
    backend = backend_for(url, "sql")
    try:
        module = importlib.import_module(backend.module)
    except ImportError as exc:
        raise StoreUnavailableError(missing_extra(backend)) from exc
    dialect: Dialect = module.DIALECT
    return dialect
