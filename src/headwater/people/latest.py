"""The latest events received, newest first, for checking instrumentation: read from the end of
the newest log files, never the whole log.

Each writer (one per server process, or host) appends to its own file per UTC day: each writer's
files are read backwards, newest first, until it has given ``limit`` matching events (or a budget
of bytes is spent), and the writers' events are merged by ``receivedAt``. Erased lines (all
spaces, after a deletion), a line still being written and lines that are not JSON are skipped.

:class:`Follower` gives the events appended since it last looked (``headwater events latest
--follow``, like ``tail -f``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from headwater.log.erase_match import forms
from headwater.log.files import LogFile, list_log_files
from headwater.people.shown import Shown, from_log
from headwater.people.sources import NO_EVENTS_HINT

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
#: bytes read from the end of one writer's files at most (~100,000 typical events)
SCAN_BYTES = 64 << 20
_FIRST_BLOCK = 64 << 10
_BIGGEST_BLOCK = 4 << 20
_decode = msgspec.json.Decoder().decode


@dataclass(frozen=True, slots=True)
class Filters:
    """Which events to show: all of these that are set must hold."""

    event: str | None = None  # the event's name (a track's name, else its type), as the timeline shows it
    user: str | None = None  # its userId or anonymousId
    type: str | None = None  # track, page, identify, ...
    source: str | None = None  # the source (write key's name) it came in through

    def matches(self, shown: Shown) -> bool:
        body = shown.body
        return (
            (self.event is None or body["event"] == self.event)
            and (self.user is None or self.user in (body["userId"], body["anonymousId"]))
            and (self.type is None or body["type"] == self.type)
            and (self.source is None or body["source"] == self.source)
        )

    def needles(self) -> list[tuple[bytes, ...]]:
        """For each filter set, the texts one of which a line must hold to pass it (the value as a
        JSON string, as any writer may escape it: log/erase_match.py ``forms``); a value with forms
        not enumerated has none (every line is parsed for it)."""
        out = []
        for value, quoted in ((self.user, False), (self.event, True), (self.source, True), (self.type, True)):
            found = None if value is None else forms(value)
            if found:  # an id may be a bare number in a line: the user's is searched unquoted
                out.append(tuple(sorted(b'"' + f + b'"' if quoted else f for f in found)))
        return out

    def as_dict(self) -> dict[str, str]:
        return {
            k: v
            for k, v in (
                ("event", self.event),
                ("user", self.user),
                ("type", self.type),
                ("source", self.source),
            )
            if v is not None
        }


def shown_of(line: bytes) -> Shown | None:
    """A log line as shown; None for an erased, damaged or unusable one."""
    if not line.strip() or line[:1] == b" ":
        return None
    try:
        message = _decode(line)
    except msgspec.DecodeError:
        return None
    return from_log(message) if isinstance(message, Mapping) else None


def blocks_backwards(path: Path, budget: list[int]) -> Iterator[bytes]:
    """The file's complete lines in blocks (each ends with a newline), the last block first, while
    ``budget[0]`` (bytes left to read) lasts. A line still being written at the end is left out."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below, also when the generator is dropped
    except FileNotFoundError:
        return
    with fh:
        pos = os.fstat(fh.fileno()).st_size
        block, carry, first = _FIRST_BLOCK, b"", True
        while pos > 0 and budget[0] > 0:
            step = min(block, pos, budget[0])
            pos -= step
            fh.seek(pos)
            data = fh.read(step) + carry
            budget[0] -= step
            block = min(block * 2, _BIGGEST_BLOCK)
            if first:  # after the last newline: nothing, or a line still being written
                data = data[: data.rfind(b"\n") + 1]
                first = not data
                if first:
                    carry = b""
                    continue
            if pos == 0:
                yield data
                return
            cut = data.find(b"\n") + 1  # up to there: the end of a line that starts before ``pos``
            if cut == 0 or cut == len(data):
                carry = data
                continue
            carry = data[:cut]
            yield data[cut:]


def lines_of(block: bytes, needles: list[tuple[bytes, ...]]) -> list[bytes]:
    """The lines of a block, last first; with ``needles``, only the lines that hold one text of
    each group (found by a search of the block, not line by line)."""
    if not needles:
        lines = block.split(b"\n")
        lines.pop()
        lines.reverse()
        return lines
    spans: set[tuple[int, int]] = set()
    for needle in needles[0]:
        at = block.find(needle)
        while at >= 0:
            lo, hi = block.rfind(b"\n", 0, at) + 1, block.find(b"\n", at)
            spans.add((lo, hi))
            at = block.find(needle, hi)
    out = []
    for lo, hi in sorted(spans, reverse=True):
        line = block[lo:hi]
        if all(any(n in line for n in group) for group in needles[1:]):
            out.append(line)
    return out


def _writers(log_dir: Path) -> dict[str, list[LogFile]]:
    """Each writer's events files, newest first."""
    out: dict[str, list[LogFile]] = {}
    for lf in list_log_files(log_dir, "events"):
        out.setdefault(lf.writer, []).append(lf)
    return {w: sorted(files, reverse=True) for w, files in out.items()}


def latest(
    log_dir: Path, limit: int = DEFAULT_LIMIT, filters: Filters | None = None, scan_bytes: int = SCAN_BYTES
) -> dict[str, Any]:
    """The latest ``limit`` events matching the filters, newest first, as the API's JSON.
    ``complete`` is false when a writer's budget of bytes ran out before ``limit`` were found (so
    older matching events may exist)."""
    filters = filters or Filters()
    found: list[Shown] = []
    scanned, complete = 0, True
    writers = _writers(log_dir)
    for files in writers.values():
        budget = [scan_bytes]
        mine = 0
        needles = filters.needles()
        for lf in files:
            for block in blocks_backwards(lf.path, budget):
                for line in lines_of(block, needles):
                    shown = shown_of(line)
                    if shown is not None and filters.matches(shown):
                        found.append(shown)
                        mine += 1
                        if mine >= limit:
                            break
                if mine >= limit:
                    break
            if mine >= limit or budget[0] <= 0:
                break
        scanned += scan_bytes - budget[0]
        complete &= mine >= limit or budget[0] > 0
    found.sort(key=_received, reverse=True)
    body: dict[str, Any] = {
        "limit": limit,
        "filters": filters.as_dict(),
        "events": [s.body for s in found[:limit]],
        "scanned_bytes": scanned,
        "complete": complete,
    }
    if not writers:
        body["hint"] = NO_EVENTS_HINT
    return body


def _received(shown: Shown) -> tuple[str, str]:
    return str(shown.body.get("receivedAt") or shown.body["timestamp"]), shown.message_id


class Follower:
    """The events appended to the log since the last :meth:`poll` (the first poll: since it was
    made), matching the filters, in the order received."""

    def __init__(self, log_dir: Path, filters: Filters | None = None) -> None:
        self.log_dir = log_dir
        self.filters = filters or Filters()
        self.offsets: dict[str, int] = {}
        for lf in list_log_files(log_dir, "events"):
            self.offsets[lf.name] = _complete_size(lf.path)

    def poll(self) -> list[dict[str, Any]]:
        found: list[Shown] = []
        for lf in list_log_files(self.log_dir, "events"):
            start = self.offsets.get(lf.name, 0)  # a new file: from its start
            try:
                with open(lf.path, "rb") as fh:
                    size = os.fstat(fh.fileno()).st_size
                    if size < start:  # cut back (a writer rolled a failed write back)
                        self.offsets[lf.name] = size
                        continue
                    fh.seek(start)
                    data = fh.read(size - start)
            except FileNotFoundError:
                self.offsets.pop(lf.name, None)
                continue
            end = data.rfind(b"\n") + 1
            self.offsets[lf.name] = start + end
            for line in data[:end].split(b"\n"):
                shown = shown_of(line)
                if shown is not None and self.filters.matches(shown):
                    found.append(shown)
        found.sort(key=_received)
        return [s.body for s in found]


def _complete_size(path: Path) -> int:
    """Where the file's complete lines end (0: none, or no such file)."""
    try:
        with open(path, "rb") as fh:
            pos = os.fstat(fh.fileno()).st_size
            while pos > 0:
                step = min(_FIRST_BLOCK, pos)
                fh.seek(pos - step)
                cut = fh.read(step).rfind(b"\n")
                if cut >= 0:
                    return pos - step + cut + 1
                pos -= step
    except FileNotFoundError:
        pass
    return 0
