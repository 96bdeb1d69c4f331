"""Group-commit appender of one writer's daily files.

Concurrent requests call :meth:`LogWriter.append`; whatever arrives while a write is in progress
is gathered and written (and fsynced, under policy ``always``) in one go by a single thread, and
every caller is released only once its bytes are on disk. A failed write is rolled back (the file
is truncated to where it was), so the log never holds a partial line nor an unacknowledged one
that a client will resend.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

from headwater.config import FsyncPolicy
from headwater.log.files import LogKind, log_file_name
from headwater.ops import metrics


class LogWriteError(Exception):
    """The log could not take the bytes: nothing of them is in the log."""


class BackpressureError(LogWriteError):
    """Too many bytes wait for the disk: answer 503 and let the client retry."""


class DrainingError(LogWriteError):
    """This host is leaving its cluster (``headwater cluster drain``): the client sends elsewhere."""


#: how often a writer looks for the drain marker
DRAIN_CHECK_SECONDS = 1.0


class LogWriter:
    def __init__(
        self,
        log_dir: Path,
        kind: LogKind,
        writer_id: str,
        fsync: FsyncPolicy = "always",
        fsync_interval: float = 0.2,
        max_pending_bytes: int = 64 << 20,
        min_free_bytes: int = 64 << 20,
    ) -> None:
        self.log_dir = log_dir
        self.kind: LogKind = kind
        self.writer_id = writer_id
        self.fsync = fsync
        self.fsync_interval = fsync_interval
        self.max_pending_bytes = max_pending_bytes
        self.min_free_bytes = min_free_bytes
        self._fds: dict[date, int] = {}
        self._pending: list[tuple[date, bytes, asyncio.Future[None]]] = []
        self._pending_bytes = 0
        self._flushing = False
        self._flush_task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"log-{kind}")
        self._free_checked_at = 0.0
        self._interval_task: asyncio.Task[None] | None = None
        #: a file whose presence means the host is draining (set in a cluster, docs/scale-out.md)
        self.drain_marker: Path | None = None
        self.draining = False
        self._drain_checked_at = 0.0
        self._dirty: set[int] = set()
        self.healthy = True
        self.last_error: str | None = None
        self._bytes = metrics.LOG_BYTES.labels(kind)
        self._fsync_hist = metrics.LOG_FSYNC_SECONDS.labels(kind)
        self._group_hist = metrics.LOG_BATCH_REQUESTS.labels(kind)
        self._errors = metrics.LOG_WRITE_ERRORS.labels(kind)
        self._writable = metrics.LOG_WRITABLE.labels(kind)
        self._writable.set(1)

    # -- public ---------------------------------------------------------------------------
    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.fsync == "interval" and self._interval_task is None:
            self._interval_task = asyncio.get_running_loop().create_task(self._interval_fsync())

    async def append(self, day: date, data: bytes) -> None:
        """Return once ``data`` (complete lines) is in today's file under the fsync policy."""
        if not data:
            return
        if self.drain_marker is not None and self._is_draining():
            raise DrainingError(
                "this host is leaving the cluster (headwater cluster drain): nothing was stored,"
                " send to another host"
            )
        if self._pending_bytes + len(data) > self.max_pending_bytes:
            raise BackpressureError(f"{self._pending_bytes} bytes are waiting for the disk; retry shortly")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._pending.append((day, data, fut))
        self._pending_bytes += len(data)
        if not self._flushing:
            self._flushing = True
            self._flush_task = loop.create_task(self._flush_loop())
        await fut

    def path_for(self, day: date) -> Path:
        return self.log_dir / log_file_name(self.kind, day, self.writer_id)

    async def close(self) -> None:
        while self._flushing:
            await asyncio.sleep(0.005)
        if self._interval_task is not None:
            self._interval_task.cancel()
            self._interval_task = None
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close_all)
        self._executor.shutdown(wait=True)

    # -- internals ------------------------------------------------------------------------
    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch = self._pending
                self._pending = []
                self._pending_bytes = 0
                by_day: dict[date, list[bytes]] = {}
                for day, data, _ in batch:
                    by_day.setdefault(day, []).append(data)
                try:
                    await loop.run_in_executor(self._executor, self._write_days, by_day)
                except OSError as exc:
                    error = LogWriteError(f"the event log cannot be written: {exc.strerror or exc}")
                    self._fail(str(error))
                    for _, _, fut in batch:
                        if not fut.done():
                            fut.set_exception(error)
                    continue
                self._group_hist.observe(len(batch))
                if not self.healthy:
                    self.healthy = True
                    self.last_error = None
                    self._writable.set(1)
                for _, _, fut in batch:
                    if not fut.done():
                        fut.set_result(None)
        finally:
            self._flushing = False

    def _fail(self, message: str) -> None:
        self.healthy = False
        self.last_error = message
        self._errors.inc()
        self._writable.set(0)

    def _is_draining(self) -> bool:
        now = time.monotonic()
        if now - self._drain_checked_at >= DRAIN_CHECK_SECONDS:
            self._drain_checked_at = now
            self.draining = self.drain_marker is not None and self.drain_marker.exists()
        return self.draining

    def _check_free_space(self) -> None:
        now = time.monotonic()
        if self.min_free_bytes <= 0 or now - self._free_checked_at < 1.0:
            return
        st = os.statvfs(self.log_dir)
        free = st.f_bavail * st.f_frsize
        if free < self.min_free_bytes:
            raise OSError(28, f"only {free // (1 << 20)} MB free on the log's disk")
        self._free_checked_at = now

    def _fd_for(self, day: date) -> int:
        fd = self._fds.get(day)
        if fd is not None:
            return fd
        path = self.path_for(day)
        created = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if created and self.fsync != "never":
            dir_fd = os.open(self.log_dir, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        self._fds[day] = fd
        # keep at most two files open: this day's and the newest other (today's and yesterday's, as
        # the collector writes; an import's older day must not close the file it is about to write)
        for old in [d for d in sorted(self._fds) if d != day][:-1]:
            old_fd = self._fds.pop(old)
            if self.fsync != "never":
                os.fdatasync(old_fd)
            self._dirty.discard(old_fd)
            os.close(old_fd)
        return fd

    def _write_days(self, by_day: dict[date, list[bytes]]) -> None:
        started = time.perf_counter()
        self._check_free_space()
        for day, chunks in by_day.items():
            data = b"".join(chunks)
            fd = self._fd_for(day)
            before = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                if self.fsync == "always":
                    os.fdatasync(fd)
                else:
                    self._dirty.add(fd)
            except OSError:
                self._rollback(day, fd, before)
                raise
            self._bytes.inc(len(data))
        self._fsync_hist.observe(time.perf_counter() - started)

    def _rollback(self, day: date, fd: int, size: int) -> None:
        try:
            os.ftruncate(fd, size)
            os.fdatasync(fd)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            os.close(fd)
        self._fds.pop(day, None)
        self._dirty.discard(fd)

    async def _interval_fsync(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.fsync_interval)
            try:
                await loop.run_in_executor(self._executor, self._sync_dirty)
            except OSError as exc:
                self._fail(f"fsync failed: {exc}")

    def _sync_dirty(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for fd in dirty:
            os.fdatasync(fd)

    def _close_all(self) -> None:
        for fd in self._fds.values():
            if self.fsync != "never":
                with contextlib.suppress(OSError):
                    os.fdatasync(fd)
            os.close(fd)
        self._fds.clear()
        self._dirty.clear()
