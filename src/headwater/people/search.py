"""Finding people: by the start of an id (a userId or an anonymousId), or by a trait's value.

- by id: the lake's names (``identity/actors.parquet``: every actor and identified user it has
  loaded) and the realtime store's active users of the days the lake does not have yet;
- by trait (``trait=NAME``): the people whose latest value of that trait is the text, from the
  lake's trait rollup with the log not loaded yet on top (its lines holding the trait's name).

Each person is listed once, under the id to ask for (their user id, or their anonymous id when
they were never identified), with the ids that matched. A text is compared as a text, never as a
pattern (``%``, ``_``, quotes and unicode are themselves).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

import msgspec

from headwater.events.identity import ANON_PREFIX, canonical, is_junk
from headwater.events.timestamps import parse_timestamp
from headwater.lake.sql import quote
from headwater.people.shown import log_actor
from headwater.people.sources import NO_EVENTS_HINT, Reading
from headwater.people.unloaded import lines_with, unloaded_files, unloaded_parts

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
_decode = msgspec.json.Decoder().decode


def search(
    reading: Reading, text: str, trait: str | None = None, limit: int = DEFAULT_LIMIT
) -> dict[str, Any]:
    """The people matching (see the module doc) as the API's JSON: at most ``limit``, by id."""
    names = _by_trait(reading, trait, text) if trait is not None else _by_prefix(reading, text, limit + 1)
    people = _group(reading, names)
    shown = sorted(people)[:limit]
    body: dict[str, Any] = {
        "search": text,
        "trait": trait,
        "limit": limit,
        "people": [
            {"id": pid, "user_id": user, "matched": sorted(people[(pid, user)])} for pid, user in shown
        ],
        "truncated": len(people) > limit or (trait is None and len(names) > limit),
    }
    if not shown and not _has_events(reading):
        body["hint"] = NO_EVENTS_HINT
    return body


def _by_prefix(reading: Reading, text: str, limit: int) -> set[str]:
    """Actor names (``id`` or ``anon:id``) whose id starts with the text."""
    found: set[str] = set()
    lake = reading.lake
    if lake.actors_file.exists():
        from headwater.lake.erase_files import read_sql

        rows = reading.con.execute(
            f"SELECT name FROM {read_sql([lake.actors_file])}"
            f" WHERE starts_with(name, {quote(text)}) OR starts_with(name, {quote(ANON_PREFIX + text)})"
            f" ORDER BY name LIMIT {int(limit)}"
        ).fetchall()
        found.update(str(r[0]) for r in rows if r[0])
    since = _realtime_since(reading)
    n = len(text)
    db = reading.db
    wide = n + len(ANON_PREFIX)
    sql = (
        "SELECT DISTINCT user_id FROM daily_users WHERE date >= {p}"
        f" AND (substr(user_id, 1, {n}) = {{p}} OR substr(user_id, 1, {wide}) = {{p}})"
        f" ORDER BY user_id LIMIT {int(limit)}"
    )
    with db.tx(write=False) as cur:
        cur.execute(db.q(sql), (since, text, ANON_PREFIX + text))
        found.update(str(r[0]) for r in cur.fetchall())
    return {f for f in found if not is_junk(f.removeprefix(ANON_PREFIX))}


def _realtime_since(reading: Reading) -> str:
    """The first day the realtime store is asked about: the days the lake has not loaded (a day
    of margin for the time zone), or every day when there is no lake."""
    if not reading.lake.manifest_dir.is_dir():
        return "0001-01-01"
    days = [day for day, _, _ in unloaded_parts(reading)]
    first = min(days) if days else max(reading.lake.loaded_days(), default=date.today())
    return (first - timedelta(days=1)).isoformat()


def _by_trait(reading: Reading, trait: str, text: str) -> set[str]:
    """Actor names whose latest value of the trait is the text."""
    latest: dict[str, tuple[str, datetime]] = {}
    folder = reading.lake.traits_dir
    files = sorted(folder.glob("recv=*.parquet")) if reading.has_lake and folder.is_dir() else []
    if files:
        from headwater.lake.erase_files import read_sql

        rows = reading.con.execute(
            f"SELECT actor, arg_max(value, ts), max(ts) FROM {read_sql(files)}"
            f" WHERE key = {quote(trait)} GROUP BY actor HAVING arg_max(value, ts) = {quote(text)}"
        ).fetchall()
        latest.update((str(a), (str(v), t)) for a, v, t in rows)
    needle = msgspec.json.encode(trait)  # the key as the collector writes it, quoted
    for path, start in unloaded_files(reading):
        for line in lines_with(path, start, needle):
            _trait_of_line(line, trait, latest)
    return {actor for actor, (value, _) in latest.items() if value == text}


def _trait_of_line(line: bytes, trait: str, latest: dict[str, tuple[str, datetime]]) -> None:
    try:
        message = _decode(line)
    except msgspec.DecodeError:
        return
    if not isinstance(message, dict):
        return
    actor, ts = log_actor(message), parse_timestamp(message.get("timestamp"))
    if actor is None or ts is None:
        return
    own, context = message.get("traits"), message.get("context")
    ctx = context.get("traits") if isinstance(context, dict) else None
    value = own.get(trait) if isinstance(own, dict) else None
    if value is None and isinstance(ctx, dict):
        value = ctx.get(trait)
    if value is None:
        return
    if not isinstance(value, str):
        value = msgspec.json.encode(value).decode()
    if actor not in latest or ts >= latest[actor][1]:
        latest[actor] = (value, ts)


def _group(reading: Reading, names: Iterable[str]) -> dict[tuple[str, str | None], set[str]]:
    """(id to ask for, user id) -> the matched ids (``anon:`` for an anonymous id's)."""
    names = set(names)
    links = _links(reading, names)
    out: dict[tuple[str, str | None], set[str]] = {}
    for name in names:
        user = canonical(links, name) if name in links else (None if name.startswith(ANON_PREFIX) else name)
        pid = user if user is not None else name.removeprefix(ANON_PREFIX)
        out.setdefault((pid, user), set()).add(name)
    return out


def _links(reading: Reading, names: set[str]) -> dict[str, str]:
    """The identity links of these names: the lake's map, with the realtime store's for the rest."""
    if not names:
        return {}
    out: dict[str, str] = {}
    db = reading.db
    listed = sorted(names)
    with db.tx(write=False) as cur:
        for i in range(0, len(listed), 500):
            part = listed[i : i + 500]
            marks = ",".join("{p}" for _ in part)
            cur.execute(db.q(f"SELECT source, user_id FROM identities WHERE source IN ({marks})"), part)
            out.update((str(s), str(u)) for s, u in cur.fetchall())
    if reading.lake.identity_map.exists():
        from headwater.lake.erase_files import read_sql

        keys = ", ".join(quote(n) for n in listed)
        rows = reading.con.execute(
            f"SELECT key, user_id FROM {read_sql([reading.lake.identity_map])} WHERE key IN ({keys})"
        ).fetchall()
        out.update((str(k), str(u)) for k, u in rows)
    return out


def _has_events(reading: Reading) -> bool:
    return reading.has_lake or bool(unloaded_files(reading))
