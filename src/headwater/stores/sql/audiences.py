"""Audience definitions, their sizes over time, the enrich endpoint's API keys and its settings.

Tables of migration 5 in the realtime store (SQLite or PostgreSQL). The catalog opens its own
database handle from the store's URL, so it never shares a connection with the realtime tailer.
SQL is written once, with ``{p}`` placeholders (stores.sql.dialect). Timestamps are stored as
fixed-width UTC text in both dialects.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from headwater.stores.sql.database import SqlDatabase, open_database
from headwater.stores.sql.ports import KeyNotFoundError


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class StoredAudience:
    id: str
    definition: dict[str, Any]
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class EnrichKey:
    key: str
    name: str
    created_at: str
    revoked_at: str | None = None


@dataclass(frozen=True, slots=True)
class SizePoint:
    audience_id: str
    measured_at: str
    source: str  # "live" or "nightly"
    size: int


class AudienceCatalog:
    """The audience side of the realtime store; thread-safe (one connection behind a lock)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db: SqlDatabase = open_database(url)

    def close(self) -> None:
        self.db.close()

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.db.tx(write=False) as cur:
            cur.execute(self.db.q(sql), tuple(args))
            return list(cur.fetchall())

    # -- audiences ----------------------------------------------------------------------------
    def list_audiences(self) -> list[StoredAudience]:
        rows = self._all("SELECT id, definition, created_at, updated_at FROM audiences ORDER BY id")
        return [StoredAudience(r[0], json.loads(r[1]), r[2], r[3]) for r in rows]

    def get_audience(self, audience_id: str) -> StoredAudience | None:
        rows = self._all(
            "SELECT id, definition, created_at, updated_at FROM audiences WHERE id = {p}", (audience_id,)
        )
        return StoredAudience(rows[0][0], json.loads(rows[0][1]), rows[0][2], rows[0][3]) if rows else None

    def put_audience(
        self, definition: dict[str, Any], create_only: bool = False
    ) -> tuple[StoredAudience, bool]:
        """Insert or replace (by id); (the stored audience, whether it was created). With
        ``create_only`` an existing id raises KeyError."""
        audience_id = str(definition["id"])
        text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
        stamp = now_text()
        with self.db.tx() as cur:
            cur.execute(self.db.q("SELECT created_at FROM audiences WHERE id = {p}"), (audience_id,))
            row = cur.fetchone()
            if row is not None and create_only:
                raise KeyError(audience_id)
            if row is None:
                cur.execute(
                    self.db.q(
                        "INSERT INTO audiences(id, definition, created_at, updated_at)"
                        " VALUES ({p},{p},{p},{p})"
                    ),
                    (audience_id, text, stamp, stamp),
                )
                return StoredAudience(audience_id, definition, stamp, stamp), True
            cur.execute(
                self.db.q("UPDATE audiences SET definition = {p}, updated_at = {p} WHERE id = {p}"),
                (text, stamp, audience_id),
            )
            return StoredAudience(audience_id, definition, row[0], stamp), False

    def delete_audience(self, audience_id: str) -> bool:
        with self.db.tx() as cur:
            cur.execute(self.db.q("DELETE FROM audiences WHERE id = {p}"), (audience_id,))
            return bool(cur.rowcount)

    def version(self) -> str:
        """Changes whenever a definition is created, updated or deleted (for caches)."""
        rows = self._all("SELECT COUNT(*), COALESCE(MAX(updated_at), '') FROM audiences")
        return f"{rows[0][0]}:{rows[0][1]}"

    # -- sizes over time ----------------------------------------------------------------------
    def record_sizes(self, sizes: dict[str, int], source: str, at: str | None = None) -> None:
        stamp = at or now_text()
        with self.db.tx() as cur:
            for audience_id, size in sizes.items():
                cur.execute(
                    self.db.q(
                        "INSERT INTO audience_sizes(audience_id, measured_at, source, size)"
                        " VALUES ({p},{p},{p},{p})"
                    ),
                    (audience_id, stamp, source, int(size)),
                )

    def sizes(self, audience_id: str | None = None, limit: int = 100) -> list[SizePoint]:
        where, args = ("WHERE audience_id = {p}", [audience_id]) if audience_id else ("", [])
        rows = self._all(
            f"SELECT audience_id, measured_at, source, size FROM audience_sizes {where}"
            f" ORDER BY measured_at DESC, audience_id LIMIT {int(limit)}",
            args,
        )
        return [SizePoint(r[0], r[1], r[2], int(r[3])) for r in rows]

    # -- API keys of POST /openrtb2/enrich ----------------------------------------------------
    def create_key(self, name: str) -> EnrichKey:
        key = EnrichKey("hwrtb_" + secrets.token_urlsafe(24), name, now_text())
        with self.db.tx() as cur:
            cur.execute(
                self.db.q("INSERT INTO openrtb_keys(key, name, created_at) VALUES ({p},{p},{p})"),
                (key.key, key.name, key.created_at),
            )
        return key

    def list_keys(self, include_revoked: bool = False) -> list[EnrichKey]:
        where = "" if include_revoked else "WHERE revoked_at IS NULL"
        rows = self._all(
            f"SELECT key, name, created_at, revoked_at FROM openrtb_keys {where} ORDER BY created_at"
        )
        return [EnrichKey(*r) for r in rows]

    def revoke_key(self, key_or_name: str) -> list[EnrichKey]:
        stamp = now_text()
        found = [k for k in self.list_keys() if key_or_name in (k.key, k.name)]
        if not found:
            raise KeyNotFoundError(f"no active OpenRTB key or key name {key_or_name!r}")
        with self.db.tx() as cur:
            for k in found:
                cur.execute(
                    self.db.q("UPDATE openrtb_keys SET revoked_at = {p} WHERE key = {p}"), (stamp, k.key)
                )
        return found

    # -- settings -----------------------------------------------------------------------------
    def settings(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self._all("SELECT name, value FROM targeting_settings")}

    def set_setting(self, name: str, value: str) -> None:
        with self.db.tx() as cur:
            cur.execute(self.db.q("DELETE FROM targeting_settings WHERE name = {p}"), (name,))
            cur.execute(
                self.db.q("INSERT INTO targeting_settings(name, value) VALUES ({p}, {p})"), (name, value)
            )
