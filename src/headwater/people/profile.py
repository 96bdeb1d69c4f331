"""A person's profile: every merged id, traits (each one's latest value), first and last seen,
how many events, sessions, experiment assignments and audiences, from every store that has them:

- the lake: its user-day rollup (first and last seen, events), trait rollup and session rollup;
- the log not loaded yet (people/unloaded.py): the same, for today;
- the realtime store: identity links, sessions, active days;
- the live store: sticky experiment assignments and audience membership (when this process can
  reach it: the in-process ``memory://`` store lives in the server only).

Times are UTC (``...Z``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from headwater.events.identity import ANON_PREFIX
from headwater.events.sessions import INACTIVITY, MAX_LENGTH
from headwater.events.timestamps import format_timestamp
from headwater.lake.sql import quote
from headwater.people.activity import activity_files, read_activity
from headwater.people.person import Person, resolve_person
from headwater.people.shown import timestamp_text
from headwater.people.sources import Reading
from headwater.people.stores import audience_memberships, realtime_rows, sticky_documents
from headwater.people.unloaded import Logged, unloaded_events

RECENT_SESSIONS = 20  # the newest sessions listed (all are counted)
_EXPOSED = "x:"  # an exposure marker's field in a sticky document (experiments/live_sticky.py)


def profile(reading: Reading, asked: str) -> dict[str, Any] | None:
    """The person's profile as the API's JSON; None when nothing is known of the id."""
    person = resolve_person(reading, asked)
    if not person.ids:
        return None
    active = (
        read_activity(reading, person.names, [p for _, p in activity_files(reading, person.names) or ()])
        if reading.has_lake
        else []
    )
    logged = unloaded_events(reading, person)
    realtime = realtime_rows(reading.db, person.ids, ("session", "active_day"))
    if not (person.links or active or logged or realtime["session"] or realtime["active_day"]):
        return None
    seen = [t for a in active for t in (a.first, a.last)] + [x.shown.ts for x in logged]
    actors = {a.actor for a in active} | {str(r["user_id"]) for rows in realtime.values() for r in rows}
    actors |= {_actor(x) for x in logged}
    traits = _traits(reading, person, logged)
    body: dict[str, Any] = {
        "id": asked,
        "user_id": person.user_id,
        "ids": _ids(person, actors),
        "first_seen": format_timestamp(min(seen)) if seen else None,
        "last_seen": format_timestamp(max(seen)) if seen else None,
        "events": sum(a.events for a in active) + len(logged),
        "traits": {k: v for k, (v, _) in sorted(traits.items())},
        "traits_updated": {k: format_timestamp(t) for k, (_, t) in sorted(traits.items())},
        "sessions": _sessions(reading, person, realtime["session"]),
    }
    body.update(_live(reading, person))
    return body


def known(reading: Reading, person: Person) -> bool:
    """Whether a store holds anything of the person besides events (for a timeline with none:
    an empty page of someone known, or nobody)."""
    if not person.ids:
        return False
    if person.links or any(realtime_rows(reading.db, person.ids, ("session", "active_day")).values()):
        return True
    return reading.has_lake and bool(
        read_activity(reading, person.names, [p for _, p in activity_files(reading, person.names) or ()])
    )


def _actor(item: Logged) -> str:
    user, anon = item.shown.body.get("userId"), item.shown.body.get("anonymousId")
    return str(user) if user is not None else ANON_PREFIX + str(anon)


def _ids(person: Person, actors: Iterable[str]) -> list[dict[str, str]]:
    """Each id with what it was seen as: ``userId``, ``anonymousId`` (or both)."""
    kinds = person.kinds()
    for name in actors:
        if name.startswith(ANON_PREFIX):
            kinds.setdefault(name.removeprefix(ANON_PREFIX), set()).add("anonymousId")
        else:
            kinds.setdefault(name, set()).add("userId")
    return [
        {"id": i, "kind": kind} for i in sorted(person.ids) for kind in sorted(kinds.get(i) or {"unknown"})
    ]


def _trait_text(value: object) -> str | None:
    """A trait's value as the trait rollup keeps it (DuckDB's ``->>``): a string as it is, anything
    else as its JSON text, a null as nothing."""
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _traits(reading: Reading, person: Person, logged: list[Logged]) -> dict[str, tuple[str, datetime]]:
    """Each trait's latest value and when it was set: the lake's rollup, then the log on top (an
    event's ``traits`` first, its ``context.traits`` else, as the rollup reads them)."""
    latest: dict[str, tuple[str, datetime]] = {}
    folder = reading.lake.traits_dir
    files = sorted(folder.glob("recv=*.parquet")) if reading.has_lake and folder.is_dir() else []
    if files:
        from headwater.lake.erase_files import read_sql

        names = ", ".join(quote(n) for n in sorted(person.names))
        rows = reading.con.execute(
            f"SELECT key, arg_max(value, ts), max(ts) FROM {read_sql(files)}"
            f" WHERE actor IN ({names}) GROUP BY key"
        ).fetchall()
        for key, value, ts in rows:
            latest[str(key)] = (str(value), ts)
    for item in logged:
        message = item.message
        own, context = message.get("traits"), message.get("context")
        ctx = context.get("traits") if isinstance(context, dict) else None
        keys = [*(own if isinstance(own, dict) else ()), *(ctx if isinstance(ctx, dict) else ())]
        for key in keys:
            value = _trait_text(own.get(key) if isinstance(own, dict) else None)
            if value is None and isinstance(ctx, dict):
                value = _trait_text(ctx.get(key))
            at = item.shown.ts
            if value is not None and (key not in latest or at >= latest[key][1]):
                latest[key] = (value, at)
    return latest


def _sessions(reading: Reading, person: Person, realtime: list[dict[str, Any]]) -> dict[str, Any]:
    """The realtime store's sessions, and before its first one the lake's (the rollup's runs of the
    person's actors joined by the session rule: 30 minutes of inactivity, 24 hours at most)."""
    found: list[dict[str, Any]] = [
        {
            "start": timestamp_text(r["start_time"]),
            "end": timestamp_text(r["last_activity"]),
            "events": int(r["events_count"]),
            "session_id": str(r["session_id"]),
            "stored": "realtime",
        }
        for r in realtime
    ]
    first: str | None = min((str(s["start"]) for s in found if s["start"]), default=None)
    for start, end, events in _lake_sessions(reading, person):
        if first is None or format_timestamp(end) < first:
            found.append(
                {
                    "start": format_timestamp(start),
                    "end": format_timestamp(end),
                    "events": events,
                    "stored": "lake",
                }
            )
    found.sort(key=lambda s: s["start"] or "", reverse=True)
    return {"count": len(found), "recent": found[:RECENT_SESSIONS]}


def _lake_sessions(reading: Reading, person: Person) -> list[tuple[datetime, datetime, int]]:
    folder = reading.lake.sessions_dir
    files = sorted(folder.glob("recv=*.parquet")) if reading.has_lake and folder.is_dir() else []
    if not files or not person.hashes:
        return []
    from headwater.lake.erase_files import read_sql

    hashes = ", ".join(str(h) for h in sorted(person.hashes))
    runs = reading.con.execute(
        f"SELECT start_ts, end_ts, events FROM {read_sql(files)}"
        f" WHERE actor_hash IN ({hashes}) ORDER BY start_ts"
    ).fetchall()
    merged: list[tuple[datetime, datetime, int]] = []
    for start, end, events in runs:
        if merged:
            first, last, count = merged[-1]
            if start <= last + INACTIVITY and max(last, end) - first < MAX_LENGTH:
                merged[-1] = (first, max(last, end), count + int(events))
                continue
        merged.append((start, end, int(events)))
    return merged


def _live(reading: Reading, person: Person) -> dict[str, Any]:
    """``experiments`` and ``audiences`` from the live store, or ``live`` saying why not."""
    from headwater.stores.live.ports import LiveUnavailableError

    backend = reading.sources.live
    if backend is None:
        return {"experiments": None, "audiences": None, "live": reading.sources.live_note or "not configured"}
    try:
        experiments = [
            entry
            for attribute, value, doc in sticky_documents(backend, person.ids)
            for entry in _assignments(attribute, value, doc)
        ]
        audiences = sorted({a for found in audience_memberships(backend, person.ids).values() for a in found})
    except LiveUnavailableError as exc:
        return {"experiments": None, "audiences": None, "live": f"unavailable: {exc}"}
    return {"experiments": experiments, "audiences": audiences, "live": "ok"}


def _assignments(attribute: str, value: str, doc: dict[str, str]) -> list[dict[str, Any]]:
    """A sticky document's assignments (``experimentKey__phase``: variation key)."""
    out = []
    for field, variation in sorted(doc.items()):
        if field.startswith(_EXPOSED):
            continue
        key, _, phase = field.rpartition("__")
        out.append(
            {
                "experiment": key or field,
                "phase": phase if key else None,
                "variation": variation,
                "exposed": (_EXPOSED + field) in doc,
                "hash_attribute": attribute,
                "hash_value": value,
            }
        )
    return out
