"""An access request (GDPR art. 15, CCPA "right to know"): everything Headwater holds of a person,
from every store, as NDJSON records ``{"store": ..., "kind": ..., ...}``:

- ``log`` / ``event``: every event line of the person in the raw log, as stored;
- ``lake`` / ``event``: the lake's rows of events the raw log no longer holds (retention);
- ``realtime`` / ``identity``, ``session``, ``active_day``: the realtime store's rows;
- ``live`` / ``assignments``, ``audiences``: sticky experiment assignments and audience membership.

Records come store by store and are written as they are found: nothing is held in memory whole.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

import msgspec

from headwater.config import Settings
from headwater.privacy.live_forget import OPTIONS
from headwater.stores.sql.database import SqlDatabase, open_database

ANON = "anon:"
#: the GrowthBook hash attributes a sticky document of a person can be under
STICKY_ATTRIBUTES = ("id", "userId", "user_id", "anonymousId", "anonymous_id", "deviceId", "device_id")


def person_records(
    settings: Settings, ids: Collection[str], live: Any | None = None
) -> Iterator[dict[str, Any]]:
    """Every record of the person (see the module's docstring), store by store."""
    from headwater.lake.erase import person_events
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
    for row in person_events(Lake(settings.data_dir / "lake"), people):
        if str(row.get("messageId", "")) not in seen:
            yield {"store": "lake", "kind": "event", "event": row}
    yield from realtime_records(settings.effective_database_url, people)
    yield from live_records(settings, people, live)


def realtime_records(url: str, ids: list[str]) -> Iterator[dict[str, Any]]:
    db = open_database(url)
    try:
        yield from _realtime(db, ids)
    finally:
        db.close()


def _realtime(db: SqlDatabase, ids: list[str]) -> Iterator[dict[str, Any]]:
    actors = ids + [ANON + i for i in ids]
    marks = ",".join("{p}" for _ in actors)
    queries = (
        (
            "identity",
            f"SELECT source, user_id FROM identities WHERE source IN ({marks}) OR user_id IN ({marks})",
        ),
        (
            "session",
            "SELECT session_id, user_id, start_time, last_activity, events_count FROM user_sessions"
            f" WHERE user_id IN ({marks}) ORDER BY start_time",
        ),
        ("active_day", f"SELECT date, user_id FROM daily_users WHERE user_id IN ({marks}) ORDER BY date"),
    )
    with db.tx(write=False) as cur:
        for kind, sql in queries:
            args = tuple(actors) * sql.count("IN (")
            cur.execute(db.q(sql), args)
            names = [d[0] for d in cur.description]
            for row in cur.fetchall():
                yield {"store": "realtime", "kind": kind, "row": dict(zip(names, row, strict=True))}


def live_records(settings: Settings, ids: list[str], live: Any | None) -> Iterator[dict[str, Any]]:
    from headwater.stores.live import open_live

    backend = live if live is not None else open_live(settings.redis_url)
    sticky = backend.sticky_buckets(OPTIONS)
    try:
        for attribute in STICKY_ATTRIBUTES:
            for value in ids:
                doc = sticky.get(f"{attribute}||{value}")
                if doc:
                    yield {
                        "store": "live",
                        "kind": "assignments",
                        "attribute": attribute,
                        "value": value,
                        "assignments": dict(doc),
                    }
    finally:
        sticky.close()
    membership = backend.membership(OPTIONS)
    try:
        found = membership.memberships(ids)
        for user, audiences in sorted(found.items()):
            if audiences:
                yield {"store": "live", "kind": "audiences", "user": user, "audiences": sorted(audiences)}
    finally:
        membership.close()


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
