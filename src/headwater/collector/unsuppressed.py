"""A tailer's target that is given each batch without the events of suppressed people (counted):
every rebuild of a store from the log (the realtime store, the live counters, the audiences) is
events re-entering, and a suppressed person's past events are not counted again (docs/privacy.md)."""

from __future__ import annotations

from typing import Any

from headwater.collector.suppression import SuppressedIds
from headwater.log.tailing.batch import TailBatch, TailTarget


class Unsuppressed:
    """A target that is given each batch without the suppressed people's events (counted)."""

    def __init__(self, target: TailTarget[Any], suppressed: SuppressedIds) -> None:
        self.target = target
        self.suppressed = suppressed
        self.skipped = 0

    def load_checkpoint(self, name: str) -> dict[str, int]:
        return self.target.load_checkpoint(name)

    def apply(self, batch: TailBatch[Any], new_checkpoint: dict[str, int]) -> None:
        if not self.suppressed:  # nobody is suppressed: the batch as it is
            self.target.apply(batch, new_checkpoint)
            return
        hit = self.suppressed.hit
        records = batch.records
        keep = [i for i, r in enumerate(records) if not hit((r.userId, r.anonymousId, r.previousId))]
        skipped = len(records) - len(keep)
        if skipped:  # a new batch: the records are shared by the tailers of a process
            positions = batch.positions
            batch = TailBatch(
                batch.tailer, batch.base_checkpoint, [records[i] for i in keep],
                [positions[i] for i in keep], batch.rejects,
            )  # fmt: skip
        self.target.apply(batch, new_checkpoint)
        self.skipped += skipped  # once applied (a failed apply is tried again)
