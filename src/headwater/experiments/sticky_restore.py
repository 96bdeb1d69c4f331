"""Sticky buckets rebuilt from the event log: every `Experiment Viewed` event ever logged says which
variation a user got in an experiment phase, so a store that lost its documents (memory:// at every
start, a Redis restarted empty, a cluster master lost, a move from memory:// to Redis) is given
them back before anyone is assigned afresh. Assignments never move.

The exposures are read from the lake and the log not loaded yet (headwater.lake.scope: deduplicated
by messageId); the first exposure of each user, experiment and phase is the assignment. Fields a
document still holds are kept (a restore only fills what is missing). Exposures logged before the
events carried ``hash_value`` are restorable when they were hashed on ``id`` (the user id, else the
anonymous id, as the assignment read it).

The exposures of people suppressed when the restore runs (docs/privacy.md: no sticky bucket is
written for them) are left out: any of their ids as the exposure's userId, anonymousId or
``hash_value``. The child reads the suppression list itself (the database URL on its stdin).

The lake is read by DuckDB in a child process (``python -m headwater.experiments.sticky_restore``),
as the dashboard's warm-up does: no long-lived process of the server carries DuckDB or its memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import msgspec

from headwater.collector.suppression import SuppressedIds, suppression_list
from headwater.experiments.exposure import EXPOSURE_EVENT
from headwater.experiments.live_sticky import EXPOSED_PREFIX
from headwater.stores.live.ports import StickyBuckets

log = logging.getLogger("headwater.experiments")

LOCK_SECONDS = 1800.0  # one process restores; a restore that dies frees the others after this
WAIT_SECONDS = 0.5
CHILD_TIMEOUT_SECONDS = 1800.0


def exposures(data_dir: Path, database_url: str = "") -> dict[str, dict[str, str]]:
    """Document id (``attribute||value``) -> {``experiment__phase``: variation key, ``x:...``: "1"},
    without the exposures of the people suppressed in ``database_url``'s list ("": none read)."""
    from headwater.lake.params import Range
    from headwater.lake.scope import Scope
    from headwater.lake.sql import quote

    suppressed = SuppressedIds(*suppression_list(database_url)) if database_url else None
    today = datetime.now(UTC).date()
    with Scope(data_dir, Range(date(1970, 1, 1), today, "UTC")) as scope:
        theirs: list[str] = []
        if suppressed:  # the ids the exposures name that are suppressed people's (few, if any)
            named = scope.sql(
                f"""
                SELECT DISTINCT id FROM (
                    SELECT unnest([user_id, anonymous_id, properties->>'hash_value']) AS id
                    FROM ({scope.events()}) WHERE event = {quote(EXPOSURE_EVENT)}
                ) WHERE id IS NOT NULL AND id <> ''
                """
            )
            theirs = sorted(i for (i,) in named if suppressed.hit((i,)))
        listed = ", ".join(quote(i) for i in theirs)
        skip = (
            f"""AND NOT coalesce(user_id IN ({listed}) OR anonymous_id IN ({listed})
                                 OR properties->>'hash_value' IN ({listed}), false)"""
            if theirs
            else ""
        )
        rows = scope.sql(
            f"""
            SELECT attr || '||' || value AS doc, experiment || '__' || phase AS field,
                   arg_min(variation, ts) AS variation
            FROM (
                SELECT coalesce(properties->>'hash_attribute', 'id') AS attr,
                       coalesce(properties->>'hash_value',
                                CASE WHEN coalesce(properties->>'hash_attribute', 'id') = 'id'
                                     THEN coalesce(nullif(trim(user_id), ''), nullif(trim(anonymous_id), ''))
                                END) AS value,
                       properties->>'experiment_id' AS experiment,
                       coalesce(properties->>'experiment_phase', '0') AS phase,
                       properties->>'variation_id' AS variation, ts
                FROM ({scope.events()}) WHERE event = {quote(EXPOSURE_EVENT)} {skip}
            )
            WHERE value IS NOT NULL AND experiment IS NOT NULL AND variation IS NOT NULL
            GROUP BY ALL
            """
        )
    docs: dict[str, dict[str, str]] = {}
    for doc, field, variation in rows:
        fields = docs.setdefault(doc, {})
        fields[field] = variation
        fields[EXPOSED_PREFIX + field] = "1"
    return docs


def exposures_in_child(data_dir: Path, database_url: str = "") -> dict[str, dict[str, str]]:
    """:func:`exposures`, computed by a child process (DuckDB and its memory leave with it). The
    URL goes on its stdin, not its command line (which every user of the machine can read)."""
    done = subprocess.run(
        [sys.executable, "-m", "headwater.experiments.sticky_restore", str(data_dir)],
        input=database_url.encode(),
        capture_output=True,
        timeout=CHILD_TIMEOUT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"reading the exposures exited with {done.returncode}: {tail[0]}")
    return msgspec.msgpack.decode(done.stdout, type=dict[str, dict[str, str]])


class StickyRestorer:
    """Restores a sticky-bucket store from the log whenever it cannot vouch for its documents."""

    def __init__(
        self,
        data_dir: Path,
        buckets: StickyBuckets,
        ttl_seconds: int | None,
        database_url: str,
    ) -> None:
        self.data_dir = data_dir
        self.database_url = database_url  # where the suppression list is read
        self.buckets = buckets
        self.ttl_seconds = ttl_seconds
        self.task: asyncio.Task[None] | None = None
        self.restores = 0
        self.last: dict[str, Any] = {}

    def status(self) -> dict[str, Any]:
        return {"restoring": self.task is not None and not self.task.done(), **self.last}

    def trigger(self) -> None:
        """Start a restore in the background unless one runs already."""
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._restore(), name="sticky-restore")

    async def ensure(self, wait_seconds: float) -> None:
        """At start: restore if the store cannot vouch for every document, waiting for it up to
        ``wait_seconds`` (a longer restore goes on in the background; assignments wait for it)."""
        if not await asyncio.to_thread(self.buckets.restored):
            self.trigger()
            assert self.task is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.task), wait_seconds)

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

    async def _restore(self) -> None:
        started = time.monotonic()
        try:
            while not await asyncio.to_thread(self.buckets.lock_restore, LOCK_SECONDS):
                # another process restores: wait for its marks
                if await asyncio.to_thread(self.buckets.restored):
                    return
                await asyncio.sleep(WAIT_SECONDS)
            try:
                docs = await asyncio.to_thread(exposures_in_child, self.data_dir, self.database_url)
                written = await asyncio.to_thread(self.buckets.restore, docs, self.ttl_seconds)
                await asyncio.to_thread(self.buckets.mark_restored)
            finally:
                await asyncio.to_thread(self.buckets.unlock_restore)
        except Exception as exc:
            self.last = {"last_error": f"{type(exc).__name__}: {exc}"}
            log.exception("sticky buckets not restored; assignments wait and it is tried again")
            return
        self.restores += 1
        seconds = round(time.monotonic() - started, 3)
        self.last = {"restored_documents": len(docs), "restored_fields": written, "seconds": seconds}
        log.info(
            "sticky buckets restored from the log",
            extra={"documents": len(docs), "fields": written, "seconds": seconds},
        )


if __name__ == "__main__":  # the child of exposures_in_child: the documents, MessagePack on stdout
    url = sys.stdin.buffer.read().decode()
    sys.stdout.buffer.write(msgspec.msgpack.encode(exposures(Path(sys.argv[1]), url)))
