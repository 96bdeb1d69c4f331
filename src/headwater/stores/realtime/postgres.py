"""PostgreSQL realtime store (psycopg 3). A broken connection (server restarted) is replaced on
next use, so callers only have to retry."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import psycopg

from headwater.events.sessions import Session
from headwater.log.tailing.batch import TailReject
from headwater.stores.realtime import keys_sql
from headwater.stores.realtime import postgres_realtime as rt
from headwater.stores.realtime.base import (
    DailyTotals,
    StoreUnavailableError,
    WriteKey,
    new_write_key,
    utcnow,
)
from headwater.stores.realtime.migrations import POSTGRES
from headwater.urls import mask_url

_LOCK_ID = 0x4857_0001  # advisory lock serializing migrations across processes


class PostgresRealtimeStore:
    def __init__(self, url: str, connect_timeout: float = 5.0) -> None:
        self.url = url
        self.connect_timeout = int(max(1, connect_timeout))
        self._conn = self._connect()
        self._temp_ready = False

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=self.connect_timeout)
        except psycopg.Error as exc:
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            raise StoreUnavailableError(
                f"cannot connect to PostgreSQL at {mask_url(self.url)}: {lines[0]}"
            ) from exc

    @property
    def _db(self) -> psycopg.Connection[Any]:
        if self._conn.closed or self._conn.broken:
            self._conn.close()
            self._conn = self._connect()
            self._temp_ready = False
        return self._conn

    # -- realtime aggregates -----------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[rt.PostgresRealtimeTx]:
        db = self._db
        if not self._temp_ready:
            db.execute(rt.TEMP_TABLES.encode())
            self._temp_ready = True
        with rt.write_transaction(db) as tx:
            yield tx

    def load_checkpoint(self, tailer: str) -> dict[str, int]:
        return rt.load_checkpoint(self._db, tailer)

    def daily(self, day: date) -> DailyTotals:
        return rt.daily(self._db, day)

    def sessions(self, active_at: datetime | None = None, limit: int = 100) -> tuple[int, list[Session]]:
        return rt.sessions(self._db, active_at, limit)

    def quarantined(self, tailer: str) -> list[TailReject]:
        return rt.quarantined(self._db, tailer)

    def reset_realtime(
        self,
        tailer: str,
        from_day: date | None = None,
        since: datetime | None = None,
        files: Iterable[str] = (),
    ) -> None:
        rt.reset(self._db, tailer, from_day, since, files)

    def schema_version(self) -> int:
        self._db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
        row = self._db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
        return int(row[0]) if row else 0

    def upgrade(self) -> list[int]:
        applied = []
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            self.schema_version()  # creates schema_migrations if needed
            done = {r[0] for r in self._db.execute("SELECT version FROM schema_migrations").fetchall()}
            for version, sql in sorted(POSTGRES):
                if version not in done:  # by set, not max: a gap left for another branch is safe
                    self._db.execute(sql.encode())
                    self._db.execute("INSERT INTO schema_migrations(version) VALUES (%s)", (version,))
                    applied.append(version)
        return applied

    def create_key(self, name: str, allowed_origins: tuple[str, ...] = ()) -> WriteKey:
        wk = WriteKey(key=new_write_key(), name=name, created_at=utcnow(), allowed_origins=allowed_origins)
        self._db.execute(_pg(keys_sql.INSERT), (wk.key, wk.name, wk.created_at, " ".join(allowed_origins)))
        return wk

    def list_keys(self, include_revoked: bool = False) -> list[WriteKey]:
        rows = self._db.execute(_pg(keys_sql.select(include_revoked))).fetchall()
        return [keys_sql.from_row(r, _same) for r in rows]

    def revoke_key(self, key_or_name: str) -> list[WriteKey]:
        rows = self._db.execute(_pg(keys_sql.REVOKE), (utcnow(), key_or_name, key_or_name)).fetchall()
        return keys_sql.revoked(key_or_name, [r[0] for r in rows], self.list_keys(include_revoked=True))

    def close(self) -> None:
        self._conn.close()


def _pg(sql: str) -> bytes:
    """A ``?`` statement for psycopg (``%s``), as bytes: psycopg takes composed SQL or bytes."""
    return sql.replace("?", "%s").encode()


def _same(value: datetime) -> datetime:
    return value
