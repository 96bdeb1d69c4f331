"""SQLite: the embedded default (one host; WAL, so readers never block the writer)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from headwater.stores.sql import migrations
from headwater.stores.sql.dialect import RealtimeSql
from headwater.stores.sql.ports import StoreUnavailableError


def sqlite_path(url: str) -> Path:
    parts = urlsplit(url)
    path = parts.path
    if parts.netloc:  # sqlite://relative/path is a mistake users make: be kind
        path = parts.netloc + path
    if not path or path == "/":
        raise StoreUnavailableError(f"sqlite URL {url!r} names no file: use sqlite:///path/to/file.sqlite3")
    return Path(path)


class SqliteDialect:
    name = "sqlite"
    begin = "BEGIN IMMEDIATE"
    native_timestamps = False  # timestamps are fixed-width UTC text

    def connect(self, url: str, durable: bool = True) -> Any:
        path = sqlite_path(url)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk; NORMAL (the realtime aggregates, rebuilt from the log
            # anyway) may lose the last commits on power loss, never corrupts
            conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            conn.execute("PRAGMA busy_timeout=10000")
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailableError(f"cannot open SQLite store {path}: {exc}") from exc
        return conn

    def is_broken(self, conn: Any) -> bool:
        return False

    def sql(self, template: str) -> str:
        return template.format(p="?")

    def timestamp(self, moment: datetime) -> str:
        return moment.astimezone(UTC).isoformat()

    def schema_version(self, conn: Any) -> int:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
        return int(row[0])

    def upgrade(self, conn: Any) -> list[int]:
        applied = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            self.schema_version(conn)  # creates schema_migrations if needed
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            for version, sql in sorted(migrations.SQLITE):
                if version not in done:  # by set, not max: a gap left for another branch is safe
                    for statement in filter(str.strip, sql.split(";")):
                        conn.execute(statement)
                    conn.execute("INSERT INTO schema_migrations(version) VALUES (?)", (version,))
                    applied.append(version)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return applied

    def realtime(self) -> RealtimeSql:
        from headwater.stores.sql import realtime_sqlite

        return realtime_sqlite


DIALECT = SqliteDialect()
