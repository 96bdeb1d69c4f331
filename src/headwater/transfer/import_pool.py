"""The import's worker processes, and the shared memory that carries chunks to them and back.

A converted chunk is about 1.3 times its input (5 MB of log lines for 4 MB of Segment messages).
Returned through the pool's pipe, the importing process read it in 64 KiB pieces, copied it
twice more and unpickled it: about 2 us of its CPU per event, a third of what it spent. Instead
each chunk in flight has a slot of an anonymous shared mapping made before the workers are
forked: the worker writes the chunk's log lines there and returns only the small parts (ids,
dates, counts), and the importing process copies the lines out once, straight into what it
writes to the log. A compressed input (or standard input) travels to the worker the same way.
Whatever does not fit a slot (one huge record, a CSV that grows tenfold) goes through the pipe
as before.
"""

from __future__ import annotations

import gc
import mmap
import multiprocessing
from collections import deque
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path

from headwater.transfer.convert import Convert, Converted, convert_chunk
from headwater.transfer.sources import hash_file

#: Chunks converted ahead of the one being written, per worker (each holds a slot).
AHEAD_PER_WORKER = 2
#: Bytes of one slot: a chunk's input (about 4 MB, :data:`.sources.CHUNK_BYTES`) or its log lines.
SLOT_BYTES = 24 << 20

#: The mapping, set before the fork so that the workers share it (None in the importing process
#: until a pool starts, and when none does).
_shared: mmap.mmap | None = None


def tune_gc() -> None:
    """Events are acyclic dicts made by the thousand: collect rarely (as the server does). What
    exists now (the modules) is frozen, never scanned again; in the workers, forked after it,
    never written to by a collection either (their pages stay shared)."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


class ImportPool:
    """Worker processes, forked at construction: make it before any thread starts."""

    def __init__(self, jobs: int) -> None:
        global _shared
        self.jobs = jobs
        self.ahead = jobs * AHEAD_PER_WORKER
        self._map = _shared = mmap.mmap(-1, self.ahead * SLOT_BYTES)  # MAP_SHARED | MAP_ANONYMOUS
        self._free: deque[int] = deque(range(self.ahead))
        tune_gc()
        self.pool: Pool = multiprocessing.get_context("fork").Pool(jobs, initializer=tune_gc)

    def terminate(self) -> None:
        self.pool.terminate()

    def hash(self, path: Path, marks: set[int]) -> AsyncResult[tuple[str, dict[int, str]]]:
        """The file's SHA-256 (:func:`.sources.hash_file`), computed by a worker."""
        return self.pool.apply_async(hash_file, (path, marks))

    def convert(
        self, conv: Convert, data: bytes | tuple[str, int, int], first_line: int
    ) -> tuple[int, AsyncResult[Converted]]:
        """Convert a chunk (its bytes, or where it is in a plain file) in a worker: the slot it
        holds (-1: none was free) until :meth:`release`, and the result to come."""
        slot = self._free.popleft() if self._free else -1
        if slot >= 0 and isinstance(data, bytes) and len(data) <= SLOT_BYTES:
            start = slot * SLOT_BYTES
            self._map[start : start + len(data)] = data
            data = ("", slot, len(data))  # the input is in the slot
        return slot, self.pool.apply_async(_convert, (conv, data, first_line, slot))

    def lines(self, conv: Converted) -> memoryview:
        """The log lines of a converted chunk: a view of its slot (valid until :meth:`release`),
        or of the bytes that came through the pipe."""
        if conv.slot < 0:
            return memoryview(conv.blob)
        start = conv.slot * SLOT_BYTES
        return memoryview(self._map)[start : start + (conv.ends[-1] if conv.ends else 0)]

    def release(self, slot: int) -> None:
        """The slot :meth:`convert` gave a chunk is free again (its lines were copied out)."""
        if slot >= 0:
            self._free.append(slot)


def _convert(conv: Convert, data: bytes | tuple[str, int, int], first_line: int, slot: int) -> Converted:
    """In a worker: the chunk's input from its slot (or file, or the pipe), its lines back into
    the slot when they fit."""
    assert _shared is not None
    if isinstance(data, tuple) and data[0] == "":
        start = data[1] * SLOT_BYTES
        data = _shared[start : start + data[2]]
    out = convert_chunk(conv, data, first_line)
    if slot >= 0 and len(out.blob) <= SLOT_BYTES:
        start = slot * SLOT_BYTES
        _shared[start : start + len(out.blob)] = out.blob
        out.blob = bytearray()
        out.slot = slot
    return out
