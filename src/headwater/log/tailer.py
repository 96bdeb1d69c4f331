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

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import msgspec

from headwater.log.merged_read import PendingLine, read_merged

log = logging.getLogger("headwater.tailer")

R = TypeVar("R")

MAX_FRAGMENT = 4096


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
    positions: list[tuple[str, int]]  # (file, offset) of each record
    rejects: list[TailReject] = field(default_factory=list)

    def changed_files(self, new_checkpoint: dict[str, int]) -> dict[str, int]:
        return {f: o for f, o in new_checkpoint.items() if self.base_checkpoint.get(f, 0) != o}


class TailTarget(Protocol[R]):
    def load_checkpoint(self, name: str) -> dict[str, int]: ...

    def apply(self, batch: TailBatch[R], new_checkpoint: dict[str, int]) -> None: ...


class CheckpointConflictError(RuntimeError):
    """The stored checkpoint moved under us: another process applied these lines."""


def decode_lines(
    lines: list[PendingLine], record_type: type[R]
) -> tuple[list[R], list[int], list[tuple[int, str]]]:
    """(records, the line index of each record, (line index, reason) of each rejected line)."""
    many = msgspec.json.Decoder(list[record_type])  # type: ignore[valid-type]
    try:
        records: list[R] = many.decode(b"[" + b",".join([ln.data for ln in lines]) + b"]")
        if len(records) == len(lines):
            return records, list(range(len(lines))), []
    except msgspec.DecodeError:
        pass
    one = msgspec.json.Decoder(record_type)
    records, indexes = [], []
    reasons: list[tuple[int, str]] = []
    for i, ln in enumerate(lines):
        try:
            records.append(one.decode(ln.data))
            indexes.append(i)
        except msgspec.ValidationError as exc:
            reasons.append((i, f"unexpected shape: {exc}"))
        except msgspec.DecodeError as exc:
            reasons.append((i, f"not valid JSON: {exc}"))
    return records, indexes, reasons


@dataclass(slots=True)
class TailerStatus:
    state: str = "starting"  # starting | running | caught_up | retrying | stopped
    applied_events: int = 0
    rejected_lines: int = 0
    lag_bytes: int = 0
    lag_events: int = 0
    lag_seconds: float = 0.0
    last_error: str | None = None
    failures: int = 0
    avg_line_bytes: float = 0.0  # moving average over the batches read

    def as_dict(self) -> dict[str, object]:
        return {
            "state": self.state,
            "applied_events": self.applied_events,
            "rejected_lines": self.rejected_lines,
            "lag_bytes": self.lag_bytes,
            "lag_events": self.lag_events,
            "lag_seconds": round(self.lag_seconds, 3),
            "last_error": self.last_error,
        }


class Tailer(Generic[R]):
    def __init__(
        self,
        name: str,
        log_dir: Path,
        target: TailTarget[R],
        record_type: type[R],
        max_lines: int = 10_000,
        on_step: Callable[[Tailer[R]], None] | None = None,
        catch_up_lines: int | None = None,
    ) -> None:
        self.name = name
        self.log_dir = log_dir
        self.target = target
        self.record_type = record_type
        self.max_lines = max_lines
        # lines per batch while behind (a catch-up, a replay, a burst): bigger batches cost less per event
        self.catch_up_lines = max(max_lines, catch_up_lines or max_lines)
        self._behind = False
        self.checkpoint: dict[str, int] | None = None
        self.status = TailerStatus()
        self.on_step = on_step

    def step(self) -> int:
        """Apply one batch; return the number of lines consumed (0: caught up)."""
        if self.checkpoint is None:
            self.checkpoint = self.target.load_checkpoint(self.name)
        base = self.checkpoint
        merged = read_merged(self.log_dir, base, self.catch_up_lines if self._behind else self.max_lines)
        st = self.status
        st.lag_bytes = merged.pending_bytes
        if not merged.lines:
            st.lag_events, st.lag_seconds, st.state = 0, 0.0, "caught_up"
            self._notify()
            return 0
        st.lag_seconds = _age(merged.lines[0].received)  # lines come sorted by receivedAt
        consumed = sum(o - base.get(f, 0) for f, o in merged.checkpoint.items())
        measured = consumed / len(merged.lines)
        st.avg_line_bytes = measured if not st.avg_line_bytes else 0.8 * st.avg_line_bytes + 0.2 * measured
        st.lag_events = round(merged.pending_bytes / st.avg_line_bytes)
        records, indexes, reasons = decode_lines(merged.lines, self.record_type)
        lines = merged.lines
        if len(indexes) == len(lines):
            positions = [(ln.file, ln.offset) for ln in lines]
        else:
            positions = [(lines[i].file, lines[i].offset) for i in indexes]
        batch: TailBatch[R] = TailBatch(self.name, dict(base), records, positions)
        for index, text in reasons:
            ln = lines[index]
            batch.rejects.append(
                TailReject(ln.file, ln.offset, text[:500], ln.data[:MAX_FRAGMENT].decode("utf-8", "replace"))
            )
            log.warning("log line quarantined", extra={"file": ln.file, "offset": ln.offset, "reason": text})
        self.target.apply(batch, merged.checkpoint)
        self.checkpoint = merged.checkpoint
        st.applied_events += len(records)
        st.rejected_lines += len(batch.rejects)
        st.lag_bytes = max(0, merged.pending_bytes - consumed)
        self._behind = st.lag_bytes > 0
        st.lag_events = round(st.lag_bytes / st.avg_line_bytes)
        st.state, st.last_error, st.failures = "running", None, 0
        self._notify()
        return len(lines)

    def run(
        self,
        stop: threading.Event,
        idle: float = 0.1,
        max_backoff: float = 5.0,
        until_caught_up: bool = False,
        max_failures: int | None = None,
    ) -> None:
        """Step until ``stop`` is set (or the log is exhausted), retrying failures with backoff;
        after ``max_failures`` failures in a row, the last error is raised."""
        while not stop.is_set():
            try:
                consumed = self.step()
            except Exception as exc:
                self._failed(exc)
                if max_failures is not None and self.status.failures >= max_failures:
                    raise
                stop.wait(min(max_backoff, 0.2 * 2 ** min(self.status.failures, 8)))
                continue
            if consumed == 0:
                if until_caught_up:
                    return
                stop.wait(idle)
        self.status.state = "stopped"

    def _failed(self, exc: Exception) -> None:
        st = self.status
        st.failures += 1
        st.state = "retrying"
        st.last_error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
        self.checkpoint = None  # reload: the commit may or may not have happened
        if st.failures == 1 or st.failures % 20 == 0:
            log.warning(
                "tailer %s failed, retrying with backoff: %s",
                self.name,
                st.last_error,
                extra={"tailer": self.name, "failures": st.failures},
            )
        self._notify()

    def _notify(self) -> None:
        if self.on_step is not None:
            self.on_step(self)


def _age(received: bytes) -> float:
    try:
        moment = datetime.fromisoformat(received.decode())
    except ValueError:
        return 0.0
    return max(0.0, time.time() - moment.timestamp())
