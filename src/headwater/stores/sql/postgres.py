"""PostgreSQL (psycopg 3): the production realtime store. A connection the server dropped (it
restarted) is made again on next use, so callers only have to retry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from headwater.stores.sql import migrations
from headwater.stores.sql.dialect import RealtimeSql
from headwater.stores.sql.ports import StoreUnavailableError
from headwater.urls import mask_url

_LOCK_ID = 0x4857_0001  # advisory lock serializing migrations across processes
CONNECT_TIMEOUT_SECONDS = 5


class PostgresDialect:
    name = "postgresql"
    begin = "BEGIN"
    native_timestamps = True

    def connect(self, url: str, durable: bool = True) -> Any:
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
        except psycopg.Error as exc:
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            raise StoreUnavailableError(
                f"cannot connect to PostgreSQL at {mask_url(url)}: {lines[0]}"
            ) from exc

    def is_broken(self, conn: Any) -> bool:
        return bool(conn.closed or conn.broken)

    def sql(self, template: str) -> bytes:
        # psycopg takes composed SQL or bytes (a str query must be a literal to its type checker)
        return template.format(p="%s").encode()

    def timestamp(self, moment: datetime) -> datetime:
        return moment

    def schema_version(self, conn: Any) -> int:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
        return int(row[0]) if row else 0

    def upgrade(self, conn: Any) -> list[int]:
        applied = []
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            self.schema_version(conn)  # creates schema_migrations if needed
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations").fetchall()}
            for version, sql in sorted(migrations.POSTGRES):
                if version not in done:  # by set, not max: a gap left for another branch is safe
                    conn.execute(sql.encode())
                    conn.execute("INSERT INTO schema_migrations(version) VALUES (%s)", (version,))
                    applied.append(version)
        return applied

    def realtime(self) -> RealtimeSql:
        from headwater.stores.sql import realtime_postgres

        return realtime_postgres


DIALECT = PostgresDialect()
