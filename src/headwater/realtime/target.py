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

Retries are dropped before the fold: a message whose messageId was received in the last 24
hours counts once (headwater.log.tailing.dedup). The window is rebuilt from the log (the files of
the checkpoint's last two days, up to the checkpoint) whenever the tailer starts or the store's
checkpoint is not the one the window was built at, before the transaction, so no lock is held
while the log is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from headwater.log.files import parse_log_file_name
from headwater.log.tailing.batch import CheckpointConflictError, TailBatch
from headwater.log.tailing.decode import records_between
from headwater.realtime.fold import RealtimeState
from headwater.realtime.rows import LoggedEvent, RowMaker
from headwater.stores.sql.ports import RealtimeStore

if TYPE_CHECKING:  # numpy: imported only where the tailer runs
    from headwater.log.tailing.dedup import RecentMessages

REALTIME_TAILER = "realtime"
CACHE_ENTRIES = 2_000_000  # actors, links and user-days kept between batches (a few hundred MB at most)


class RealtimeTarget:
    def __init__(
        self,
        store: RealtimeStore,
        tz: tzinfo = UTC,
        min_day: date | None = None,
        cache_entries: int = CACHE_ENTRIES,
        log_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.log_dir = log_dir  # where the dedup window is rebuilt from (None: no dedup)
        self.recent: RecentMessages | None = None
        self.recent_at: dict[str, int] | None = None  # the checkpoint the window was built at
        self.tz = tz
        self.min_day = min_day  # a `replay --from` skips events of earlier days
        self.cache_entries = cache_entries
        self.rows = RowMaker(tz)
        self.state: RealtimeState | None = None
        self.state_checkpoint: dict[str, int] | None = None  # the store's checkpoint the state matches
        self.cache_drops = 0  # times the cache was found stale and rebuilt (for tests and metrics)
        #: the store is shared by a cluster's hosts (docs/scale-out.md): applies serialized there,
        #: dedup in the store, no cache of sessions and identities between applies
        self.shared = False
        self.duplicates = 0  # dropped by the store's dedup (shared)

    def load_checkpoint(self, name: str) -> dict[str, int]:
        return self.store.load_checkpoint(name)

    def apply(self, batch: TailBatch[LoggedEvent], new_checkpoint: dict[str, int]) -> None:
        rejects = list(batch.rejects)
        records, positions, checked = batch.records, batch.positions, None
        if self.log_dir is not None:
            if self.recent is None or self.recent_at != batch.base_checkpoint:
                self._warm(batch.base_checkpoint)
            assert self.recent is not None
            checked = self.recent.check([r.messageId for r in records], [r.receivedAt for r in records])
            if not all(checked.first):
                keep = [i for i, first in enumerate(checked.first) if first]
                records, positions = [records[i] for i in keep], _Subset(positions, keep)
        changes = batch.changed_files(new_checkpoint)
        state, self.state = self.state, None  # kept only if this apply commits
        recent = self.recent  # check() remembered nothing: a failed apply leaves it as the store is
        with self.store.transaction() as tx:
            if self.shared:  # one host's apply at a time; a retry another host applied counts once
                tx.serialize()
                records, positions = self._first_in_store(tx, records, positions)
                state = None  # other hosts changed the sessions and identities since
            rows = self.rows.rows(records, positions, rejects)
            stored = tx.checkpoint_all(batch.tailer)
            if recent is not None and stored != self.recent_at:
                raise CheckpointConflictError(
                    f"tailer {batch.tailer!r}: the store's checkpoint moved (another process applied lines)"
                )
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
        if recent is not None and checked is not None:
            recent.commit(checked)
            recent.duplicates += checked.first.count(False)
            self.recent_at = dict(stored)

    def _first_in_store(
        self, tx: Any, records: list[Any], positions: Sequence[tuple[str, int]]
    ) -> tuple[list[Any], Sequence[tuple[str, int]]]:
        """The records no host applied in the window (the store's own dedup, in a cluster)."""
        from headwater.log.tailing.dedup import WINDOW_HOURS

        with_id = [i for i, r in enumerate(records) if r.messageId]
        first = tx.first_seen(
            [records[i].messageId for i in with_id],
            [records[i].receivedAt or "" for i in with_id],
            WINDOW_HOURS,
        )
        dropped = {i for i, f in zip(with_id, first, strict=True) if not f}
        if not dropped:
            return records, positions
        keep = [i for i in range(len(records)) if i not in dropped]
        self.duplicates += len(dropped)
        return [records[i] for i in keep], _Subset(positions, keep)

    def _warm(self, checkpoint: Mapping[str, int]) -> None:
        """The dedup window as of ``checkpoint``: the messages of its last two days of files."""
        from headwater.log.tailing.dedup import RecentMessages

        assert self.log_dir is not None
        days = [lf.day for name, at in checkpoint.items() if at and (lf := parse_log_file_name(Path(name)))]
        first = max(days) - timedelta(days=1) if days else None
        start = {
            name: (0 if first is not None and lf is not None and lf.day >= first else at)
            for name, at in checkpoint.items()
            for lf in [parse_log_file_name(Path(name))]
        }
        recent = RecentMessages()
        for records in records_between(self.log_dir, start, checkpoint, LoggedEvent):
            recent.commit(recent.check([r.messageId for r in records], [r.receivedAt for r in records]))
        self.recent, self.recent_at = recent, dict(checkpoint)


class _Subset(Sequence[tuple[str, int]]):
    """Some items of a sequence (the positions of the records kept), read when asked."""

    def __init__(self, items: Sequence[tuple[str, int]], keep: list[int]) -> None:
        self.items = items
        self.keep = keep

    def __len__(self) -> int:
        return len(self.keep)

    @overload
    def __getitem__(self, index: int) -> tuple[str, int]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[str, int]]: ...

    def __getitem__(self, index: int | slice) -> tuple[str, int] | list[tuple[str, int]]:
        if isinstance(index, slice):
            return [self.items[self.keep[i]] for i in range(len(self.keep))[index]]
        return self.items[self.keep[index]]
