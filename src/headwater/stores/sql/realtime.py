"""The realtime store on SQL: one class over both backends, the statements from each dialect's
module (realtime_sqlite, realtime_postgres)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime

from headwater.events.sessions import Session
from headwater.log.tailing.batch import TailReject
from headwater.stores.sql.database import SqlDatabase
from headwater.stores.sql.dialect import dialect_for
from headwater.stores.sql.ports import DailyTotals, RealtimeTx


class SqlRealtimeStore:
    """A RealtimeStore (headwater.stores.sql.ports) on a connection of its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statements = dialect_for(url).realtime()
        # the aggregates are rebuilt from the log: their commits need not wait for the disk
        self.db = SqlDatabase(url, durable=False, on_connect=self.statements.prepare)

    @contextmanager
    def transaction(self) -> Iterator[RealtimeTx]:
        with self.db.connection() as conn, self.statements.write_transaction(conn) as tx:
            yield tx

    def load_checkpoint(self, tailer: str) -> dict[str, int]:
        with self.db.connection() as conn:
            return self.statements.load_checkpoint(conn, tailer)

    def daily(self, day: date) -> DailyTotals:
        with self.db.connection() as conn:
            return self.statements.daily(conn, day)

    def sessions(self, active_at: datetime | None = None, limit: int = 100) -> tuple[int, list[Session]]:
        with self.db.connection() as conn:
            return self.statements.sessions(conn, active_at, limit)

    def identities(self, keys: Collection[str]) -> dict[str, str]:
        """The stored link of each of these keys that has one (a read: the live tailer asks)."""
        wanted = list(keys)
        out: dict[str, str] = {}
        with self.db.tx(write=False) as cur:
            for i in range(0, len(wanted), 500):
                part = wanted[i : i + 500]
                marks = ", ".join("{p}" for _ in part)
                cur.execute(
                    self.db.q(f"SELECT source, user_id FROM identities WHERE source IN ({marks})"), part
                )
                out.update((str(source), str(user)) for source, user in cur.fetchall())
        return out

    def quarantined(self, tailer: str) -> list[TailReject]:
        with self.db.connection() as conn:
            return self.statements.quarantined(conn, tailer)

    def reset_realtime(
        self,
        tailer: str,
        from_day: date | None = None,
        since: datetime | None = None,
        files: Iterable[str] = (),
    ) -> None:
        with self.db.connection() as conn:
            self.statements.reset(conn, tailer, from_day, since, files)

    def forget(self, ids: Collection[str]) -> dict[str, int]:
        with self.db.connection() as conn:
            return self.statements.forget(conn, ids)

    def close(self) -> None:
        self.db.close()


def open_realtime_store(url: str, migrate: bool = True) -> SqlRealtimeStore:
    """The realtime store named by ``url`` (sqlite:///path, postgresql://...)."""
    store = SqlRealtimeStore(url)
    if migrate:
        try:
            store.db.upgrade()
        except BaseException:
            store.close()
            raise
    return store
