"""The deletion runner of ``headwater serve``: in the process that runs the schedules, it takes each
filed deletion in turn (oldest first) and runs it (privacy/deletion.py), retrying failed steps with
a growing pause. It holds the data directory's privacy lock while it lives, so
``headwater privacy delete`` knows a server will run the job (and waits for it) rather than
running it beside the server; two deletions, even of the same person, never run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from headwater.config import Settings
from headwater.log.lock import FileLock
from headwater.privacy.deletion import SETTLE_SECONDS, Deletion, age
from headwater.privacy.hosts import PRIVACY_JOB
from headwater.stores.sql.database import SqlDatabase
from headwater.stores.sql.webhooks import DELETIONS, SqlRegulations

log = logging.getLogger("headwater.privacy")

POLL_SECONDS = 2.0
RETRY_SECONDS = 30.0


def privacy_lock(settings: Settings) -> FileLock:
    return FileLock(settings.run_dir / "privacy.lock")


class DeletionRunner:
    name = "privacy"

    def __init__(self, settings: Settings, database: SqlDatabase, live: Any | None) -> None:
        self.settings = settings
        self.deletion = Deletion(settings, database, live)
        self.lock = privacy_lock(settings)
        self._task: asyncio.Task[None] | None = None
        self._retry_at: dict[str, float] = {}
        self.running: str | None = None
        self.finished = 0
        self.last_error: str | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="privacy-deletions")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.lock.release()

    def status(self) -> tuple[bool, dict[str, Any]]:
        return True, {"running": self.running, "finished": self.finished, "last_error": self.last_error}

    async def _loop(self) -> None:
        while not self.lock.try_acquire():  # a CLI run holds it: take over when it is done
            await asyncio.sleep(POLL_SECONDS)
        while True:
            try:
                await asyncio.to_thread(self.run_pending)
                self.last_error = None
            except Exception as exc:  # the store is away: say so, try again
                self.last_error = str(exc)
                log.warning("the deletion runner failed: %s", exc)
            await asyncio.sleep(POLL_SECONDS)

    def run_pending(self) -> int:
        """Run every filed deletion that is due; the number that finished. In a cluster, first this
        host's own part of each (privacy/hosts.py), then the steps on one host at a time (a lease)."""
        if not self.settings.cluster:
            return self._run_all()
        self.erase_here_all()
        if not SqlRegulations(self.deletion.database).unfinished():
            return 0
        from headwater.cluster.jobs import job_lease

        with job_lease(self.settings, PRIVACY_JOB) as held:
            return 0 if held is None else self._run_all()

    def erase_here_all(self) -> list[str]:
        """This host's own log files erased for every deletion that still holds a person's ids and
        that this host has not done yet; the regulations done now."""
        regulations = self.deletion.regulations
        done = []
        for entry in regulations.all(100_000):
            if (
                entry["type"] not in DELETIONS
                or entry["status"] == "FINISHED"
                or any(str(v).startswith("hmac:") for v in entry["subject"].values())
                or age(entry["created_at"]) < SETTLE_SECONDS  # every server reads the suppression first
                or self.settings.cluster_host in regulations.hosts_done(entry["id"])
            ):
                continue
            figures = self.deletion.erase_host_part(entry["id"], self.deletion.ids_of(entry))
            log.info("deletion %s: this host's log files erased", entry["id"], extra=figures)
            done.append(entry["id"])
        return done

    def _run_all(self) -> int:
        done = 0
        for entry in SqlRegulations(self.deletion.database).unfinished():
            rid = entry["id"]
            if self._retry_at.get(rid, 0.0) > time.monotonic():
                continue
            self.running = rid
            try:
                after = self.deletion.run(rid)
            finally:
                self.running = None
            if after["status"] == "FINISHED":
                done += 1
                self.finished += 1
                self._retry_at.pop(rid, None)
            else:
                failures = max(
                    (s.get("attempts", 0) for s in after["progress"].values() if isinstance(s, dict)),
                    default=1,
                )
                self._retry_at[rid] = time.monotonic() + RETRY_SECONDS * max(1, failures)
        return done
