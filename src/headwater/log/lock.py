"""Exclusive flocks on small files: one process per log writer id, one active process per tailer.

The kernel drops a flock when its process dies (kill -9 included), so a lock never outlives its
holder and a stand-by process can take over at once.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path


class WriterBusyError(RuntimeError):
    pass


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free (never waits); the holder's pid is written into the file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        """The pid written by the holder ('?' when unknown)."""
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class WriterLock(FileLock):
    def __init__(self, log_dir: Path, writer_id: str) -> None:
        super().__init__(log_dir / f".writer-{writer_id}.lock")
        self.writer_id = writer_id

    def acquire(self, wait: float = 0.0) -> None:
        """Take the lock, or raise WriterBusyError; ``wait``: seconds to keep trying while it is held
        (a sibling worker's crash recovery holds it for a moment: headwater.log.startup)."""
        deadline = time.monotonic() + wait
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                raise WriterBusyError(
                    f"another Headwater process is already writing the log as writer {self.writer_id!r} "
                    f"in {self.path.parent}. Stop it, or give this one its own HEADWATER_WRITER_ID."
                )
            time.sleep(0.02)
