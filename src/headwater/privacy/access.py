"""An access request (GDPR art. 15, CCPA "right to know"): everything Headwater holds of a person,
from every store, as NDJSON records ``{"store": ..., "kind": ..., ...}``:

- ``log`` / ``event``: every event line of the person in the raw log, as stored;
- ``lake`` / ``event``: the lake's rows of events the raw log no longer holds (retention);
- ``lake`` / ``traits``, ``sessions``, ``user_days``: the lake's rollups of the person;
- ``realtime`` / ``identity``, ``session``, ``active_day``: the realtime store's rows;
- ``live`` / ``assignments``, ``audiences``: sticky experiment assignments and audience membership.

Records come store by store and are written as they are found: nothing is held in memory whole.

An access request is a regulation (``ACCESS``) whichever way it is made, the API or the CLI
(:func:`file_access`), so the privacy status and the audit log show it. A ``memory://`` live store
lives inside the server's process: another process (the CLI) cannot read it (:func:`live_in_process`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

import msgspec

from headwater.config import Settings
from headwater.people.stores import STICKY_ATTRIBUTES, audience_memberships, realtime_rows, sticky_documents
from headwater.privacy.live_forget import OPTIONS
from headwater.stores.sql.database import SqlDatabase, open_database

__all__ = [
    "STICKY_ATTRIBUTES",
    "export_ids",
    "file_access",
    "keep_hashes",
    "live_in_process",
    "live_records",
    "person_records",
    "realtime_records",
    "write_records",
]


def person_records(
    settings: Settings, ids: Collection[str], live: Any | None = None, with_live: bool = True
) -> Iterator[dict[str, Any]]:
    """Every record of the person (see the module's docstring), store by store; the live store's
    only ``with_live``."""
    from headwater.lake.erase import person_events, person_rollup_rows
    from headwater.lake.layout import Lake
    from headwater.log.erase import person_lines

    people = sorted(set(ids))
    seen: set[str] = set()
    for name, line in person_lines(settings.log_dir, people):
        try:
            event = msgspec.json.decode(line)
        except msgspec.DecodeError:
            continue
        if isinstance(event, dict):
            seen.add(str(event.get("messageId", "")))
            yield {"store": "log", "kind": "event", "file": name, "event": event}
    lake = Lake(settings.data_dir / "lake")
    for row in person_events(lake, people):
        if str(row.get("message_id", row.get("messageId", ""))) not in seen:
            yield {"store": "lake", "kind": "event", "event": row}
    for kind, rows in sorted(person_rollup_rows(lake, people).items()):
        for row in rows:  # traits by day, sessions, active days
            yield {"store": "lake", "kind": kind, "row": row}
    yield from realtime_records(settings.effective_database_url, people)
    if with_live:
        yield from live_records(settings, people, live)


def realtime_records(url: str, ids: list[str]) -> Iterator[dict[str, Any]]:
    db = open_database(url)
    try:
        for kind, rows in realtime_rows(db, ids).items():
            for row in rows:
                yield {"store": "realtime", "kind": kind, "row": row}
    finally:
        db.close()


def live_records(settings: Settings, ids: list[str], live: Any | None) -> Iterator[dict[str, Any]]:
    from headwater.stores.live import open_live

    backend = live if live is not None else open_live(settings.redis_url)
    for attribute, value, doc in sticky_documents(backend, ids, OPTIONS):
        yield {
            "store": "live",
            "kind": "assignments",
            "attribute": attribute,
            "value": value,
            "assignments": doc,
        }
    for user, audiences in sorted(audience_memberships(backend, ids, OPTIONS).items()):
        yield {"store": "live", "kind": "audiences", "user": user, "audiences": sorted(audiences)}


def live_in_process(settings: Settings) -> bool:
    """Whether the configured live store lives inside one process (``memory://``): another process
    opening it gets an empty store of its own."""
    from headwater.stores.registry import backend_for

    return backend_for(settings.redis_url, "live").in_process


def file_access(
    settings: Settings, database: SqlDatabase, subject: dict[str, Any], origin: str
) -> tuple[str, list[str]]:
    """File an ACCESS regulation, as POST /api/v1/regulations does (privacy/requests.py): its id and
    the ids its export covers. RequestError for a bad subject."""
    from headwater.privacy.requests import file_request
    from headwater.stores.sql.webhooks import SqlRegulations

    rid = str(file_request(database, "ACCESS", subject, origin)["id"])
    regulations = SqlRegulations(database)
    entry = regulations.get(rid)
    if entry is None:
        return rid, []
    ids = export_ids(settings, database, entry) or []
    # the lake's links too: a deletion by any of these ids finds (and hashes) this request
    regulations.update(rid, entry["status"], entry["progress"], entry["subject"] | {"linked": ids})
    return rid, ids


def keep_hashes(database: SqlDatabase, regulation_id: str) -> None:
    """An access request that found nothing keeps only keyed hashes of its subject, as a finished
    deletion does: it must not become the only record of a person (unknown, or deleted)."""
    from headwater.privacy.requests import hashed_subject
    from headwater.stores.sql.privacy import SqlPrivacy
    from headwater.stores.sql.webhooks import SqlRegulations

    regulations = SqlRegulations(database)
    entry = regulations.get(regulation_id)
    if entry is None:
        return
    subject = {k: str(v) for k, v in entry["subject"].items() if k != "linked"}
    if database.dialect.name == "sqlite":  # the old text overwritten on disk, not left in a free page
        with database.connection() as conn:
            conn.execute("PRAGMA secure_delete = ON")
    hashed = hashed_subject(SqlPrivacy(database), subject)
    regulations.update(regulation_id, entry["status"], entry["progress"], hashed)


def export_ids(settings: Settings, database: SqlDatabase, entry: dict[str, Any]) -> list[str] | None:
    """The ids an export of this regulation covers; None when it keeps only hashes of them."""
    from headwater.privacy.deletion import lake_links
    from headwater.stores.sql.privacy import SqlPrivacy

    subject = {k: v for k, v in entry["subject"].items() if k != "linked"}
    if any(str(v).startswith("hmac:") for v in subject.values()):
        return None
    ids = set(entry["subject"].get("linked", [])) | SqlPrivacy(database).resolve(subject)
    return sorted(ids | lake_links(settings.data_dir / "lake", ids))


def write_records(settings: Settings, ids: Collection[str], sink: Any, live: Any | None = None) -> int:
    """Write every record of the person to a binary sink as NDJSON; the number written."""
    count = 0
    for record in person_records(settings, ids, live):
        sink.write(msgspec.json.encode(record) + b"\n")
        count += 1
    return count
