"""The "live" tailer's target: a batch of logged events -> the live store, exactly once.

Adapter between the generic tailer (headwater.log.tailing) and a Counters. The checkpoint lives in
the live store itself, committed in the same atomic step as the counters (a Lua script on Redis),
under an *epoch*: a random id created with the checkpoint. When the store has no checkpoint (new,
or Redis restarted empty) the target starts a new epoch at the *rebuild point*: the start of every
log file received within RETENTION, so the current windows are rebuilt from the log. A batch read
under an older epoch is refused (CheckpointConflictError) and the tailer reloads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from headwater.live.buckets import RETENTION
from headwater.live.fold import ActorCache, LiveEvent, MinuteCache, fold
from headwater.log.files import list_log_files
from headwater.log.tailing.batch import CheckpointConflictError, TailBatch
from headwater.stores.live.ports import Counters, LiveConflictError, LiveDelta

log = logging.getLogger("headwater.live")

LIVE_TAILER = "live"
PIPELINE_MIN_LINES = 5_000  # batches at least this big are committed in the background


def rebuild_offsets(log_dir: Path, now: datetime) -> dict[str, int]:
    """Skip (offset = size) every file of a UTC day before the retention horizon; read the others
    from 0. Files are named by the day their events were received."""
    first_day = (now - RETENTION).astimezone(UTC).date()
    offsets: dict[str, int] = {}
    for lf in list_log_files(log_dir, "events"):
        if lf.day < first_day:
            try:
                offsets[lf.name] = os.stat(lf.path).st_size
            except FileNotFoundError:
                continue
    return offsets


class LiveTarget:
    def __init__(
        self,
        store: Counters,
        log_dir: Path,
        tz: tzinfo = UTC,
        clock: Callable[[], float] = time.time,
        pipeline_min_lines: int = PIPELINE_MIN_LINES,
    ) -> None:
        self.store = store
        self.pipeline_min_lines = pipeline_min_lines
        self._pending: Future[None] | None = None
        self._writer: ThreadPoolExecutor | None = None
        self.log_dir = log_dir
        self.minutes = MinuteCache(tz)
        self.actors = ActorCache()
        self.clock = clock
        self.epoch: str | None = None
        self.rebuilds = 0

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def load_checkpoint(self, name: str) -> dict[str, int]:
        with contextlib.suppress(Exception):  # a failed commit in flight: reloading is the remedy
            self.flush()
        cp = self.store.load_checkpoint(name)
        if cp is None:
            offsets = rebuild_offsets(self.log_dir, self._now())
            cp = self.store.init_checkpoint(name, offsets, secrets.token_hex(8))
            self.rebuilds += 1
            log.warning(
                "live store %s has no checkpoint for %r (new or emptied): rebuilding the last %s"
                " from the log",
                self.store.url,
                name,
                RETENTION,
            )
        self.epoch = cp.epoch
        return cp.offsets

    def apply(self, batch: TailBatch[LiveEvent], new_checkpoint: dict[str, int]) -> None:
        """Fold the batch, then commit it. A big batch (the tailer is behind) is committed in the
        background while the tailer reads and folds the next one: the next apply waits for it first
        and raises its error, so commits stay in checkpoint order and a failed one makes the
        tailer reload from the stored checkpoint (the Lua script refuses anything built on a
        commit that did not happen). A small batch (caught up) is committed before returning."""
        epoch = self.epoch
        if epoch is None:
            raise CheckpointConflictError("the live checkpoint was not loaded")
        delta = fold(batch.records, self.minutes, self._now(), self.actors)
        changes = batch.changed_files(new_checkpoint)
        base = {f: batch.base_checkpoint.get(f, 0) for f in changes}
        self.flush()
        if len(batch.records) + len(batch.rejects) < self.pipeline_min_lines:
            self._commit(batch.tailer, epoch, base, changes, delta)
            return
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="live-commit")
        self._pending = self._writer.submit(self._commit, batch.tailer, epoch, base, changes, delta)

    def _commit(
        self, tailer: str, epoch: str, base: dict[str, int], changes: dict[str, int], delta: LiveDelta
    ) -> None:
        try:
            self.store.apply(tailer, epoch, base, changes, delta)
        except LiveConflictError as exc:
            self.epoch = None
            raise CheckpointConflictError(f"tailer {tailer!r}: {exc}") from None

    def flush(self) -> None:
        """Wait for the commit in flight, if any; raise its error."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.flush()
        if self._writer is not None:
            self._writer.shutdown()
            self._writer = None
