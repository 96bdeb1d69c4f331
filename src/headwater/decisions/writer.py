"""The decision log of one HTTP worker: ``note()`` on the request path, a task and a thread write.

The request path only checks the sample and appends a :data:`~headwater.decisions.record.Pending`
tuple to a list: no formatting, no I/O, no lock, no metric. The worker's ``decision-log`` task
formats what is buffered every ``format_seconds`` (0.1 s), between requests, in chunks of
``CHUNK`` decisions with a yield to the event loop after each (a chunk is a fraction of a
millisecond); every ``flush_seconds`` (1 s) the lines go to the log's own thread, which appends them
to ``decisions-YYYYMMDD.<writer>.jsonl`` (UTC day of each decision) in the log directory and
fdatasyncs the file. Formatting on the event loop rather than in a thread costs less CPU (no GIL
handover, no cache bouncing between cores) and never holds a request up for a GIL switch interval.

Decisions are analysis data, not acknowledged events: a crash loses what was buffered (about a
second); the torn last line a crash can leave is cut when the worker reopens the file, and skipped
by the lake load before that. Memory is bounded: beyond ``max_buffered`` decisions waiting to be
formatted new ones are dropped and counted (``headwater_decisions_dropped_total``), as are the
decisions of a write that failed (disk full: the file is truncated back to where it was, so it
never holds half a batch). While a write is stalled nothing more is formatted, so the lines
waiting for the disk are at most one flush's worth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

from headwater.decisions.metrics import DECISIONS_DROPPED, DECISIONS_LOGGED
from headwater.decisions.record import Formatter, Pending, keeps_all, sample_threshold, sampled
from headwater.log.files import log_file_name
from headwater.targeting.pipeline import EnrichOutcome

log = logging.getLogger("headwater.decisions")

#: decisions waiting to be formatted beyond which new ones are dropped (about 30 MB of tuples)
MAX_BUFFERED = 100_000
#: decisions formatted between two yields to the event loop
CHUNK = 256
FORMAT_SECONDS = 0.1
FLUSH_SECONDS = 1.0

#: formatted lines waiting for the disk, by UTC day: (chunks of bytes, number of decisions)
Lines = dict[date, tuple[list[bytes], int]]


class DecisionLog:
    """A service of the HTTP worker (``runtime.decisions``): start, note, stop."""

    name = "decisions"

    def __init__(
        self,
        log_dir: Path,
        writer_id: str,
        sample: float = 1.0,
        flush_seconds: float = FLUSH_SECONDS,
        format_seconds: float = FORMAT_SECONDS,
        max_buffered: int = MAX_BUFFERED,
    ) -> None:
        self.log_dir = log_dir
        self.writer_id = writer_id
        self.sample = sample
        self.flush_seconds = flush_seconds
        self.format_seconds = min(format_seconds, flush_seconds)
        self.max_buffered = max_buffered
        self._threshold = sample_threshold(sample)
        self._all = keeps_all(self._threshold)
        self._buffer: list[Pending] = []
        self._lines: Lines = {}
        self._formatter = Formatter(writer_id)
        self._fds: dict[date, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.full_drops = 0  # counted on the request path
        self.write_drops = 0  # counted by the writing thread
        self._reported_drops = 0
        self.logged = 0
        self.last_error: str | None = None

    # -- the request path -----------------------------------------------------------------
    def note(self, outcome: EnrichOutcome, seconds: float, at_us: int | None = None) -> None:
        """Keep a decision for the log, if it is in the sample (``at_us``: now by default)."""
        request_id = outcome.request["id"]
        if self._all or sampled(request_id, self._threshold):
            buffer = self._buffer
            if len(buffer) < self.max_buffered:
                buffer.append(
                    (
                        time.time_ns() // 1000 if at_us is None else at_us,
                        request_id,
                        outcome.reason,
                        outcome.consent,
                        outcome.segments,
                        seconds,
                    )
                )
            else:
                self.full_drops += 1

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decision-log")
        self._task = asyncio.create_task(self._run(), name="decision-log")

    async def stop(self) -> None:
        """Write everything noted so far, close the files, end the task and the thread."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._executor is not None:
            self._format(self._take())
            lines, self._lines = self._lines, {}
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self._write_and_close, lines)
            self._executor.shutdown(wait=True)
            self._executor = None

    def write_all(self) -> None:
        """Format and write everything noted so far, in the caller's thread, and close the files
        (for tools and tests that run no event loop)."""
        self._format(self._take())
        lines, self._lines = self._lines, {}
        self._write_and_close(lines)

    def status(self) -> tuple[bool, dict[str, Any]]:
        # never makes the server unready: decisions are analysis data
        return True, {
            "sample": self.sample,
            "logged": self.logged,
            "dropped": self.full_drops + self.write_drops,
            "buffered": len(self._buffer),
            "last_error": self.last_error,
        }

    # -- the task ---------------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_write = loop.time() + self.flush_seconds
        while True:
            await asyncio.sleep(self.format_seconds)
            pending, done = self._take(), 0
            try:
                while done < len(pending):
                    self._format(pending[done : done + CHUNK])
                    done += CHUNK
                    await asyncio.sleep(0)  # the requests waiting go first
            finally:  # stopped between two chunks: the rest goes back, for the stop to write
                self._buffer[:0] = pending[done:]
            unreported = self.full_drops + self.write_drops != self._reported_drops
            if loop.time() >= next_write and (self._lines or unreported):
                lines, self._lines = self._lines, {}
                await loop.run_in_executor(self._executor, self._write, lines)
                next_write = loop.time() + self.flush_seconds

    def _take(self) -> list[Pending]:
        pending, self._buffer = self._buffer, []
        return pending

    def _format(self, pending: list[Pending]) -> None:
        if not pending:
            return
        try:
            formatted = self._formatter.lines(pending)
        except Exception as exc:  # a bug here must not stop the log: count, report, go on
            self.write_drops += len(pending)
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("decisions could not be formatted")
            return
        for day, (data, count) in formatted.items():
            chunks, total = self._lines.get(day, ([], 0))
            chunks.append(data)
            self._lines[day] = (chunks, total + count)

    # -- the thread -------------------------------------------------------------------------
    def _write_and_close(self, lines: Lines) -> None:
        try:
            self._write(lines)
        finally:
            self._close_files()

    def _write(self, lines: Lines) -> None:
        for day, (chunks, count) in sorted(lines.items()):
            try:
                self._append(day, b"".join(chunks))
            except OSError as exc:
                self.write_drops += count
                self.last_error = f"cannot write the decision log: {exc.strerror or exc}"
                log.warning("%s (%d decisions dropped)", self.last_error, count)
                continue
            self.logged += count
            DECISIONS_LOGGED.inc(count)
            self.last_error = None
        drops = self.full_drops + self.write_drops
        if drops != self._reported_drops:
            DECISIONS_DROPPED.inc(drops - self._reported_drops)
            self._reported_drops = drops

    def path_for(self, day: date) -> Path:
        return self.log_dir / log_file_name("decisions", day, self.writer_id)

    def _append(self, day: date, data: bytes) -> None:
        fd = self._fd_for(day)
        before = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fdatasync(fd)
        except OSError:
            with contextlib.suppress(OSError):  # never leave half a batch: back to where it was
                os.ftruncate(fd, before)
            self._fds.pop(day, None)
            with contextlib.suppress(OSError):
                os.close(fd)
            raise

    def _fd_for(self, day: date) -> int:
        fd = self._fds.get(day)
        if fd is not None:
            return fd
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.path_for(day)
        created = not path.exists()
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            if created:
                dir_fd = os.open(self.log_dir, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
            else:
                cut_torn_tail(fd)
        except OSError:
            os.close(fd)
            raise
        self._fds[day] = fd
        for old in sorted(self._fds)[:-2]:  # today's and yesterday's files stay open
            os.close(self._fds.pop(old))
        return fd

    def _close_files(self) -> None:
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()


def cut_torn_tail(fd: int) -> int:
    """Truncate a file to just after its last newline (a line a crash left half written); the
    bytes cut. Only this writer appends to its files, so nothing else is writing there."""
    size = os.fstat(fd).st_size
    end = size
    while end > 0:
        step = min(end, 1 << 16)
        block = os.pread(fd, step, end - step)
        cut = block.rfind(b"\n")
        if cut >= 0:
            end = end - step + cut + 1
            break
        end -= step
    if end < size:
        os.ftruncate(fd, end)
        log.warning("cut a torn last line of %d bytes from the decision log", size - end)
    return size - end
