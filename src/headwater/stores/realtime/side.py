"""A feature's own tables in the realtime store (experiments, audiences, hourly stats ...).

Each such feature keeps its tables next to the realtime aggregates, created by the shared,
versioned migrations, and talks to them on a connection of its own: one connection behind a lock
(thread-safe), reconnected when PostgreSQL dropped it. SQL is written with ``?`` placeholders and
translated for psycopg.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from headwater.stores.realtime.base import StoreUnavailableError, open_realtime_store
from headwater.urls import mask_url


class SideTables:
    def __init__(self, url: str) -> None:
        open_realtime_store(url).close()  # applies pending migrations
        self.url = url
        self._pg = urlsplit(url).scheme != "sqlite"
        self._lock = threading.Lock()
        self._conn: Any = self._connect()

    def _connect(self) -> Any:
        if not self._pg:
            import sqlite3

            from headwater.stores.realtime.sqlite import sqlite_path

            conn = sqlite3.connect(
                sqlite_path(self.url), timeout=10.0, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA busy_timeout=10000")
            return conn
        import psycopg

        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            raise StoreUnavailableError(
                f"cannot connect to PostgreSQL at {mask_url(self.url)}: {lines[0]}"
            ) from exc

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self._pg else sql

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """A cursor inside one transaction (IMMEDIATE on SQLite: writers queue, never deadlock)."""
        with self._lock:
            if self._pg and (self._conn.closed or self._conn.broken):
                self._conn = self._connect()
            cur = self._conn.cursor()
            cur.execute("BEGIN" if self._pg else "BEGIN IMMEDIATE")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
