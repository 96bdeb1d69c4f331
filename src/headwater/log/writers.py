"""The two log writers of a process (events and quarantine), opened safely after a crash.

Opening takes the writer id's lock (one process per writer id), cuts a torn last line left by a
crash (kept in the quarantine with the reason: it was never acknowledged), then starts both
writers. Closing flushes both and releases the lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from headwater.config import FsyncPolicy
from headwater.events.timestamps import format_timestamp
from headwater.log.lock import WriterLock
from headwater.log.recovery import TornTail
from headwater.log.startup import recover_log_dir
from headwater.log.writer import LogWriter

log = logging.getLogger("headwater.log")

#: seconds a worker waits for its writer lock while a sibling's start-up recovery holds it
SIBLING_RECOVERY_WAIT = 10.0


@dataclass
class LogWriters:
    lock: WriterLock
    events: LogWriter
    quarantine: LogWriter

    @classmethod
    async def open(
        cls,
        log_dir: Path,
        writer_id: str,
        fsync: FsyncPolicy,
        fsync_interval: float,
        max_pending_bytes: int,
        min_free_bytes: int,
    ) -> LogWriters:
        log_dir.mkdir(parents=True, exist_ok=True)
        lock = WriterLock(log_dir, writer_id)
        # WriterBusyError names the writer and what to do. A sibling worker of this server, starting
        # at the same moment, may hold our lock while it repairs our files' torn tails after a crash
        # (recover_log_dir takes the lock of every writer not running): wait for it, a while. A
        # second server on this data dir was refused before any worker started (process/run.py).
        lock.acquire(wait=SIBLING_RECOVERY_WAIT)
        try:
            torn = recover_log_dir(log_dir, writer_id)
            common: dict[str, Any] = dict(
                writer_id=writer_id,
                fsync=fsync,
                fsync_interval=fsync_interval,
                max_pending_bytes=max_pending_bytes,
                min_free_bytes=min_free_bytes,
            )
            events = LogWriter(log_dir, "events", **common)
            quarantine = LogWriter(log_dir, "quarantine", **common)
            events.start()
            quarantine.start()
            await _quarantine_torn(quarantine, torn)
        except BaseException:
            lock.release()
            raise
        return cls(lock, events, quarantine)

    @property
    def all(self) -> list[LogWriter]:
        return [self.events, self.quarantine]

    async def close(self) -> None:
        try:
            await self.events.close()
            await self.quarantine.close()
        finally:
            self.lock.release()


async def _quarantine_torn(quarantine: LogWriter, torn: list[TornTail]) -> None:
    now = datetime.now(UTC)
    for tail in torn:
        record = {
            "reason": "torn last line cut off at start (the writer died mid-write; never acknowledged)",
            "code": "torn_line",
            "file": tail.path.name,
            "offset": tail.offset,
            "receivedAt": format_timestamp(now),
            "fragment": tail.fragment.decode("utf-8", "replace"),
        }
        await quarantine.append(now.date(), msgspec.json.encode(record) + b"\n")
        log.warning("cut a torn line", extra={"file": tail.path.name, "offset": tail.offset})
