"""SQLite realtime store: the embedded default (one host; WAL so readers never block the writer)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit

from headwater.events.sessions import Session
from headwater.log.tailing.batch import TailReject
from headwater.stores.realtime import keys_sql
from headwater.stores.realtime import sqlite_realtime as rt
from headwater.stores.realtime.base import (
    DailyTotals,
    StoreUnavailableError,
    WriteKey,
    new_write_key,
    utcnow,
)
from headwater.stores.realtime.migrations import SQLITE


def sqlite_path(url: str) -> Path:
    parts = urlsplit(url)
    path = parts.path
    if parts.netloc:  # sqlite://relative/path is a mistake users make: be kind
        path = parts.netloc + path
    if not path or path == "/":
        raise StoreUnavailableError(f"sqlite URL {url!r} names no file: use sqlite:///path/to/file.sqlite3")
    return Path(path)


class SqliteRealtimeStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.path = sqlite_path(url)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=10000")
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailableError(f"cannot open SQLite store {self.path}: {exc}") from exc

    # -- schema ---------------------------------------------------------------------------
    def schema_version(self) -> int:
        self._db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
        row = self._db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
        return int(row[0])

    def upgrade(self) -> list[int]:
        applied = []
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self.schema_version()  # creates schema_migrations if needed
            done = {r[0] for r in self._db.execute("SELECT version FROM schema_migrations")}
            for version, sql in sorted(SQLITE):
                if version not in done:  # by set, not max: a gap left for another branch is safe
                    for statement in filter(str.strip, sql.split(";")):
                        self._db.execute(statement)
                    self._db.execute("INSERT INTO schema_migrations(version) VALUES (?)", (version,))
                    applied.append(version)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return applied

    # -- realtime aggregates -----------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[rt.SqliteRealtimeTx]:
        with rt.write_transaction(self._db) as tx:
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

    # -- write keys -----------------------------------------------------------------------
    def create_key(self, name: str, allowed_origins: tuple[str, ...] = ()) -> WriteKey:
        wk = WriteKey(key=new_write_key(), name=name, created_at=utcnow(), allowed_origins=allowed_origins)
        self._db.execute(
            keys_sql.INSERT, (wk.key, wk.name, wk.created_at.isoformat(), " ".join(allowed_origins))
        )
        return wk

    def list_keys(self, include_revoked: bool = False) -> list[WriteKey]:
        rows = self._db.execute(keys_sql.select(include_revoked)).fetchall()
        return [keys_sql.from_row(r, datetime.fromisoformat) for r in rows]

    def revoke_key(self, key_or_name: str) -> list[WriteKey]:
        cur = self._db.execute(keys_sql.REVOKE, (utcnow().isoformat(), key_or_name, key_or_name))
        done = [r[0] for r in cur.fetchall()]
        return keys_sql.revoked(key_or_name, done, self.list_keys(include_revoked=True))

    def close(self) -> None:
        self._db.close()
