"""Reading every writer's files from a checkpoint, merged in the order events were received.

Each writer appends to its own daily file, so the log has no single order. Reading one file after
another (what :class:`LogReader` does) would, during a catch-up or a replay, feed a consumer all of
writer A's day before writer B's, and order-sensitive aggregates (sessions) would differ from live
tailing. This reader takes the earliest day that has unread lines, reads a chunk of every file of
that day, and returns only the lines received up to the *horizon*: the earliest last-read
``receivedAt`` among files that have more to read. Within that window the lines are sorted by
(receivedAt, file, offset), the order live tailing sees too, up to the group-commit jitter.

A batch always consumes a prefix of each file, so the checkpoint stays a map file -> offset.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from headwater.log.files import LogFile, list_log_files

_RECEIVED = b'"receivedAt":"'
_RECEIVED_LEN = len(_RECEIVED)
_ORDER = operator.attrgetter("received", "file", "offset")
_MIN_FILE_BYTES = 4 << 20  # well over the largest event, so a chunk always holds a whole line


@dataclass(slots=True)
class PendingLine:  # a value: not frozen only because frozen dataclasses are slow to build
    file: str
    offset: int
    end: int
    data: bytes
    received: bytes  # the raw receivedAt text, b"" when the line has none


@dataclass(slots=True)
class MergedBatch:
    lines: list[PendingLine]
    checkpoint: dict[str, int]  # the checkpoint after these lines
    pending_bytes: int  # unread bytes in the log before this batch


def received_of(data: bytes) -> bytes:
    i = data.find(_RECEIVED)
    if i < 0:
        return b""
    start = i + len(_RECEIVED)
    end = data.find(b'"', start, start + 64)
    return data[start:end] if end > 0 else b""


def _read_chunk(lf: LogFile, start: int, budget: int, max_lines: int) -> tuple[list[PendingLine], bool]:
    """Complete lines from ``start``; and whether they reach the end of the file's complete data."""
    guess = min(budget, max(64 << 10, max_lines * 1024))  # most batches need far less than the budget
    with open(lf.path, "rb") as fh:
        fh.seek(start)
        chunk = fh.read(guess)
        at_eof = len(chunk) < guess
        if not at_eof and chunk.count(b"\n") < max_lines and guess < budget:
            chunk += fh.read(budget - guess)
            at_eof = len(chunk) < budget
    parts = chunk.split(b"\n")
    complete_lines = len(parts) - 1  # the last part is the rest after the last newline
    taken = min(complete_lines, max_lines)
    lines: list[PendingLine] = []
    append = lines.append
    name = lf.name
    pos = start
    for data in parts[:taken]:
        end = pos + len(data) + 1
        i = data.find(_RECEIVED)
        if i < 0:
            received = b""
        else:
            j = i + _RECEIVED_LEN
            k = data.find(b'"', j, j + 64)
            received = data[j:k] if k > 0 else b""
        append(PendingLine(name, pos, end, data, received))
        pos = end
    # a partial last line (being written) counts as "the end" too: nothing more is readable now
    complete = at_eof and taken == complete_lines
    return lines, complete


def read_merged(
    log_dir: Path, checkpoint: Mapping[str, int], max_lines: int = 10_000, max_bytes: int = 32 << 20
) -> MergedBatch:
    pending: list[tuple[LogFile, int]] = []
    pending_bytes = 0
    for lf in list_log_files(log_dir, "events"):
        try:
            size = os.stat(lf.path).st_size
        except FileNotFoundError:
            continue
        start = checkpoint.get(lf.name, 0)
        if size > start:
            pending.append((lf, start))
            pending_bytes += size - start
    new_cp = dict(checkpoint)
    if not pending:
        return MergedBatch([], new_cp, 0)
    day = min(lf.day for lf, _ in pending)
    group = [(lf, start) for lf, start in pending if lf.day == day]
    per_lines = max(1, max_lines // len(group))
    per_bytes = max(_MIN_FILE_BYTES, max_bytes // len(group))
    chunks: list[list[PendingLine]] = []
    horizon: bytes | None = None
    horizon_chunk = -1
    for lf, start in group:
        try:
            lines, complete = _read_chunk(lf, start, per_bytes, per_lines)
        except FileNotFoundError:
            continue
        if not lines:
            continue
        chunks.append(lines)
        if not complete:
            last = lines[-1].received
            if horizon is None or last < horizon:
                horizon = last
                horizon_chunk = len(chunks) - 1
    taken: list[PendingLine] = []
    for index, lines in enumerate(chunks):
        if horizon is not None and index != horizon_chunk:  # the horizon's own chunk always goes whole
            cut = 0
            while cut < len(lines) and lines[cut].received <= horizon:
                cut += 1
            lines = lines[:cut]
        if lines:
            taken.extend(lines)
            new_cp[lines[0].file] = lines[-1].end
    taken.sort(key=_ORDER)
    return MergedBatch(taken, new_cp, pending_bytes)
