"""The "live" tailer's target: a batch of logged events -> the live store, exactly once.

Adapter between the generic tailer (headwater.log.tailing) and a Counters. The checkpoint lives in
the live store itself, committed in the same atomic step as the numbers (a Lua script on Redis),
under an *epoch*: a random id created with the checkpoint. When the store has no checkpoint (new,
or Redis restarted empty) the target starts a new epoch at the *rebuild point*: the start of every
log file received within RETENTION (and a day more), so the current windows are rebuilt from the
log. A batch read under an older epoch is refused (CheckpointConflictError) and the tailer reloads.

The exact unique counts need the tailer's in-memory state (headwater.live.state: who was seen in
each bucket); the store holds only numbers. Whenever the checkpoint loaded is not the one the state
was folded up to (the tailer starts, or an apply failed), the state is rebuilt by folding the log
from the rebuild point up to the stored checkpoint, writing nothing; the API serves the stored
numbers meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

from headwater.live.buckets import LIVE_TAILER, RETENTION
from headwater.live.fold import LiveEvent
from headwater.live.links import Lookup
from headwater.live.state import LiveState
from headwater.log.files import list_log_files
from headwater.log.tailing.batch import CheckpointConflictError, TailBatch
from headwater.log.tailing.decode import records_between
from headwater.stores.live.ports import Counters, LiveConflictError, LiveDelta

log = logging.getLogger("headwater.live")
__all__ = ["LIVE_TAILER", "BesideTarget", "LiveTarget", "rebuild_offsets"]

PIPELINE_MIN_LINES = 5_000  # batches at least this big are committed in the background


def rebuild_offsets(log_dir: Path, now: datetime) -> dict[str, int]:
    """Skip (offset = size) every file of a UTC day before the retention horizon and a day more
    (an event may be stamped up to 23 hours after its receipt, and a local day ends up to 14 hours
    after UTC's); read the others from 0. Files are named by the day their events were received."""
    first_day = (now - RETENTION - timedelta(days=1)).astimezone(UTC).date()
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
        lookup: Lookup | None = None,
    ) -> None:
        self.store = store
        self.pipeline_min_lines = pipeline_min_lines
        self._pending: Future[None] | None = None
        self._writer: ThreadPoolExecutor | None = None
        self.log_dir = log_dir
        self.tz = tz
        self.lookup = lookup  # identity links older than the log read (the realtime store's)
        self.clock = clock
        self.epoch: str | None = None
        self.rebuilds = 0  # new epochs (an empty store rebuilt from the log)
        self.state: LiveState | None = None
        self.state_at: tuple[str, dict[str, int]] | None = None  # (epoch, offsets) folded so far
        self.warm_ups = 0  # states rebuilt from the log up to a stored checkpoint

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
        if self.state is None or self.state_at != (cp.epoch, cp.offsets):
            self._warm(cp.epoch, cp.offsets)
        self.epoch = cp.epoch
        return cp.offsets

    def _warm(self, epoch: str, offsets: dict[str, int]) -> None:
        """A new state, folded from the rebuild point up to the stored checkpoint (nothing written)."""
        started = time.monotonic()
        now = self._now()
        state = LiveState(self.tz, self.lookup)
        self.state = None
        for records in records_between(self.log_dir, rebuild_offsets(self.log_dir, now), offsets, LiveEvent):
            state.fold(records, now)
        self.state, self.state_at = state, (epoch, dict(offsets))
        self.warm_ups += 1
        if state.events:
            log.info(
                "live state rebuilt from the log up to the stored checkpoint",
                extra={
                    "events": state.events,
                    "seconds": round(time.monotonic() - started, 3),
                    "state_mb": round(state.nbytes() / 1e6, 1),
                },
            )

    def apply(self, batch: TailBatch[LiveEvent], new_checkpoint: dict[str, int]) -> None:
        """Fold the batch, then commit it. A big batch (the tailer is behind) is committed in the
        background while the tailer reads and folds the next one: the next apply waits for it first
        and raises its error, so commits stay in checkpoint order and a failed one makes the
        tailer reload from the stored checkpoint (the Lua script refuses anything built on a
        commit that did not happen). A small batch (caught up) is committed before returning."""
        epoch, state = self.epoch, self.state
        if epoch is None or state is None or self.state_at != (epoch, batch.base_checkpoint):
            raise CheckpointConflictError("the live checkpoint was not loaded")
        delta = state.fold(batch.records, self._now())
        self.state_at = (epoch, dict(new_checkpoint))
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


class BesideTarget:
    """A rebuild beside the store: folds the log into a new state from the rebuild point, writing
    nothing, and sums what it would have written (:attr:`total`), for :meth:`Counters.replace`."""

    def __init__(self, start: dict[str, int], tz: tzinfo, lookup: Lookup | None, now: datetime) -> None:
        self.start = start
        self.state = LiveState(tz, lookup)
        self.now = now
        self.total = LiveDelta()

    def load_checkpoint(self, name: str) -> dict[str, int]:
        return dict(self.start)

    def apply(self, batch: TailBatch[LiveEvent], new_checkpoint: dict[str, int]) -> None:
        delta = self.state.fold(batch.records, self.now)
        total = self.total
        for name, row in delta.counters.items():
            for key, n in row.items():
                total.incr(name, key, delta.expire_at[name], n)
        for name, values in delta.values.items():
            total.set_values(name, values, delta.expire_at[name])
        total.events += delta.events
