"""Segment webhook sources (migration 9): per source name, the write key its events count under,
the shared secret of Segment's signatures (kept as given: an HMAC needs it) and the SHA-256 of a
per-source token. Regulations filed by a webhook (Segment's deletion requests) live beside them."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from headwater.accounts.secrets import digest
from headwater.stores.sql.database import SqlDatabase

COLUMNS = "name, write_key, secret, token_hash, created_at, updated_at"
_COLUMNS = "id, type, subject, status, origin, created_at, updated_at, progress"
_KEYS = ("id", "type", "subject", "status", "origin", "created_at", "updated_at", "progress")
#: the regulation types that delete stored data
DELETIONS = ("SUPPRESS_WITH_DELETE", "DELETE_ONLY")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def masked(secret: str | None) -> str | None:
    """How a secret is shown after it was set: its length and last two characters."""
    if not secret:
        return None
    return f"{'•' * 6}{secret[-2:]} ({len(secret)} characters)"


@dataclass(frozen=True, slots=True)
class WebhookSource:
    name: str
    write_key: str
    secret: str | None
    token_hash: str | None
    created_at: str
    updated_at: str

    def public(self) -> dict[str, Any]:
        return {
            "source": self.name,
            "write_key": self.write_key,
            "secret": masked(self.secret),
            "token": self.token_hash is not None,
            "url": f"/v1/webhooks/segment/{self.name}",
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class SqlWebhookSources:
    def __init__(self, db: SqlDatabase) -> None:
        self.db = db

    def get(self, name: str) -> WebhookSource | None:
        with self.db.tx(write=False) as cur:
            cur.execute(self.db.q(f"SELECT {COLUMNS} FROM webhook_sources WHERE name = {{p}}"), (name,))
            row = cur.fetchone()
        return WebhookSource(*row) if row else None

    def all(self) -> list[WebhookSource]:
        with self.db.tx(write=False) as cur:
            cur.execute(self.db.q(f"SELECT {COLUMNS} FROM webhook_sources ORDER BY name"))
            return [WebhookSource(*r) for r in cur.fetchall()]

    def configure(
        self, name: str, write_key: str, secret: str | None = None, new_token: bool = False
    ) -> tuple[WebhookSource, str | None]:
        """Set the source's secret (None: keep it) and, when asked, a new token (returned once)."""
        token = "hwwh_" + secrets.token_urlsafe(32) if new_token else None
        found = self.get(name)
        now = _now()
        with self.db.tx() as cur:
            if found is None:
                cur.execute(
                    self.db.q(
                        f"INSERT INTO webhook_sources({COLUMNS}) VALUES ({{p}},{{p}},{{p}},{{p}},{{p}},{{p}})"
                    ),
                    (name, write_key, secret, digest(token) if token else None, now, now),
                )
            else:
                cur.execute(
                    self.db.q(
                        "UPDATE webhook_sources SET write_key = {p}, secret = {p}, token_hash = {p},"
                        " updated_at = {p} WHERE name = {p}"
                    ),
                    (
                        write_key,
                        secret if secret is not None else found.secret,
                        digest(token) if token else found.token_hash,
                        now,
                        name,
                    ),
                )
        stored = self.get(name)
        assert stored is not None
        return stored, token

    def remove(self, name: str) -> bool:
        with self.db.tx() as cur:
            cur.execute(self.db.q("DELETE FROM webhook_sources WHERE name = {p}"), (name,))
            return bool(cur.rowcount)


class SqlRegulations:
    """Requests to delete or suppress a person's data (the privacy issue's Regulations API lists
    them; a Segment deletion request through a webhook files one, INITIALIZED until it runs)."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db

    def file(self, kind: str, subject: dict[str, Any], origin: str) -> dict[str, Any]:
        """A new regulation, INITIALIZED; the same request again while one waits or runs is that one
        (a retried delivery of Segment's deletion files nothing new)."""
        text = json.dumps(subject, sort_keys=True)
        wanted = {k: v for k, v in subject.items() if k != "linked"}
        with self.db.tx(write=False) as cur:
            cur.execute(
                self.db.q(
                    f"SELECT {_COLUMNS} FROM regulations WHERE status IN ('INITIALIZED', 'RUNNING')"
                    " AND type = {p} ORDER BY created_at"
                ),
                (kind,),
            )
            rows = cur.fetchall()
        for row in rows:
            entry = _entry(row)
            if {k: v for k, v in entry["subject"].items() if k != "linked"} == wanted:
                return entry
        now = _now()
        entry = {
            "id": "reg_" + secrets.token_hex(10),
            "type": kind,
            "subject": subject,
            "status": "INITIALIZED",
            "origin": origin,
            "created_at": now,
            "updated_at": now,
            "progress": {},
        }
        with self.db.tx() as cur:
            cur.execute(
                self.db.q(
                    "INSERT INTO regulations(id, type, subject, status, origin, created_at, updated_at)"
                    " VALUES ({p},{p},{p},{p},{p},{p},{p})"
                ),
                (entry["id"], kind, text, "INITIALIZED", origin, now, now),
            )
        return entry

    def update(
        self, regulation_id: str, status: str, progress: dict[str, Any], subject: dict[str, Any] | None = None
    ) -> None:
        """Set the status and progress (and the subject: a finished deletion keeps only hashes)."""
        with self.db.tx() as cur:
            if subject is not None:
                cur.execute(
                    self.db.q("UPDATE regulations SET subject = {p} WHERE id = {p}"),
                    (json.dumps(subject, sort_keys=True), regulation_id),
                )
            cur.execute(
                self.db.q(
                    "UPDATE regulations SET status = {p}, progress = {p}, updated_at = {p} WHERE id = {p}"
                ),
                (status, json.dumps(progress, sort_keys=True), _now(), regulation_id),
            )

    def get(self, regulation_id: str) -> dict[str, Any] | None:
        with self.db.tx(write=False) as cur:
            cur.execute(self.db.q(f"SELECT {_COLUMNS} FROM regulations WHERE id = {{p}}"), (regulation_id,))
            row = cur.fetchone()
        return _entry(row) if row else None

    def unfinished(self, types: tuple[str, ...] = DELETIONS) -> list[dict[str, Any]]:
        """Regulations of these types still to run (INITIALIZED or RUNNING), oldest first."""
        marks = ",".join("{p}" for _ in types)
        with self.db.tx(write=False) as cur:
            cur.execute(
                self.db.q(
                    f"SELECT {_COLUMNS} FROM regulations WHERE status IN ('INITIALIZED', 'RUNNING')"
                    f" AND type IN ({marks}) ORDER BY created_at, id"
                ),
                types,
            )
            return [_entry(r) for r in cur.fetchall()]

    def host_done(self, regulation_id: str, host: str, detail: dict[str, Any]) -> None:
        """A cluster host finished its own part of a deletion (its log files: privacy/hosts.py)."""
        with self.db.tx() as cur:
            cur.execute(
                self.db.q(
                    "INSERT INTO regulation_hosts(regulation_id, host, detail, finished_at)"
                    " VALUES ({p}, {p}, {p}, {p}) ON CONFLICT (regulation_id, host)"
                    " DO UPDATE SET detail = excluded.detail, finished_at = excluded.finished_at"
                ),
                (regulation_id, host, json.dumps(detail, sort_keys=True), _now()),
            )

    def hosts_done(self, regulation_id: str) -> dict[str, dict[str, Any]]:
        """The hosts that finished their part of a deletion: host -> what it did, and when."""
        with self.db.tx(write=False) as cur:
            cur.execute(
                self.db.q("SELECT host, detail, finished_at FROM regulation_hosts WHERE regulation_id = {p}"),
                (regulation_id,),
            )
            return {h: {**json.loads(d), "finished_at": at} for h, d, at in cur.fetchall()}

    def all(self, limit: int = 1000) -> list[dict[str, Any]]:
        with self.db.tx(write=False) as cur:
            cur.execute(
                self.db.q(
                    f"SELECT {_COLUMNS} FROM regulations ORDER BY created_at DESC, id LIMIT {int(limit)}"
                )
            )
            return [_entry(r) for r in cur.fetchall()]


def _entry(row: Any) -> dict[str, Any]:
    entry = dict(zip(_KEYS, row, strict=True))
    entry["subject"], entry["progress"] = json.loads(row[2]), json.loads(row[7])
    return entry


def public(entry: dict[str, Any]) -> dict[str, Any]:
    """A regulation as the API shows it: without the linked ids a running deletion works through."""
    subject = {k: v for k, v in entry["subject"].items() if k != "linked"}
    return entry | {"subject": subject}
