"""Definitions kept as JSON by id (audiences, cohorts: tables ``(id, definition, created_at,
updated_at)``), written the same way for every kind."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from headwater.stores.sql.database import SqlDatabase

Kind = Literal["audiences", "cohorts"]
_P = "{p}"  # the dialect's placeholder, filled in by SqlDatabase.q


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def put_definition(
    db: SqlDatabase, table: Kind, definition: dict[str, Any], create_only: bool = False
) -> tuple[str, str, bool]:
    """Insert or replace the definition of ``definition["id"]``: (created_at, updated_at, whether it
    was created). With ``create_only`` an existing id raises KeyError."""
    key = str(definition["id"])
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    stamp = now_text()
    with db.tx() as cur:
        cur.execute(db.q(f"SELECT created_at FROM {table} WHERE id = {_P}"), (key,))
        row = cur.fetchone()
        if row is not None and create_only:
            raise KeyError(key)
        if row is None:
            insert = (
                f"INSERT INTO {table}(id, definition, created_at, updated_at) VALUES ({_P},{_P},{_P},{_P})"
            )
            cur.execute(db.q(insert), (key, text, stamp, stamp))
            return stamp, stamp, True
        update = f"UPDATE {table} SET definition = {_P}, updated_at = {_P} WHERE id = {_P}"
        cur.execute(db.q(update), (text, stamp, key))
        return str(row[0]), stamp, False
