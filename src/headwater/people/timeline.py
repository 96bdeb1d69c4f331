"""A person's events, newest first, a page at a time: the lake's rows and the log's not loaded yet,
each message once (by messageId), in the order of (timestamp, messageId), descending.

A page ends with ``next``, an opaque cursor: ``?before=<cursor>`` asks for the events strictly
older than the last one shown, so pages never repeat nor skip an event, even while new events
arrive (they are newer than any cursor).

The lake's rows are found through the rollups (people/activity.py): only the event files of the
dates and received days that hold the person's rows are read (a first page reads the newest
user-day files as they come, the compact rollup asked only when they hold none of the person's
rows or too few: LakePages.direct), only as far back as the page needs
(and DuckDB skips the row groups outside that time and of other actors: the daily files are
sorted by actor, the monthly archives by day, then actor).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from headwater.lake.sql import EVENT_COLUMNS, quote
from headwater.people.activity import (
    Active,
    activity_files,
    complete_after,
    event_files_of,
    read_activity,
    recvs_of,
    user_day_files,
    utc_dates,
)
from headwater.people.person import Person
from headwater.people.shown import Shown, from_lake
from headwater.people.sources import Reading
from headwater.people.unloaded import unloaded_events

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
FIRST_FILES = 4  # rollup files (received days) read at the first step; 4 times more at each next one
#: a first page reads up to this many of the newest user-day files without asking the compact
#: rollup which hold the person's rows (LakePages.direct)
DIRECT_FILES = 24

Key = tuple[datetime, str]
_LOCATED = ", filename = true, file_row_number = true"


class CursorError(ValueError):
    """A ``before`` cursor this API did not make."""


def encode_cursor(key: Key) -> str:
    text = json.dumps([key[0].isoformat(), key[1]], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Key:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        ts, mid = json.loads(raw)
        moment = datetime.fromisoformat(ts)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise CursorError(f"{text[:40]!r} is not a cursor: use the 'next' of the previous page") from None
    if moment.tzinfo is None or not isinstance(mid, str) or not _utf8(mid):
        raise CursorError(f"{text[:40]!r} is not a cursor: use the 'next' of the previous page")
    return moment, mid


def timeline(
    reading: Reading,
    person: Person,
    limit: int = DEFAULT_LIMIT,
    before: Key | None = None,
    event: str | None = None,
) -> dict[str, Any]:
    """One page of the person's events (see the module doc) as the API's JSON."""
    logged = [x.shown for x in unloaded_events(reading, person)]
    items = [
        s
        for s in logged
        if (before is None or s.key < before) and (event is None or s.body["event"] == event)
    ]
    if reading.has_lake and person.names:
        items += LakePages(reading, person, event, before).older(before, limit + 1)
    items.sort(key=lambda s: s.key, reverse=True)
    page = items[:limit]
    return {
        "id": person.asked,
        "user_id": person.user_id,
        "limit": limit,
        "event": event,
        "events": [s.body for s in page],
        "next": encode_cursor(page[-1].key) if len(items) > limit else None,
    }


@dataclass
class LakePages:
    """The person's lake rows, read newest first (see the module doc)."""

    reading: Reading
    person: Person
    event: str | None
    before: Key | None = None  # the page's cursor: the newer received days are skipped
    files: list[tuple[Any, Path]] | None = field(default_factory=list)
    read: int = 0
    step: int = FIRST_FILES
    rows: list[Active] = field(default_factory=list)
    #: the newest user-day files are read as they come, not first narrowed to the received days
    #: that hold the person's rows: the compact rollup's answer costs a read of every received
    #: day's file (35 ms over 90 days of bench_web's 50M lake), the newest user-day files a
    #: millisecond or two each, and an active person's page is in the newest days. Once those
    #: hold none of their rows, or the rate they hold them at says more than DIRECT_FILES are
    #: needed, the rest is narrowed (_narrow).
    direct: bool = False

    def __post_init__(self) -> None:
        cursor = None if self.before is None else self.before[0]
        if cursor is None:
            every = user_day_files(self.reading.lake)
            self.files = None if every is None else sorted(every.items(), reverse=True)
            self.direct = bool(self.files)
        else:  # a page of the past: the files start near it, a page is days of them
            self.files = activity_files(self.reading, self.person.names, cursor)
            self.step = FIRST_FILES * 4

    def older(self, before: Key | None, need: int) -> list[Shown]:
        """Up to ``need`` of the person's rows strictly before ``before`` (not after the cursor
        the pages were made with), newest first."""
        out: list[Shown] = []
        while len(out) < need:
            found = self._range(before, need - len(out))
            if found is None:
                break
            lo, rows = found
            out += self._fetch(lo, before, rows, need - len(out))
            if lo is None:
                break
            before = (lo, "")  # next: strictly before the range just read (rows at lo were in it)
        return out

    def _more(self, need: int, have: int = 0) -> bool:
        """Read the next rollup files; False when every one was read. While ``direct``, as many
        as hold the ``need - have`` events still missing at the rate the files read so far hold
        the person's (a quarter more)."""
        if not self.files or self.read >= len(self.files):
            return False
        if self.direct and self.read:
            known = sum(r.events for r in self.rows)
            step = -(-max(need - have, 1) * self.read * 5 // (4 * known)) if known else DIRECT_FILES
            if self.read + step > DIRECT_FILES:
                self._narrow()
                return self._more(need, have)
        else:
            step = self.step
            self.step *= 4
        chunk = self.files[self.read : self.read + step]
        self.read += len(chunk)
        self.rows += read_activity(self.reading, self.person.names, [p for _, p in chunk])
        return True

    def _narrow(self) -> None:
        """The files not read yet: only the received days that hold the person's rows, as the
        compact rollup says (all of them when it cannot tell)."""
        self.direct = False
        if not self.files:
            return
        holding = recvs_of(self.reading, self.person.names, dict(self.files))
        if holding is not None:
            rest = [(r, p) for r, p in self.files[self.read :] if r in holding]
            self.files = self.files[: self.read] + rest

    def _range(self, before: Key | None, need: int) -> tuple[datetime | None, list[Active]] | None:
        """(lo, rows): the rows from ``lo`` (None: from the start) up to ``before`` hold ``need``
        of the person's events; None when the lake has no row older. The rollup files are read
        until that is known for sure."""
        if self.files is None:  # no rollup: one read of every file
            if self.read:
                return None
            self.read = 1
            return (None, []) if self.reading.lake.event_files() else None
        if not self.files:
            return None  # the lake has no row of theirs
        if self.read == 0:
            self._more(need)

        def older(row: Active) -> bool:  # may hold an event strictly before ``before``
            return before is None or row.first < before[0] or (row.first == before[0] and before[1] > "")

        while True:
            complete = complete_after(self.files[self.read - 1][0]) if self.read < len(self.files) else None
            relevant = sorted(filter(older, self.rows), key=lambda r: r.last, reverse=True)
            total, lo = 0, None
            for row in relevant:
                if complete is not None and row.first < complete:
                    break
                total += row.events
                lo = row.first if lo is None else min(lo, row.first)
                if total >= need:
                    return lo, [r for r in relevant if r.last >= lo]
            if not self._more(need, total):
                return (None, relevant) if relevant else None

    def _fetch(self, lo: datetime | None, before: Key | None, rows: list[Active], n: int) -> list[Shown]:
        """The newest ``n`` rows from ``lo`` to ``before``, read from the files that hold the rows
        of ``rows`` (every file when the lake has no user-day rollup)."""
        lake = self.reading.lake
        if self.files is not None:
            cut = None if before is None else before[0]
            parts = {
                (day, r.recv)
                for r in rows
                for day in utc_dates(max(r.first, lo) if lo else r.first, min(r.last, cut) if cut else r.last)
            }
            files = event_files_of(lake, parts)
        else:
            files = lake.event_files()
        if not files:
            return []
        names = ", ".join(quote(x) for x in sorted(self.person.names))
        where = [f"actor IN ({names})"]
        if lo is not None:
            where.append(f"ts >= {_ts(lo)}")
        if before is not None:
            at = _ts(before[0])
            where.append(f"(ts < {at} OR (ts = {at} AND message_id < {quote(before[1])}))")
        if self.event is not None:
            where.append(f"event = {quote(self.event)}")
        cond = " AND ".join(where)
        archived = any(p.parent.parent == lake.archive_dir for p in files)
        read = _located_rows if archived else _rows
        return [from_lake(r) for r in read(self.reading.con, files, cond, n)]


_ORDER = "ORDER BY ts DESC, message_id DESC"


def _rows(con: Any, files: list[Path], cond: str, n: int) -> list[dict[str, Any]]:
    """The newest ``n`` rows of ``files`` that meet ``cond``, every column: one read."""
    from headwater.lake.erase_files import read_sql

    cur = con.execute(
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM {read_sql(files)} WHERE {cond} {_ORDER} LIMIT {int(n)}"
    )
    keys = [d[0] for d in cur.description]
    return [dict(zip(keys, row, strict=True)) for row in cur.fetchall()]


def _located_rows(con: Any, files: list[Path], cond: str, n: int) -> list[dict[str, Any]]:
    """_rows in two reads, for a page that reads a monthly archive: which rows (their file, row
    number and time: the newest ``n`` and every row at the n-th one's instant, from the columns the
    filter and the order need), then those rows' every column. One read decodes each 122,880-row
    group's properties and context whole for a few rows of it; the second decodes the pages that
    hold the rows asked for (the daily files' row groups of 16,384 rows sorted by actor are read
    faster in one). A file replaced in between (a deletion's rewrite moves the rows after the ones
    it removes) is caught: the second read keeps the conditions and must find the same (file, row,
    time) and each message once, else the page is read the one way."""
    from headwater.lake.erase_files import read_sql

    found = con.execute(
        f"SELECT filename, file_row_number, ts FROM {read_sql(files, _LOCATED)} WHERE {cond}"
        f" QUALIFY rank() OVER (ORDER BY ts DESC) <= {int(n)}"
    ).fetchall()
    if not found:
        return []
    by_file: dict[str, list[int]] = {}
    for name, number, _ in found:
        by_file.setdefault(str(name), []).append(int(number))
    wanted = " OR ".join(
        f"(filename = {quote(name)} AND file_row_number IN ({', '.join(map(str, numbers))})"
        f" AND file_row_number BETWEEN {min(numbers)} AND {max(numbers)})"
        for name, numbers in by_file.items()
    )
    held = [Path(name) for name in by_file]
    columns = ", ".join(EVENT_COLUMNS)
    cur = con.execute(
        f"SELECT filename AS hw_file, file_row_number AS hw_row, {columns}"
        f" FROM {read_sql(held, _LOCATED)} WHERE ({wanted}) AND {cond} {_ORDER}"
    )
    keys = [d[0] for d in cur.description]
    rows = [dict(zip(keys, row, strict=True)) for row in cur.fetchall()]
    if not _same_rows(rows, found):
        return _rows(con, files, cond, n)
    return [{k: v for k, v in r.items() if k not in ("hw_file", "hw_row")} for r in rows[:n]]


def _same_rows(rows: list[dict[str, Any]], found: list[tuple[Any, ...]]) -> bool:
    """Whether the second read of a page found the rows the first located, each message once."""
    again = sorted((str(r["hw_file"]), int(r["hw_row"]), r["ts"]) for r in rows)
    located = sorted((str(name), int(number), ts) for name, number, ts in found)
    return again == located and len({r["message_id"] for r in rows}) == len(rows)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _ts(moment: datetime) -> str:
    return f"TIMESTAMPTZ {quote(moment.isoformat())}"
