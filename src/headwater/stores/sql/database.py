"""One SQL database handle: a connection behind a lock (thread-safe), made again when the server
dropped it, and the migrations. Every SQL store of Headwater works through one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from headwater.stores.sql.dialect import Dialect, dialect_for


class SqlDatabase:
    def __init__(
        self, url: str, durable: bool = True, on_connect: Callable[[Any], None] | None = None
    ) -> None:
        self.url = url
        self.dialect: Dialect = dialect_for(url)
        self.durable = durable
        self.on_connect = on_connect
        self._lock = threading.RLock()
        self._templates: dict[str, Any] = {}
        self._conn: Any = self._connect()

    def _connect(self) -> Any:
        conn = self.dialect.connect(self.url, self.durable)
        if self.on_connect is not None:
            self.on_connect(conn)
        return conn

    def q(self, template: str) -> Any:
        """A ``{p}`` template rendered for this database's driver (rendered once)."""
        found = self._templates.get(template)
        if found is None:
            found = self._templates[template] = self.dialect.sql(template)
        return found

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """The live connection, for the length of the block (one thread at a time)."""
        with self._lock:
            if self.dialect.is_broken(self._conn):
                try:
                    self._conn.close()
                finally:
                    self._conn = self._connect()
            yield self._conn

    @contextmanager
    def tx(self, write: bool = True) -> Iterator[Any]:
        """A cursor inside one transaction: committed on normal exit, rolled back otherwise. A read
        (``write=False``) takes no write lock (SQLite: a deferred transaction)."""
        with self.connection() as conn:
            cur = conn.cursor()
            cur.execute(self.dialect.begin if write else "BEGIN")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()

    def upgrade(self) -> list[int]:
        """Apply pending migrations; return the versions applied."""
        with self.connection() as conn:
            return self.dialect.upgrade(conn)

    def schema_version(self) -> int:
        with self.connection() as conn:
            return self.dialect.schema_version(conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_database(url: str, migrate: bool = True, durable: bool = True) -> SqlDatabase:
    """The database named by ``url`` (sqlite:///path, postgresql://...), migrated unless told not to."""
    db = SqlDatabase(url, durable)
    if migrate:
        try:
            db.upgrade()
        except BaseException:
            db.close()
            raise
    return db
