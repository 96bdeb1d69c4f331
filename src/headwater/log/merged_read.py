"""Reading every writer's files from a checkpoint, merged in the order events were received.

Each writer appends to its own daily file, so the log has no single order. Reading one file after
another would, during a catch-up or a replay, feed a consumer all of
writer A's day before writer B's, and order-sensitive aggregates (sessions) would differ from live
tailing. This reader takes the earliest day that has unread lines, reads a chunk of every file of
that day, and returns only the lines received up to the *horizon*: the earliest last-read
``receivedAt`` among files that have more to read. Within that window the lines are sorted by
(receivedAt, file, offset), the order live tailing sees too, up to the group-commit jitter.

A batch always consumes a prefix of each file, so the checkpoint stays a map file -> offset.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import overload

from headwater.log.files import LogFile, list_log_files

_RECEIVED = b'"receivedAt":"'
_RECEIVED_LEN = len(_RECEIVED)
_MIN_FILE_BYTES = 4 << 20  # well over the largest event, so a chunk always holds a whole line
_line_bytes = [1024.0]  # recent average line size (a hint for the size of reads, shared by all readers)


@dataclass(slots=True)
class PendingLine:  # a value: not frozen only because frozen dataclasses are slow to build
    file: str
    offset: int
    end: int
    data: bytes
    received: bytes  # the raw receivedAt text, b"" when the line has none


@dataclass(slots=True)
class _Chunk:
    """The lines taken from one file: a prefix of what was read from ``start``."""

    name: str
    start: int
    sizes: list[int]  # running total of the lines' lengths (without their newlines), from 0
    first: int  # the index of the chunk's first line before the merge sort

    @property
    def end(self) -> int:
        """The index after the chunk's last line before the merge sort."""
        return self.first + len(self.sizes) - 1


class MergedBatch:
    """A batch of lines in merge order: their bytes in one list, and nothing per line beyond that.

    The file and offset of a line (needed only for a rejected line) are computed on demand by
    :meth:`position`; :attr:`lines` builds the per-line objects of older callers.
    """

    __slots__ = ("_chunks", "_order", "_received", "checkpoint", "data", "first_received", "pending_bytes")

    def __init__(
        self,
        data: list[bytes],
        checkpoint: dict[str, int],
        pending_bytes: int,
        first_received: bytes = b"",
        chunks: list[_Chunk] | None = None,
        order: list[int] | None = None,
        received: list[bytes] | None = None,
    ) -> None:
        self.data = data  # the lines' bytes (no newline), in merge order
        self.checkpoint = checkpoint  # the checkpoint after these lines
        self.pending_bytes = pending_bytes  # unread bytes in the log before this batch
        self.first_received = first_received  # receivedAt of the first line (the oldest)
        self._chunks = chunks or []
        self._order = order  # merge position -> index in the chunks' concatenation (None: same)
        self._received = received or []  # receivedAt per line, in the chunks' concatenation order

    def __len__(self) -> int:
        return len(self.data)

    def after(self, checkpoint: Mapping[str, int]) -> tuple[MergedBatch, list[int]] | None:
        """The part of this batch a reader at ``checkpoint`` has not consumed yet, if that
        checkpoint lies within the batch: (that part, the merge positions of its lines here).
        None when the checkpoint is elsewhere, or at the end (nothing left here).

        The part ends where this batch ends, so two readers of one log, one a little behind the
        other, end their batches at the same checkpoint and can share the next one."""
        cuts = self._cuts(checkpoint)
        if cuts is None:
            return None
        raw = [
            i for chunk, k in zip(self._chunks, cuts, strict=True) for i in range(chunk.first + k, chunk.end)
        ]
        if not raw:
            return None
        sel, order = self._in_merge_order(set(raw))
        skipped = sum(checkpoint.get(chunk.name, 0) - chunk.start for chunk in self._chunks)
        part = MergedBatch(
            [self.data[i] for i in sel],
            self.checkpoint,
            self.pending_bytes - skipped,
            self._received[order[0]],
            self._chunks,
            order,
            self._received,
        )
        return part, sel

    def until(self, checkpoint: Mapping[str, int]) -> MergedBatch | None:
        """This batch cut where another reader's batch started (``checkpoint``, within this
        batch): a reader behind another one then reaches its checkpoint and can share its
        batches from there. None when the checkpoint is elsewhere or at this batch's start."""
        cuts = self._cuts(checkpoint)
        if cuts is None or not any(cuts):
            return None
        if sum(cuts) == len(self.data):
            return self
        chunks: list[_Chunk] = []
        renumbered: dict[int, int] = {}  # old chunk position -> new one
        for chunk, k in zip(self._chunks, cuts, strict=True):
            if k:
                chunks.append(_Chunk(chunk.name, chunk.start, chunk.sizes[: k + 1], len(renumbered)))
                renumbered.update((chunk.first + j, chunks[-1].first + j) for j in range(k))
        received = [b""] * len(renumbered)
        for old, new in renumbered.items():
            received[new] = self._received[old]
        sel, olds = self._in_merge_order(renumbered.keys())
        data = [self.data[i] for i in sel]
        order = [renumbered[old] for old in olds]
        ends = {chunk.name: checkpoint.get(chunk.name, 0) for chunk in self._chunks}
        return MergedBatch(
            data,
            {**self.checkpoint, **ends},
            self.pending_bytes,
            received[order[0]],
            chunks,
            None if order == sorted(order) else order,
            received,
        )

    def _in_merge_order(self, keep: Collection[int]) -> tuple[list[int], list[int]]:
        """The lines at chunk positions ``keep``, in merge order: (their merge positions, their
        chunk positions)."""
        raws = range(len(self.data)) if self._order is None else self._order
        pairs = [(at, raw) for at, raw in enumerate(raws) if raw in keep]
        return [at for at, _ in pairs], [raw for _, raw in pairs]

    def _cuts(self, checkpoint: Mapping[str, int]) -> list[int] | None:
        """For each chunk, how many of its lines come before ``checkpoint``; None unless the
        checkpoint lies within this batch: in each file read, between where the chunk starts and
        where it ends and on a line boundary; in every other file, where this batch is."""
        cuts = []
        for chunk in self._chunks:
            k = _lines_consumed(chunk.sizes, checkpoint.get(chunk.name, 0) - chunk.start)
            if k < 0:
                return None
            cuts.append(k)
        covered = {chunk.name for chunk in self._chunks}
        for name in {*checkpoint, *self.checkpoint} - covered:
            if checkpoint.get(name, 0) != self.checkpoint.get(name, 0):
                return None
        return cuts

    def position(self, index: int) -> tuple[str, int]:
        """(file, offset) of the line at merge position ``index``."""
        raw = index if self._order is None else self._order[index]
        chunk = self._chunks[bisect_right([c.first for c in self._chunks], raw) - 1]
        i = raw - chunk.first
        return chunk.name, chunk.start + chunk.sizes[i] + i

    def positions(self) -> Sequence[tuple[str, int]]:
        """(file, offset) of every line, computed when read."""
        return _Positions(self)

    @property
    def lines(self) -> list[PendingLine]:
        out = []
        for index, data in enumerate(self.data):
            raw = index if self._order is None else self._order[index]
            name, offset = self.position(index)
            out.append(PendingLine(name, offset, offset + len(data) + 1, data, self._received[raw]))
        return out


class _Positions(Sequence[tuple[str, int]]):
    __slots__ = ("_batch",)

    def __init__(self, batch: MergedBatch) -> None:
        self._batch = batch

    def __len__(self) -> int:
        return len(self._batch.data)

    @overload
    def __getitem__(self, index: int) -> tuple[str, int]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[str, int]]: ...

    def __getitem__(self, index: int | slice) -> tuple[str, int] | list[tuple[str, int]]:
        if isinstance(index, slice):
            return [self._batch.position(i) for i in range(len(self))[index]]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._batch.position(index)


def _lines_consumed(sizes: list[int], done: int) -> int:
    """k when ``done`` bytes are exactly the first k lines and their newlines, else -1 (``sizes``:
    the running total of the lines' lengths without newlines, from 0)."""
    if done < 0:
        return -1
    lo, hi = 0, len(sizes) - 1
    while lo <= hi:  # sizes[k] + k grows with k: a binary search
        mid = (lo + hi) // 2
        at = sizes[mid] + mid
        if at == done:
            return mid
        if at < done:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1


def received_of(data: bytes) -> bytes:
    i = data.find(_RECEIVED)
    if i < 0:
        return b""
    start = i + len(_RECEIVED)
    end = data.find(b'"', start, start + 64)
    return data[start:end] if end > 0 else b""


def _read_chunk(
    lf: LogFile, start: int, budget: int, max_lines: int, end: int | None = None
) -> tuple[list[bytes], list[bytes], bool]:
    """Complete lines from ``start`` and the receivedAt of each; and whether they reach the end of
    the file's complete data (or ``end``, a line boundary to stop at)."""
    if end is not None:
        budget = min(budget, end - start)
    # most batches need far less than the budget: read what the lines seen so far suggest, plus a
    # margin (a shortfall reads on up to the budget)
    guess = min(budget, max(64 << 10, int(max_lines * (_line_bytes[0] * 1.25 + 64))))
    with open(lf.path, "rb") as fh:
        fh.seek(start)
        chunk = fh.read(guess)
        at_eof = len(chunk) < guess
        parts = chunk.split(b"\n", max_lines)  # no object for the lines beyond the batch
        if not at_eof and len(parts) <= max_lines and guess < budget:  # fewer lines than wanted: read on
            chunk += fh.read(budget - guess)
            at_eof = len(chunk) < budget
            parts = chunk.split(b"\n", max_lines)
    rest = parts.pop()  # what follows the last newline taken
    if len(parts) >= 100:
        _line_bytes[0] = 0.5 * _line_bytes[0] + 0.5 * (len(chunk) - len(rest)) / len(parts)
    r, rl = _RECEIVED, _RECEIVED_LEN
    received = [
        d[j:k] if (j := d.find(r) + rl) >= rl and (k := d.find(b'"', j, j + 64)) > 0 else b"" for d in parts
    ]
    if end is not None and start + len(chunk) >= end:
        at_eof = True
    # a partial last line (being written) counts as "the end" too: nothing more is readable now
    complete = at_eof and b"\n" not in rest
    return parts, received, complete


def read_merged(
    log_dir: Path,
    checkpoint: Mapping[str, int],
    max_lines: int = 10_000,
    max_bytes: int = 32 << 20,
    limit: Mapping[str, int] | None = None,
) -> MergedBatch:
    """The next lines after ``checkpoint`` in merge order; with ``limit`` (file -> offset, a
    checkpoint further on), none beyond it: a file not in ``limit`` is not read at all."""
    pending: list[tuple[LogFile, int]] = []
    pending_bytes = 0
    for lf in list_log_files(log_dir, "events"):
        try:
            size = os.stat(lf.path).st_size
        except FileNotFoundError:
            continue
        if limit is not None:
            size = min(size, limit.get(lf.name, 0))
        start = checkpoint.get(lf.name, 0)
        if size > start:
            pending.append((lf, start))
            pending_bytes += size - start
    new_cp = dict(checkpoint)
    if not pending:
        return MergedBatch([], new_cp, 0)
    day = min(lf.day for lf, _ in pending)
    group = sorted(((lf, start) for lf, start in pending if lf.day == day), key=lambda p: p[0].name)
    per_lines = max(1, max_lines // len(group))
    per_bytes = max(_MIN_FILE_BYTES, max_bytes // len(group))
    read: list[tuple[LogFile, int, list[bytes], list[bytes]]] = []
    horizon: bytes | None = None
    horizon_chunk = -1
    for lf, start in group:
        try:
            end = None if limit is None else limit.get(lf.name, 0)
            parts, received, complete = _read_chunk(lf, start, per_bytes, per_lines, end)
        except FileNotFoundError:
            continue
        if not parts:
            continue
        read.append((lf, start, parts, received))
        if not complete:
            last = received[-1] or max(received)  # an erased line (log/erase.py) has no receivedAt
            if horizon is None or last < horizon:
                horizon = last
                horizon_chunk = len(read) - 1
    data: list[bytes] = []
    keys: list[bytes] = []
    chunks: list[_Chunk] = []
    for index, (lf, start, parts, received) in enumerate(read):
        if horizon is not None and index != horizon_chunk:  # the horizon's own chunk always goes whole
            cut = next((i for i, r in enumerate(received) if r > horizon), len(received))
            if cut < len(parts):
                parts, received = parts[:cut], received[:cut]
        if not parts:
            continue
        sizes = list(accumulate(map(len, parts), initial=0))
        chunks.append(_Chunk(lf.name, start, sizes, len(data)))
        new_cp[lf.name] = start + sizes[-1] + len(parts)
        data += parts
        keys += received
    if not data:
        return MergedBatch([], new_cp, pending_bytes)
    # sorted by (receivedAt, file, offset): a stable sort of the chunks taken in file name order
    order: list[int] | None = sorted(range(len(keys)), key=keys.__getitem__)
    assert order is not None
    if all(i == o for i, o in enumerate(order)):
        order = None
    else:
        data = [data[i] for i in order]
    first = keys[0 if order is None else order[0]]
    return MergedBatch(data, new_cp, pending_bytes, first, chunks, order, keys)
