"""A data subject in the lake: every id of one person, and their rows (for an access request).

The ids a privacy request names are completed from the lake's own identity map, so that erasing a
userId also erases the anonymous history resolved to it (and the other way round): otherwise that
history would become a visitor of its own, and everyone else's counts would change. An id is taken
as any of userId, anonymousId or previousId (a request's list does not say which), exactly as the
log is erased; junk ids (``null``, ``0``, ...) are never anyone's and are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from headwater.events.identity import ANON_PREFIX, is_junk
from headwater.lake.erase_files import Match, read_sql
from headwater.lake.layout import Lake
from headwater.lake.sql import EVENT_COLUMNS, connect, quote

#: Rounds of completion through the identity map (each adds the keys of the users found); a real
#: person is complete after one or two.
_MAX_ROUNDS = 10
_JSON_COLUMNS = ("properties", "traits", "context")


@dataclass(frozen=True, slots=True)
class Subject:
    """``ids``: as events carry them (userId, anonymousId, previousId); ``names``: as the rollups
    and the identity files name people (a user id, or ``anon:`` + an anonymous id); ``aids``: their
    dense ids in actors.parquet; ``hashes``: 64-bit ``hash(name)`` of the hashed rollups."""

    ids: frozenset[str]
    names: frozenset[str]
    aids: frozenset[int]
    hashes: frozenset[int]

    def events(self) -> Match:
        raw = self.ids
        return Match({"user_id": raw, "anonymous_id": raw, "previous_id": raw, "actor": self.names})

    def by_name(self, *columns: str) -> Match:
        return Match({c: self.names for c in columns})

    def by_aid(self, *columns: str) -> Match:
        return Match({c: self.aids for c in columns})

    def by_hash(self, column: str) -> Match:
        return Match({column: self.hashes})


def find_subject(con: Any, lake: Lake, ids: Collection[str]) -> Subject:
    """Every id of the person named by ``ids`` (see the module doc), read from identity/map.parquet,
    actors.parquet and DuckDB's hash."""
    if isinstance(ids, str):  # one id, not its characters
        ids = [ids]
    raw = {str(i) for i in ids if not is_junk(i)}
    names = _names_of(raw)
    for _ in range(_MAX_ROUNDS):
        if not names or not lake.identity_map.exists():
            break
        listed = ", ".join(quote(n) for n in sorted(names))
        found = con.execute(
            f"""WITH m AS (SELECT key, user_id FROM {read_sql([lake.identity_map])}),
                     p AS (SELECT user_id AS u FROM m WHERE key IN ({listed})
                           UNION SELECT unnest([{listed}]))
                SELECT key FROM m WHERE user_id IN (SELECT u FROM p) UNION SELECT u FROM p"""
        ).fetchall()
        more = {str(r[0]) for r in found if r[0] is not None}
        grown = _names_of({n.removeprefix(ANON_PREFIX) for n in more | names} | raw)
        if grown == names:
            break
        names = grown
    raw |= {n.removeprefix(ANON_PREFIX) for n in names}
    raw = {r for r in raw if not is_junk(r)}
    aids: set[int] = set()
    hashes: set[int] = set()
    if names:
        listed = ", ".join(quote(n) for n in sorted(names))
        if lake.actors_file.exists():
            aids = {
                int(r[0])
                for r in con.execute(
                    f"SELECT aid FROM {read_sql([lake.actors_file])} WHERE name IN ({listed})"
                ).fetchall()
            }
        hashes = {int(r[0]) for r in con.execute(f"SELECT hash(unnest([{listed}]))").fetchall()}
    return Subject(frozenset(raw), frozenset(names), frozenset(aids), frozenset(hashes))


def _names_of(raw: set[str]) -> set[str]:
    """Each id as a user and as an anonymous id (junk ids are nobody)."""
    kept = {r for r in raw if not is_junk(r)}
    return kept | {ANON_PREFIX + r for r in kept}


def linked_ids(lake: Lake, ids: Collection[str]) -> set[str]:
    """Every id (as events carry it) of the person ``ids`` name, completed through the lake's
    identity map: what the lake erases, and what the log should erase too to match it."""
    con = connect(lake.tmp_dir)
    try:
        return set(find_subject(con, lake, ids).ids)
    finally:
        con.close()


def person_events(lake: Lake, ids: Collection[str]) -> Iterator[dict[str, Any]]:
    """Every event row of the person in the lake (daily files and monthly archives), by time, as
    JSON-ready dicts (times as ISO 8601 UTC texts, JSON columns parsed): for an access request.
    Streamed, a thousand rows at a time."""
    files = lake.event_files()
    con = connect(lake.tmp_dir)
    try:
        subject = find_subject(con, lake, ids)
        if not files or not subject.ids:
            return
        columns = ", ".join([*EVENT_COLUMNS, "recv_day"])
        cur = con.execute(
            f"SELECT {columns} FROM {read_sql(files)} WHERE {subject.events().sql()} ORDER BY ts, message_id"
        )
        keys = [d[0] for d in cur.description]
        while batch := cur.fetchmany(1000):
            for row in batch:
                yield _plain(dict(zip(keys, row, strict=True)))
    finally:
        con.close()


def person_rollup_rows(lake: Lake, ids: Collection[str]) -> dict[str, list[dict[str, Any]]]:
    """The person's rows of the rollups worth showing in an access request: ``traits`` (each day's
    latest value of every trait), ``sessions`` (runs of activity), ``visits`` (runs of page views:
    pages, entry, exit, source) and ``user_days`` (active days)."""
    sources = {
        "traits": (lake.traits_dir, "day, actor, key, ts, value", "actor", "key, day, actor"),
        "sessions": (lake.sessions_dir, "start_ts, end_ts, events", "actor_hash", "start_ts"),
        "visits": (
            lake.visits_dir,
            "start_ts, end_ts, pageviews, entry, exit, src AS source, paths",
            "actor_hash",
            "start_ts",
        ),
        "user_days": (lake.user_days_dir, "day, actor, events, first_ts, last_ts", "actor", "day, actor"),
    }
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in sources}
    con = connect(lake.tmp_dir)
    try:
        subject = find_subject(con, lake, ids)
        for name, (folder, columns, key, order) in sources.items():
            files = sorted(folder.glob("recv=*.parquet")) if folder.is_dir() else []
            match = subject.by_hash(key) if key == "actor_hash" else subject.by_name(key)
            if not files or match.empty:
                continue
            cur = con.execute(f"SELECT {columns} FROM {read_sql(files)} WHERE {match.sql()} ORDER BY {order}")
            keys = [d[0] for d in cur.description]
            out[name] = [_plain(dict(zip(keys, row, strict=True))) for row in cur.fetchall()]
    finally:
        con.close()
    return out


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    for key, value in row.items():
        if isinstance(value, datetime):
            row[key] = value.isoformat().replace("+00:00", "Z")
        elif isinstance(value, date):
            row[key] = value.isoformat()
        elif key in _JSON_COLUMNS and isinstance(value, str):
            row[key] = json.loads(value)
    return row
