"""The "realtime" tailer's target: a batch of logged events -> the realtime store, exactly once.

One transaction per batch: lock the tailer's checkpoint row and check that it is still the
batch's base (else :class:`CheckpointConflictError`: someone else applied these lines), load the
links and recent sessions the batch touches, fold the batch in memory (headwater.events.realtime),
write every table with one multi-row statement each, keep the rejected lines, store the new
checkpoint, commit.
"""

from __future__ import annotations

from datetime import UTC, date, tzinfo

import msgspec

from headwater.events.realtime import (
    RealtimeEvent,
    aggregate,
    identity_lookups,
    make_event,
    session_lookups,
)
from headwater.events.timestamps import parse_timestamp
from headwater.log.tailer import CheckpointConflictError, TailBatch, TailReject
from headwater.stores.realtime.base import RealtimeStore

REALTIME_TAILER = "realtime"


class HwInfo(msgspec.Struct):
    event_type: str | None = None
    tool_id: str | int | float | None = None


class LoggedEvent(msgspec.Struct):
    """The fields of a log line the realtime aggregates read (the rest is skipped, unparsed)."""

    type: str = ""
    event: str | None = None
    userId: str | int | float | None = None
    anonymousId: str | int | float | None = None
    previousId: str | int | float | None = None
    messageId: str = ""
    timestamp: str | None = None
    receivedAt: str | None = None
    hw: HwInfo = msgspec.field(name="_hw", default_factory=HwInfo)


def to_event(rec: LoggedEvent) -> RealtimeEvent | None:
    ts = parse_timestamp(rec.timestamp) or parse_timestamp(rec.receivedAt)
    if ts is None or not rec.type:
        return None
    return make_event(
        ts,
        rec.type,
        rec.hw.event_type or rec.event,
        rec.hw.tool_id,
        rec.messageId,
        rec.userId,
        rec.anonymousId,
        rec.previousId,
    )


class RealtimeTarget:
    def __init__(self, store: RealtimeStore, tz: tzinfo = UTC, min_day: date | None = None) -> None:
        self.store = store
        self.tz = tz
        self.min_day = min_day  # a `replay --from` skips events of earlier days

    def load_checkpoint(self, name: str) -> dict[str, int]:
        return self.store.load_checkpoint(name)

    def apply(self, batch: TailBatch[LoggedEvent], new_checkpoint: dict[str, int]) -> None:
        events: list[RealtimeEvent] = []
        rejects = list(batch.rejects)
        for rec, (file, offset) in zip(batch.records, batch.positions, strict=True):
            ev = to_event(rec)
            if ev is None:
                reason = "no event type" if not rec.type else "no usable timestamp or receivedAt"
                rejects.append(TailReject(file, offset, reason, msgspec.json.encode(rec).decode()))
            else:
                events.append(ev)
        changes = batch.changed_files(new_checkpoint)
        with self.store.transaction() as tx:
            stored = tx.checkpoint_of(batch.tailer, changes.keys())
            for file in changes:
                if stored[file] != batch.base_checkpoint.get(file, 0):
                    raise CheckpointConflictError(
                        f"tailer {batch.tailer!r}: {file} is at {stored[file]} in the store, "
                        f"not {batch.base_checkpoint.get(file, 0)}: another process applied it"
                    )
            ids = tx.identities(identity_lookups(events))
            sessions = tx.recent_sessions(session_lookups(events, ids))
            delta = aggregate(events, ids, sessions, self.tz, self.min_day)
            tx.write_delta(delta)
            tx.quarantine(batch.tailer, rejects)
            tx.save_checkpoint(batch.tailer, changes)
