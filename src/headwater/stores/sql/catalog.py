"""What every table family of the control plane shares: a database opened from its URL (and
closed with the catalog), or one already open that it borrows and leaves open; a context
manager; reads in a read transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

from headwater.stores.sql.database import SqlDatabase, open_database


class SqlCatalog:
    """Thread-safe (one connection behind a lock); open one per use or keep one per process."""

    def __init__(self, url: str | None = None, db: SqlDatabase | None = None) -> None:
        if db is None and url is None:
            raise ValueError("a database URL or an open database")
        self.db: SqlDatabase = db if db is not None else open_database(str(url))
        self.url = self.db.url
        self._owned = db is None

    def close(self) -> None:
        if self._owned:
            self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.db.tx(write=False) as cur:
            cur.execute(self.db.q(sql), tuple(args))
            return list(cur.fetchall())
