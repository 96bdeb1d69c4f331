"""The ``write_keys`` table's statements and row mapping, shared by the SQLite and PostgreSQL
stores (written with ``?`` placeholders; PostgreSQL swaps them for ``%s``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from headwater.stores.realtime.base import KeyNotFoundError, WriteKey

INSERT = "INSERT INTO write_keys(key, name, created_at, allowed_origins) VALUES (?, ?, ?, ?)"
REVOKE = (
    "UPDATE write_keys SET revoked_at = ? WHERE (key = ? OR name = ?) AND revoked_at IS NULL RETURNING key"
)


def select(include_revoked: bool) -> str:
    sql = "SELECT key, name, created_at, revoked_at, allowed_origins FROM write_keys"
    if not include_revoked:
        sql += " WHERE revoked_at IS NULL"
    return sql + " ORDER BY created_at, key"


def from_row(row: Sequence[Any], as_time: Callable[[Any], datetime]) -> WriteKey:
    return WriteKey(
        key=row[0],
        name=row[1],
        created_at=as_time(row[2]),
        revoked_at=as_time(row[3]) if row[3] else None,
        allowed_origins=tuple(row[4].split()),
    )


def revoked(key_or_name: str, revoked_keys: Iterable[str], every_key: list[WriteKey]) -> list[WriteKey]:
    """The keys just revoked, or KeyNotFoundError naming what was asked for."""
    keys = set(revoked_keys)
    if not keys:
        raise KeyNotFoundError(f"no active write key or source named {key_or_name!r}")
    return [k for k in every_key if k.key in keys]
