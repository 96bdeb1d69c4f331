"""Audience definitions, their sizes over time, the enrich endpoint's API keys and its settings.

Tables of migration 5 in the realtime store (SQLite or PostgreSQL). The catalog opens its own
database handle from the store's URL, so it never shares a connection with the realtime tailer.
SQL is written once, with ``{p}`` placeholders (stores.sql.dialect). Timestamps are stored as
fixed-width UTC text in both dialects.

Enrich API keys are secrets: only their SHA-256 is stored (``sha256:<hex>`` in ``key``, migration 8)
with a hint (the key's first characters) to tell them apart. A key is shown once, by create_key;
plain keys written by earlier versions are hashed in place when the catalog opens.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from headwater.stores.sql.database import SqlDatabase, open_database
from headwater.stores.sql.definitions import now_text, put_definition
from headwater.stores.sql.ports import KeyNotFoundError


@dataclass(frozen=True, slots=True)
class StoredAudience:
    id: str
    definition: dict[str, Any]
    created_at: str
    updated_at: str


#: prefix of a stored enrich key's hash; a stored key without it is a plain key of an earlier version
HASHED = "sha256:"


def key_digest(key: str) -> str:
    """The hex SHA-256 of an enrich key: what is stored, and what a presented key is checked against."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_hint(key: str) -> str:
    """What is shown of a key once it is stored: its first 10 characters (``hwrtb_AbCd…``)."""
    return key[:10] + "\u2026"


@dataclass(frozen=True, slots=True)
class EnrichKey:
    digest: str  # hex SHA-256 of the key
    hint: str  # the key's first characters, e.g. 'hwrtb_AbCd…'
    name: str
    created_at: str
    revoked_at: str | None = None
    key: str = ""  # the key itself: only in what create_key returns, never stored nor listed


def _stored_key(row: tuple[Any, ...]) -> EnrichKey:
    stored, hint, name, created_at, revoked_at = row
    if stored.startswith(HASHED):
        return EnrichKey(stored[len(HASHED) :], hint, name, created_at, revoked_at)
    # plain, written by an earlier version after this catalog opened: hashed at its next opening
    return EnrichKey(key_digest(stored), key_hint(stored), name, created_at, revoked_at)


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
        try:
            self._hash_plain_keys()
        except BaseException:
            self.db.close()
            raise

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
        created_at, updated_at, created = put_definition(self.db, "audiences", definition, create_only)
        return StoredAudience(str(definition["id"]), definition, created_at, updated_at), created

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
        """A new key; the only time the key itself is returned (what is stored is its hash)."""
        plain = "hwrtb_" + secrets.token_urlsafe(24)
        key = EnrichKey(key_digest(plain), key_hint(plain), name, now_text(), key=plain)
        with self.db.tx() as cur:
            cur.execute(
                self.db.q("INSERT INTO openrtb_keys(key, hint, name, created_at) VALUES ({p},{p},{p},{p})"),
                (HASHED + key.digest, key.hint, key.name, key.created_at),
            )
        return key

    def list_keys(self, include_revoked: bool = False) -> list[EnrichKey]:
        """The keys' hashes and hints (never the keys: they are not stored)."""
        where = "" if include_revoked else "WHERE revoked_at IS NULL"
        rows = self._all(
            f"SELECT key, hint, name, created_at, revoked_at FROM openrtb_keys {where} ORDER BY created_at"
        )
        return [_stored_key(r) for r in rows]

    def revoke_key(self, key_or_name: str) -> list[EnrichKey]:
        """Revoke the active keys matching the full key, a name or a hint (with or without its '…')."""
        self._hash_plain_keys()  # one written meanwhile by an earlier version: matched by its hash
        stamp = now_text()
        digest = key_digest(key_or_name)
        found = [
            k
            for k in self.list_keys()
            if digest == k.digest or key_or_name in (k.name, k.hint, k.hint.rstrip("\u2026"))
        ]
        if not found:
            raise KeyNotFoundError(f"no active OpenRTB key, key name or key hint {key_or_name!r}")
        with self.db.tx() as cur:
            for k in found:
                cur.execute(
                    self.db.q("UPDATE openrtb_keys SET revoked_at = {p} WHERE key = {p}"),
                    (stamp, HASHED + k.digest),
                )
        return found

    def _hash_plain_keys(self) -> int:
        """Hash in place the plain keys an earlier version stored, in one transaction; idempotent
        (and safe when several processes open the catalog at once). Returns how many it hashed."""
        pattern = HASHED + "%"
        if not self._all("SELECT key FROM openrtb_keys WHERE key NOT LIKE {p}", (pattern,)):
            return 0  # the usual case: a read, no write lock
        sqlite = self.db.dialect.name == "sqlite"
        if sqlite:  # the plain key's bytes are zeroed, not left in free space
            with self.db.connection() as conn:
                conn.execute("PRAGMA secure_delete = ON")
        done = 0
        with self.db.tx() as cur:
            cur.execute(self.db.q("SELECT key FROM openrtb_keys"))
            stored = {str(r[0]) for r in cur.fetchall()}
            for plain in sorted(k for k in stored if not k.startswith(HASHED)):
                hashed = HASHED + key_digest(plain)
                if hashed in stored:  # already there hashed: the plain copy goes
                    cur.execute(self.db.q("DELETE FROM openrtb_keys WHERE key = {p}"), (plain,))
                else:
                    cur.execute(
                        self.db.q("UPDATE openrtb_keys SET key = {p}, hint = {p} WHERE key = {p}"),
                        (hashed, key_hint(plain), plain),
                    )
                done += cur.rowcount
        if sqlite and done:  # best effort: the old pages leave the write-ahead log too
            with self.db.connection() as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return done

    # -- settings -----------------------------------------------------------------------------
    def settings(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self._all("SELECT name, value FROM targeting_settings")}

    def set_setting(self, name: str, value: str) -> None:
        with self.db.tx() as cur:
            cur.execute(self.db.q("DELETE FROM targeting_settings WHERE name = {p}"), (name,))
            cur.execute(
                self.db.q("INSERT INTO targeting_settings(name, value) VALUES ({p}, {p})"), (name, value)
            )
