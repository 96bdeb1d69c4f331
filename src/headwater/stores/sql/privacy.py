"""Suppression (migration 10, docs/privacy.md): keyed hashes of a suppressed person's ids.

Every id is kept as HMAC-SHA256 under a per-installation key (``privacy_settings``, made at first
use, part of the control plane), never as itself: a list of suppressed people is not a list of ids.
A subject is resolved through the realtime store's identity links, so every id ever linked to the
person is covered (a userId, the anonymous ids linked to it, alias previousIds).
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from datetime import UTC, datetime

from headwater.privacy.keyed import id_hash
from headwater.stores.sql.database import SqlDatabase

ANON = "anon:"  # how the realtime identity links name an anonymous id


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SqlPrivacy:
    def __init__(self, db: SqlDatabase) -> None:
        self.db = db
        self._key: bytes | None = None

    def key(self) -> bytes:
        """The installation's hashing key (made once, in one transaction, by whoever comes first)."""
        if self._key is None:
            with self.db.tx() as cur:
                cur.execute(self.db.q("SELECT value FROM privacy_settings WHERE name = 'hash_key'"))
                row = cur.fetchone()
                if row is None:
                    value = secrets.token_hex(32)
                    cur.execute(
                        self.db.q("INSERT INTO privacy_settings(name, value) VALUES ('hash_key', {p})"),
                        (value,),
                    )
                else:
                    value = row[0]
            self._key = bytes.fromhex(value)
        return self._key

    def hashed(self, identifier: str) -> str:
        return id_hash(self.key(), identifier)

    def resolve(self, subject: dict[str, str]) -> set[str]:
        """Every id of the person a subject ({"userId": ...} or {"anonymousId": ...}) names."""
        user = subject.get("userId")
        anonymous = subject.get("anonymousId")
        ids = {i for i in (user, anonymous) if i}
        with self.db.tx(write=False) as cur:
            if user is None and anonymous:
                cur.execute(
                    self.db.q("SELECT user_id FROM identities WHERE source = {p}"), (ANON + anonymous,)
                )
                row = cur.fetchone()
                user = row[0] if row else None
                if user:
                    ids.add(user)
            if user:
                cur.execute(self.db.q("SELECT source FROM identities WHERE user_id = {p}"), (user,))
                ids.update(s[len(ANON) :] if s.startswith(ANON) else s for (s,) in cur.fetchall())
        return ids

    def suppress(self, ids: Collection[str], regulation_id: str) -> int:
        """Suppress every id of a person (resolved by the caller) under this regulation."""
        hashes = sorted({self.hashed(i) for i in ids})
        now = _now()
        with self.db.tx() as cur:
            for h in hashes:
                cur.execute(
                    self.db.q("DELETE FROM suppressions WHERE id_hash = {p} AND regulation_id = {p}"),
                    (h, regulation_id),
                )
                cur.execute(
                    self.db.q(
                        "INSERT INTO suppressions(id_hash, regulation_id, created_at) VALUES ({p},{p},{p})"
                    ),
                    (h, regulation_id, now),
                )
        return len(hashes)

    def unsuppress(self, ids: Collection[str]) -> int:
        """Lift every suppression that covers one of these ids: all the ids each of those covered
        when it was made. The number of ids no longer suppressed."""
        hashes = [self.hashed(i) for i in ids]
        with self.db.tx() as cur:
            regulations: set[str] = set()
            for h in hashes:
                cur.execute(self.db.q("SELECT regulation_id FROM suppressions WHERE id_hash = {p}"), (h,))
                regulations.update(r for (r,) in cur.fetchall())
            lifted = 0
            for r in sorted(regulations):
                cur.execute(self.db.q("DELETE FROM suppressions WHERE regulation_id = {p}"), (r,))
                lifted += int(cur.rowcount or 0)
        return lifted

    def suppressed(self) -> frozenset[str]:
        with self.db.tx(write=False) as cur:
            cur.execute(self.db.q("SELECT DISTINCT id_hash FROM suppressions"))
            return frozenset(h for (h,) in cur.fetchall())
