"""The realtime store's hourly unique users (``hourly_stats``, ``hourly_rollups``: each complete
UTC hour copied from the live store, kept after the live store has let the hour go) without a
deleted person.

Those rows hold numbers, not people, so they cannot be recomputed from what remains: before the
log and the lake are erased, the deletion notes every (UTC hour of the event's timestamp, tool,
event type) the person had an event in, with the number of *actors* the live counter counted the
person as there (:func:`plan`, a file under ``run/privacy`` that holds no id), and the same number
for each hour; once the realtime step runs, each such row's ``unique_users`` and each such hour's
drop by that number, never below zero (:func:`apply`), in one transaction with a marker, so a
resumed deletion never subtracts twice. Event counts stay (they hold no id).

The live counter (headwater.live.state) keys an actor by its userId, else ``anon:<anonymousId>``,
resolved through the identity links known when it counts: an event with both ids links the
anonymous id to the user (an alias its previousId), and the anonymous id's memberships move to the
user. The hourly rollup copies an hour again while it is one of the last ``SETTLE_HOURS`` complete
hours (headwater.live.rollup), so the person's keys of a cell are resolved through the links of
their events received before that (the plan reads them all: log and lake). A person seen as an
anonymous visitor and then, in the same hour, under their userId with no link known in time is
two actors there, and is subtracted twice.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from headwater.atomic_file import write_atomic
from headwater.events.identity import ANON_PREFIX, clean_id
from headwater.events.timestamps import parse_timestamp
from headwater.live.links import LinkBook, asserted_links
from headwater.live.rollup import GRACE, SETTLE_HOURS
from headwater.stores.sql.database import SqlDatabase

Cell = tuple[str, str, str]  # (hour "YYYY-MM-DDTHH:00:00Z", tool_id or "", event_type)
Link = tuple[datetime, str, str]  # (received, source key, user)

#: how long after an hour's start the rollup may still copy it again (a link learned by then counts)
SETTLED = timedelta(hours=1 + SETTLE_HOURS) + GRACE


def plan_path(run_dir: Path, regulation_id: str) -> Path:
    return run_dir / "privacy" / f"{regulation_id}.hours.json"


def _moment(text: Any) -> datetime | None:
    return parse_timestamp(text) if isinstance(text, str) else None


def _hour(text: Any) -> str | None:
    moment = _moment(text)
    return None if moment is None else f"{moment:%Y-%m-%dT%H}:00:00Z"


class Tally:
    """The person's events, reduced to what the counts need: each cell's actor keys, and the links
    their events assert with the time each was received. Holds ids: kept in memory only."""

    def __init__(self) -> None:
        self.keys: dict[Cell, set[str]] = {}
        self.links: dict[tuple[str, str], datetime] = {}  # (source, user) -> first received

    def add(
        self, cell: Cell, user: object, anon: object, kind: object, previous: object, received: Any
    ) -> None:
        uk, cleaned = clean_id(user), clean_id(anon)
        ak = None if cleaned is None else ANON_PREFIX + cleaned
        keys = self.keys.setdefault(cell, set())
        key = uk or ak
        if key is not None:
            keys.add(key)
        moment = _moment(received)
        if uk is None or moment is None:
            return
        for pair in asserted_links(uk, ak, str(kind or ""), previous):
            if pair not in self.links or moment < self.links[pair]:
                self.links[pair] = moment

    def actors(self) -> tuple[dict[Cell, int], dict[str, int]]:
        """Actors of the person per cell and per hour, as the live counter counted them."""
        ordered = sorted((at, s, u) for (s, u), at in self.links.items())
        cells: dict[Cell, int] = {}
        hours: dict[str, set[str]] = {}
        resolved: dict[str, LinkBook] = {}
        for cell, keys in self.keys.items():
            book = resolved.get(cell[0])
            if book is None:
                book = resolved[cell[0]] = _book(ordered, _settled(cell[0]))
            actors = {book.resolve(k) for k in keys}
            cells[cell] = len(actors)
            hours.setdefault(cell[0], set()).update(actors)
        return cells, {hour: len(actors) for hour, actors in hours.items()}


def _settled(hour: str) -> datetime:
    start = parse_timestamp(hour)
    assert start is not None
    return start + SETTLED


def _book(links: Sequence[Link], until: datetime) -> LinkBook:
    """The links known when the hour was copied for the last time (the live tailer's rules)."""
    book = LinkBook()
    book.learn(set(), [(source, user) for at, source, user in links if at <= until])
    return book


def tally_log(lines: Iterable[bytes], tally: Tally | None = None) -> Tally:
    tally = tally or Tally()
    for line in lines:
        try:
            event = msgspec.json.decode(line)
        except msgspec.DecodeError:
            continue
        if not isinstance(event, dict):
            continue
        hw = event.get("_hw") or {}
        hour = _hour(event.get("timestamp")) or _hour(event.get("receivedAt"))
        kind = event.get("type")
        name = hw.get("event_type") or (event.get("event") if kind == "track" else kind)
        if hour and name:
            received = event.get("receivedAt") or event.get("timestamp")
            cell = (hour, str(hw.get("tool_id") or ""), str(name))
            tally.add(
                cell, event.get("userId"), event.get("anonymousId"), kind, event.get("previousId"), received
            )
    return tally


def tally_lake(rows: Iterable[dict[str, Any]], tally: Tally | None = None) -> Tally:
    tally = tally or Tally()
    for row in rows:
        hour = _hour(row.get("ts"))
        if hour and row.get("event"):
            cell = (hour, str(row.get("tool_id") or ""), str(row["event"]))
            received = row.get("received_at") or row.get("ts")
            tally.add(
                cell,
                row.get("user_id"),
                row.get("anonymous_id"),
                row.get("type"),
                row.get("previous_id"),
                received,
            )
    return tally


def cells_of_log(lines: Iterable[bytes]) -> set[Cell]:
    return set(tally_log(lines).keys)


def plan(run_dir: Path, data_dir: Path, log_dir: Path, regulation_id: str, ids: Collection[str]) -> int:
    """Note the person's hourly cells (log and lake) and their actors in each before they are
    erased; how many cells."""
    from headwater.lake.erase import person_events
    from headwater.lake.layout import Lake
    from headwater.log.erase import person_lines

    tally = tally_log(line for _, line in person_lines(log_dir, ids))
    cells, hours = tally_lake(person_events(Lake(data_dir / "lake"), ids), tally).actors()
    path = plan_path(run_dir, regulation_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    noted = {"cells": sorted([*c, n] for c, n in cells.items()), "hours": sorted(hours.items())}
    write_atomic(path, json.dumps(noted).encode())
    return len(cells)


def planned_actors(run_dir: Path, regulation_id: str) -> tuple[dict[Cell, int], dict[str, int]]:
    """The actors per cell and per hour the plan noted on this host (none when its file is not
    here). A plan of an earlier version (cells only) counts one actor in each."""
    try:
        noted = json.loads(plan_path(run_dir, regulation_id).read_text())
    except FileNotFoundError:
        return {}, {}
    if isinstance(noted, list):
        noted = {"cells": noted, "hours": []}
    cells: dict[Cell, int] = {}
    for item in noted.get("cells") or []:
        _merge(cells, item)
    return cells, {str(h): int(n) for h, n in noted.get("hours") or []}


def _merge(cells: dict[Cell, int], item: Sequence[Any]) -> None:
    cell = (str(item[0]), str(item[1]), str(item[2]))
    cells[cell] = max(cells.get(cell, 0), int(item[3]) if len(item) > 3 else 1)


def person_cells(log_dir: Path, ids: Collection[str]) -> set[Cell]:
    """The cells of the person's lines in one host's log (a cluster host notes its own: privacy/hosts.py)."""
    from headwater.log.erase import person_lines

    return cells_of_log(line for _, line in person_lines(log_dir, ids))


def apply(
    db: SqlDatabase, run_dir: Path, regulation_id: str, more: Iterable[Sequence[Any]] = ()
) -> dict[str, int]:
    """Subtract the person's actors from the noted cells and hours (this host's plan, and ``more``:
    the other hosts' cells in a cluster, ``(hour, tool, event[, actors])``, one actor when not
    given), once, never below zero."""
    cells, hours = planned_actors(run_dir, regulation_id)
    for item in more:
        _merge(cells, item)
    for (hour, _, _), n in cells.items():  # an hour holds at least the actors of each of its cells
        hours[hour] = max(hours.get(hour, 0), n)
    if not cells:
        return {"rows": 0, "hours": 0}
    marker = f"hourly-done:{regulation_id}"
    rows = changed = 0
    less = "unique_users = CASE WHEN unique_users > {p} THEN unique_users - {p} ELSE 0 END"

    def at(hour: str) -> Any:  # as stores/sql/hourly.py keys the hour: a timestamp where native
        return parse_timestamp(hour) if db.dialect.native_timestamps else hour

    with db.tx() as cur:
        cur.execute(db.q("SELECT 1 FROM privacy_settings WHERE name = {p}"), (marker,))
        if cur.fetchone() is not None:
            return {"rows": 0, "hours": 0}
        for (hour, tool, event), n in sorted(cells.items()):
            if n <= 0:
                continue
            cur.execute(
                db.q(
                    f"UPDATE hourly_stats SET {less}"
                    " WHERE hour = {p} AND tool_id = {p} AND event_type = {p} AND unique_users > 0"
                ),
                (n, n, at(hour), tool, event),
            )
            rows += int(cur.rowcount or 0)
        for hour, n in sorted(hours.items()):
            if n <= 0:
                continue
            cur.execute(
                db.q(f"UPDATE hourly_rollups SET {less} WHERE hour = {{p}} AND unique_users > 0"),
                (n, n, at(hour)),
            )
            changed += int(cur.rowcount or 0)
        cur.execute(db.q("INSERT INTO privacy_settings(name, value) VALUES ({p}, 'done')"), (marker,))
    return {"rows": rows, "hours": changed}


def finish(db: SqlDatabase, run_dir: Path, regulation_id: str) -> None:
    """The deletion is over: its plan file and marker go."""
    plan_path(run_dir, regulation_id).unlink(missing_ok=True)
    with db.tx() as cur:
        cur.execute(db.q("DELETE FROM privacy_settings WHERE name = {p}"), (f"hourly-done:{regulation_id}",))
