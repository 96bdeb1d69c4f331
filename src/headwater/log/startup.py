"""Making writers' files safe to append to after a crash."""

from __future__ import annotations

import logging
from pathlib import Path

from headwater.log.files import LogFile, list_log_files
from headwater.log.lock import WriterLock
from headwater.log.recovery import TornTail, repair_torn_tail

log = logging.getLogger("headwater.log")


def recover_log_dir(log_dir: Path, own_writer: str) -> list[TornTail]:
    """Repair torn tails of every writer not running now (our own, whose lock we hold, included)."""
    files: list[LogFile] = list_log_files(log_dir, "events") + list_log_files(log_dir, "quarantine")
    torn: list[TornTail] = []
    for writer in sorted({lf.writer for lf in files}):
        lock = None
        if writer != own_writer:
            lock = WriterLock(log_dir, writer)
            if not lock.try_acquire():
                continue  # that writer is alive: its files are its own business
        try:
            for lf in files:
                if lf.writer != writer:
                    continue
                if not lf.path.is_file():
                    log.error("%s is not a regular file: writes to it will fail (503)", lf.path)
                    continue
                try:
                    tail = repair_torn_tail(lf.path)
                except OSError as exc:  # the writer will answer 503 until this is fixed
                    log.error("cannot check %s for a torn line: %s", lf.path, exc)
                    continue
                if tail is not None:
                    torn.append(tail)
        finally:
            if lock is not None:
                lock.release()
    return torn
