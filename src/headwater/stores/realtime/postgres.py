"""PostgreSQL realtime store (psycopg 3)."""

from __future__ import annotations

import psycopg

from headwater.config import mask_url
from headwater.stores.realtime.base import (
    KeyNotFoundError,
    StoreUnavailableError,
    WriteKey,
    new_write_key,
    utcnow,
)
from headwater.stores.realtime.migrations import POSTGRES

_LOCK_ID = 0x4857_0001  # advisory lock serializing migrations across processes


class PostgresRealtimeStore:
    def __init__(self, url: str, connect_timeout: float = 5.0) -> None:
        self.url = url
        try:
            self._db = psycopg.connect(url, autocommit=True, connect_timeout=int(max(1, connect_timeout)))
        except psycopg.Error as exc:
            raise StoreUnavailableError(
                f"cannot connect to PostgreSQL at {mask_url(url)}: {str(exc).strip().splitlines()[0]}"
            ) from exc

    def schema_version(self) -> int:
        self._db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
        row = self._db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
        return int(row[0]) if row else 0

    def upgrade(self) -> list[int]:
        applied = []
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            current = self.schema_version()
            for version, sql in POSTGRES:
                if version > current:
                    self._db.execute(sql.encode())
                    self._db.execute("INSERT INTO schema_migrations(version) VALUES (%s)", (version,))
                    applied.append(version)
        return applied

    def create_key(self, name: str, allowed_origins: tuple[str, ...] = ()) -> WriteKey:
        wk = WriteKey(key=new_write_key(), name=name, created_at=utcnow(), allowed_origins=allowed_origins)
        self._db.execute(
            "INSERT INTO write_keys(key, name, created_at, allowed_origins) VALUES (%s, %s, %s, %s)",
            (wk.key, wk.name, wk.created_at, " ".join(allowed_origins)),
        )
        return wk

    def list_keys(self, include_revoked: bool = False) -> list[WriteKey]:
        sql = "SELECT key, name, created_at, revoked_at, allowed_origins FROM write_keys"
        if not include_revoked:
            sql += " WHERE revoked_at IS NULL"
        rows = self._db.execute((sql + " ORDER BY created_at, key").encode()).fetchall()
        return [
            WriteKey(
                key=r[0], name=r[1], created_at=r[2], revoked_at=r[3], allowed_origins=tuple(r[4].split())
            )
            for r in rows
        ]

    def revoke_key(self, key_or_name: str) -> list[WriteKey]:
        rows = self._db.execute(
            "UPDATE write_keys SET revoked_at = %s WHERE (key = %s OR name = %s) AND revoked_at IS NULL "
            "RETURNING key",
            (utcnow(), key_or_name, key_or_name),
        ).fetchall()
        keys = {r[0] for r in rows}
        if not keys:
            raise KeyNotFoundError(f"no active write key or source named {key_or_name!r}")
        return [k for k in self.list_keys(include_revoked=True) if k.key in keys]

    def close(self) -> None:
        self._db.close()
