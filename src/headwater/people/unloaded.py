"""A person's events that are in the log but not in the lake yet (today's, mostly).

Only the part of the log the lake lacks is read: the files of received days without a manifest,
or grown since theirs (from where the lake stopped). The person's lines are found by a byte search
for their ids (log/erase_match.py, as an erasure or an access export finds them), never by parsing
every line; erased lines (all spaces, after a deletion) are skipped by that search.

What is returned is deduplicated by messageId (the first received copy is kept, as the ETL keeps
it) and holds no message the lake already has: lake rows and these never overlap.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import msgspec

from headwater.lake.layout import sizes_by_day
from headwater.log.erase_match import Matcher
from headwater.people.activity import event_files_of_dates
from headwater.people.person import Person
from headwater.people.shown import Shown, from_log, log_actor
from headwater.people.sources import Reading

CHUNK_BYTES = 16 << 20
_decode = msgspec.json.Decoder().decode


@dataclass(frozen=True, slots=True)
class Logged:
    """One of the person's messages from the log: as shown, and as it was written."""

    shown: Shown
    message: dict[str, Any]


def unloaded_files(reading: Reading) -> list[tuple[Path, int]]:
    """(path, offset) of each events file the lake lacks lines of (see :func:`unloaded_parts`)."""
    return [(path, start) for _, path, start in unloaded_parts(reading)]


def unloaded_parts(reading: Reading) -> list[tuple[date, Path, int]]:
    """(received day, path, offset) of each events file the lake lacks lines of, from where they start: the
    files of received days without a manifest, and those grown since their day's manifest (as
    lake/layout.py ``pending_days`` tells them, reading the log folder once)."""
    lake, log_dir = reading.lake, reading.sources.log_dir
    by_day = sizes_by_day(log_dir)
    loaded = lake.loaded_days() if by_day else {}
    out: list[tuple[date, Path, int]] = []
    for day, files in sorted(by_day.items()):
        manifest = loaded.get(day)
        done = {str(k): int(v) for k, v in (manifest or {}).get("files", {}).items()}
        if manifest is not None and done == files:
            continue  # the whole day is in the lake
        out += [(day, log_dir / name, done.get(name, 0)) for name in files]
    return out


def chunks(path: Path, start: int) -> Iterator[tuple[bytes, int]]:
    """(data, end) of the file from ``start``, chunk by chunk: ``data[:end]`` is complete lines."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # removed by retention meanwhile
        return
    try:
        offset, size = start, CHUNK_BYTES
        while True:
            data = os.pread(fd, size, offset)
            end = data.rfind(b"\n") + 1
            if end == 0:
                if len(data) < size:
                    return  # the end, or a line still being written
                size *= 2  # a line longer than a chunk
                continue
            yield data, end
            offset, size = offset + end, CHUNK_BYTES
    finally:
        os.close(fd)


def matching_lines(path: Path, start: int, matcher: Matcher) -> Iterator[bytes]:
    """The complete lines of ``path`` from ``start`` that the matcher takes (erased ones never)."""
    for data, end in chunks(path, start):
        for lo, hi in matcher.spans(data, end, "events"):
            yield data[lo:hi]


def lines_with(path: Path, start: int, needle: bytes) -> Iterator[bytes]:
    """The complete lines of ``path`` from ``start`` holding ``needle`` (erased ones never)."""
    for data, end in chunks(path, start):
        at = data.find(needle, 0, end)
        while at >= 0:
            lo = data.rfind(b"\n", 0, at) + 1
            hi = data.find(b"\n", at, end)
            if data[lo : lo + 1] != b" ":
                yield data[lo:hi]
            at = data.find(needle, hi, end)


def unloaded_events(reading: Reading, person: Person) -> list[Logged]:
    """The person's messages of the log the lake does not hold (see the module doc), in the
    order they were received."""
    matcher = Matcher(person.ids)
    if not matcher:
        return []
    found: dict[str, Logged] = {}
    for path, start in unloaded_files(reading):
        for line in matching_lines(path, start, matcher):
            try:
                message = _decode(line)
            except msgspec.DecodeError:
                continue
            if not isinstance(message, dict) or log_actor(message) not in person.names:
                continue  # an event of someone else that carries one of the ids (a shared device)
            shown = from_log(message)
            if shown is None:
                continue
            kept = found.get(shown.message_id)
            if kept is None or _received(shown) < _received(kept.shown):
                found[shown.message_id] = Logged(shown, message)
    if found and reading.has_lake:
        for mid in _in_lake(reading, list(found.values())):
            found.pop(mid, None)
    return sorted(found.values(), key=lambda x: (_received(x.shown), x.shown.message_id))


def _received(shown: Shown) -> str:
    return str(shown.body.get("receivedAt") or "")


def _in_lake(reading: Reading, logged: list[Logged]) -> set[str]:
    """The message ids of these that the lake has (under their event dates, a day either side,
    where the ETL looks for copies)."""
    import pyarrow as pa

    from headwater.lake.erase_files import read_sql

    days = {near for item in logged for near in _around(item.shown.ts.date())}
    files = event_files_of_dates(reading.lake, days)
    if not files:
        return set()
    ids = pa.table({"mid": pa.array(sorted({item.shown.message_id for item in logged}), pa.string())})
    con = reading.con
    con.register("hw_people_mids", ids)
    try:
        rows = con.execute(
            f"SELECT DISTINCT message_id FROM {read_sql(files)}"
            " WHERE message_id IN (SELECT mid FROM hw_people_mids)"
        ).fetchall()
    finally:
        con.unregister("hw_people_mids")
    return {str(r[0]) for r in rows}


def _around(day: date) -> list[date]:
    """The day and the one on each side (within what a date can hold)."""
    n = day.toordinal()
    return [date.fromordinal(k) for k in (n - 1, n, n + 1) if 1 <= k <= date.max.toordinal()]
