"""Tailers: consumers of the event log that apply each batch exactly once to a target store.

The contract with a target (realtime SQL store today, the live Redis store next) is two calls:

- ``load_checkpoint(name)``: the map file -> offset committed with the data;
- ``apply(batch, new_checkpoint)``: apply the batch's records (and keep its rejects), and commit
  ``new_checkpoint`` atomically with them. The target must refuse (raise) when its stored
  checkpoint for the batch's files is not ``batch.base_checkpoint``: then another process applied
  them already, and the tailer reloads its checkpoint instead of counting twice.

A line that is not a JSON object of the target's record type is not lost nor retried forever: it
becomes a :class:`TailReject` (file, offset, reason, the text) that the target keeps in the same
transaction, and the tailer goes on. A failing target (database down) is retried with
exponential backoff from the last committed checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class TailReject:
    file: str
    offset: int
    reason: str
    fragment: str


@dataclass(slots=True)
class TailBatch(Generic[R]):
    tailer: str
    base_checkpoint: dict[str, int]
    records: list[R]
    positions: Sequence[tuple[str, int]]  # (file, offset) of each record (may be computed when read)
    rejects: list[TailReject] = field(default_factory=list)

    def changed_files(self, new_checkpoint: dict[str, int]) -> dict[str, int]:
        return {f: o for f, o in new_checkpoint.items() if self.base_checkpoint.get(f, 0) != o}


class TailTarget(Protocol[R]):
    def load_checkpoint(self, name: str) -> dict[str, int]: ...

    def apply(self, batch: TailBatch[R], new_checkpoint: dict[str, int]) -> None: ...


class CheckpointConflictError(RuntimeError):
    """The stored checkpoint moved under us: another process applied these lines."""
