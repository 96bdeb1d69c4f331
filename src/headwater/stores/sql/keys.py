"""The sources' write keys (table ``write_keys``), on either backend."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from headwater.stores.sql.database import SqlDatabase
from headwater.stores.sql.ports import KeyNotFoundError, WriteKey, new_write_key, utcnow

COLUMNS = "key, name, created_at, revoked_at, allowed_origins"


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


class SqlWriteKeys:
    """A WriteKeyStore (headwater.stores.sql.ports) on a SqlDatabase."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db

    def create_key(self, name: str, allowed_origins: tuple[str, ...] = ()) -> WriteKey:
        wk = WriteKey(key=new_write_key(), name=name, created_at=utcnow(), allowed_origins=allowed_origins)
        with self.db.tx() as cur:
            cur.execute(
                self.db.q(
                    "INSERT INTO write_keys(key, name, created_at, allowed_origins)"
                    " VALUES ({p}, {p}, {p}, {p})"
                ),
                (wk.key, wk.name, self.db.dialect.timestamp(wk.created_at), " ".join(allowed_origins)),
            )
        return wk

    def list_keys(self, include_revoked: bool = False) -> list[WriteKey]:
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        with self.db.tx(write=False) as cur:
            cur.execute(self.db.q(f"SELECT {COLUMNS} FROM write_keys{where} ORDER BY created_at, key"))
            rows = cur.fetchall()
        return [
            WriteKey(r[0], r[1], _time(r[2]), _time(r[3]) if r[3] else None, tuple(r[4].split()))
            for r in rows
        ]

    def revoke_key(self, key_or_name: str) -> list[WriteKey]:
        with self.db.tx() as cur:
            cur.execute(
                self.db.q(
                    "UPDATE write_keys SET revoked_at = {p} WHERE (key = {p} OR name = {p})"
                    " AND revoked_at IS NULL RETURNING key"
                ),
                (self.db.dialect.timestamp(utcnow()), key_or_name, key_or_name),
            )
            done = {r[0] for r in cur.fetchall()}
        if not done:
            raise KeyNotFoundError(f"no active write key or source named {key_or_name!r}")
        return [k for k in self.list_keys(include_revoked=True) if k.key in done]
