"""The "realtime" tailer's target: a batch of logged events -> the realtime store, exactly once.

One transaction per batch: lock the tailer's checkpoint and check that it is still the batch's
base (else :class:`CheckpointConflictError`: someone else applied these lines), load only the
links and sessions the batch needs that the target's cache does not hold, fold the batch in
memory (headwater.realtime.fold), write every table with one multi-row statement each, keep
the rejected lines, store the new checkpoint, commit.

The cache (:class:`RealtimeState`) is trusted only while the store's whole checkpoint for the
tailer is the one the cache was built at: any other writer (another process, a replay, a
restored backup) moves it, and the cache is dropped. It is dropped too whenever an apply fails,
since the outcome of the commit is then unknown. A steady-state batch reads nothing but the
checkpoint.
"""

from __future__ import annotations

from datetime import UTC, date, tzinfo

from headwater.log.tailing.batch import CheckpointConflictError, TailBatch
from headwater.realtime.fold import RealtimeState
from headwater.realtime.rows import LoggedEvent, RowMaker
from headwater.stores.sql.ports import RealtimeStore

REALTIME_TAILER = "realtime"
CACHE_ENTRIES = 2_000_000  # actors, links and user-days kept between batches (a few hundred MB at most)


class RealtimeTarget:
    def __init__(
        self,
        store: RealtimeStore,
        tz: tzinfo = UTC,
        min_day: date | None = None,
        cache_entries: int = CACHE_ENTRIES,
    ) -> None:
        self.store = store
        self.tz = tz
        self.min_day = min_day  # a `replay --from` skips events of earlier days
        self.cache_entries = cache_entries
        self.rows = RowMaker(tz)
        self.state: RealtimeState | None = None
        self.state_checkpoint: dict[str, int] | None = None  # the store's checkpoint the state matches
        self.cache_drops = 0  # times the cache was found stale and rebuilt (for tests and metrics)

    def load_checkpoint(self, name: str) -> dict[str, int]:
        return self.store.load_checkpoint(name)

    def apply(self, batch: TailBatch[LoggedEvent], new_checkpoint: dict[str, int]) -> None:
        rejects = list(batch.rejects)
        rows = self.rows.rows(batch.records, batch.positions, rejects)
        changes = batch.changed_files(new_checkpoint)
        state, self.state = self.state, None  # kept only if this apply commits
        with self.store.transaction() as tx:
            stored = tx.checkpoint_all(batch.tailer)
            for file in changes:
                if stored.get(file, 0) != batch.base_checkpoint.get(file, 0):
                    raise CheckpointConflictError(
                        f"tailer {batch.tailer!r}: {file} is at {stored.get(file, 0)} in the store, "
                        f"not {batch.base_checkpoint.get(file, 0)}: another process applied it"
                    )
            if state is None or self.state_checkpoint != stored:
                if state is not None:
                    self.cache_drops += 1
                state = RealtimeState()
            first = state.plan(rows)
            missing = state.missing_identities(first)
            if missing:
                state.learn_identities(missing, tx.identities(missing))
            need = state.session_needs(first)
            if need:
                state.learn_sessions(need, tx.recent_sessions(need))
            delta = state.fold(rows, self.min_day)
            tx.write_delta(delta)
            tx.quarantine(batch.tailer, rejects)
            tx.save_checkpoint(batch.tailer, changes)
        stored.update(changes)
        state.prune(self.cache_entries)
        self.state, self.state_checkpoint = state, stored
