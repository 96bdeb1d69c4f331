"""The tailers of one process take turns and share what they read (BatchTurns)."""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from headwater.log.merged_read import MergedBatch, read_merged
from headwater.log.tailing.batch import R
from headwater.log.tailing.decode import Decoded, decode_data


class BatchTurns:
    """Tailers of one process take turns, one batch each, first come first served, and share reads.

    Three tailers applying batches at once held three batches in memory (and, under the GIL, went
    little faster than in turn; letting one apply while the next reads let them drift apart and
    share less): with turns, the background process's memory is bounded by a few batches
    whatever the number of tailers.

    The lines read for one tailer (reading, splitting, finding each receivedAt was a third of the
    background process's CPU under load) and their decoded records (one record type for all:
    headwater.log.record) are handed to the others instead of read and decoded again:

    - a tailer at the checkpoint a kept batch was read from takes it whole;
    - a tailer whose checkpoint lies within a kept batch takes the rest of it;
    - a tailer behind a kept batch reads, and cuts what it read where that batch starts.

    Either way the tailers end their batches where another one did, and fall in step. To get there
    the tailer furthest behind goes first (see :meth:`take_turn`). The last SHARED batches are kept:
    two of 5,000 lines shared as much as three and kept the process 10 MB smaller.
    """

    SHARED = 2
    #: Tailers closer than this to the one furthest ahead go by position (see :meth:`take_turn`).
    CATCH_UP_WINDOW = 64 << 20

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[list[int]] = deque()  # the waiting tailers' positions (a list each: identity)
        self._busy = False
        # (log dir, the checkpoint it was read from, batch, its decoded records by record type)
        self._reads: deque[tuple[str, dict[str, int], MergedBatch, dict[type, Decoded[Any]]]] = deque(
            maxlen=self.SHARED
        )
        self.shared_reads = 0  # batches handed over without reading (for tests and benchmarks)
        self.shared_decodes = 0  # ... and records without decoding

    @contextlib.contextmanager
    def take_turn(self, position: int = 0) -> Iterator[None]:
        """Wait for this tailer's turn; ``position``: how far it has read (its checkpoint's bytes).

        First come first served, except that among tailers within CATCH_UP_WINDOW bytes of each
        other the one furthest behind goes first: it catches up with the others, then they
        read in step and share. A tailer further behind than that (its store was down) takes its
        turns in order and catches up on its own, without holding the others back."""
        me = [position]
        with self._cond:
            self._queue.append(me)
            while self._busy or self._next() is not me:
                self._cond.wait()
            self._queue.remove(me)
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _next(self) -> list[int]:
        first = self._queue[0]
        lead = max(w[0] for w in self._queue)
        if lead - first[0] > self.CATCH_UP_WINDOW:
            return first
        return min((w for w in self._queue if lead - w[0] <= self.CATCH_UP_WINDOW), key=lambda w: w[0])

    def take(
        self, log_dir: Path, checkpoint: dict[str, int], max_lines: int, record_type: type[R]
    ) -> tuple[MergedBatch, Decoded[R]]:
        """Up to ``max_lines`` lines after ``checkpoint`` and their records (call it during a turn).

        The lines: the part not yet consumed of a batch just read for another tailer, when
        ``checkpoint`` lies within it, else a batch read now. Taking the rest of the other tailer's
        batch ends this one where that one ended, so tailers that drifted apart (one caught up
        while another was applying) fall in step again at once. A shared batch may miss lines
        written since it was read: they come in the next one. An empty read (caught up) is never
        shared: each tailer looks for new lines itself.

        The records: decoded once per record type for every tailer sharing the batch (they are
        shared: record types are frozen)."""
        for known_dir, base, batch, decoded in self._reads:
            if known_dir != str(log_dir):
                continue
            if checkpoint == base and len(batch) <= max_lines:
                self.shared_reads += 1
                return batch, self._decoded(batch, decoded, record_type)
            found = batch.after(checkpoint)
            if found is not None and len(found[0]) <= max_lines:
                self.shared_reads += 1
                part, sel = found
                return part, _part_of(self._decoded(batch, decoded, record_type), sel, len(batch))
        batch = read_merged(log_dir, checkpoint, max_lines)
        if not batch.data:
            return batch, ([], [], [])
        for known_dir, base, _, _ in self._reads:  # behind another tailer: end where it started
            cut = batch.until(base) if known_dir == str(log_dir) else None
            if cut is not None:
                batch = cut
                break
        self._reads.append((str(log_dir), dict(checkpoint), batch, {}))
        return batch, self._decoded(batch, self._reads[-1][3], record_type)

    def _decoded(
        self, batch: MergedBatch, decoded: dict[type, Decoded[Any]], record_type: type[R]
    ) -> Decoded[R]:
        """The kept ``batch``'s records of ``record_type``, decoded on first use."""
        found = decoded.get(record_type)
        if found is None:
            found = decoded[record_type] = decode_data(batch.data, record_type)
        else:
            self.shared_decodes += 1
        return cast("Decoded[R]", found)


def _part_of(decoded: Decoded[R], sel: list[int], lines: int) -> Decoded[R]:
    """The records and rejects of the lines at merge positions ``sel`` of a decoded batch of
    ``lines`` lines, numbered by their position in ``sel``."""
    new_at = [-1] * lines
    for new, old in enumerate(sel):
        new_at[old] = new
    records, indexes, reasons = decoded
    out_records: list[R] = []
    out_indexes: list[int] = []
    for record, index in zip(records, indexes, strict=True):
        at = new_at[index]
        if at >= 0:
            out_records.append(record)
            out_indexes.append(at)
    return out_records, out_indexes, [(new_at[i], why) for i, why in reasons if new_at[i] >= 0]
