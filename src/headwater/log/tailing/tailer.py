"""A tailer: applies the log to its target one batch at a time, exactly once (see batch.py), with
its status (lag, errors) and retries with backoff."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Generic

from headwater.log.merged_read import read_merged
from headwater.log.tailing.batch import R, TailBatch, TailReject, TailTarget
from headwater.log.tailing.decode import decode_data
from headwater.log.tailing.memory import TRIM_AFTER_LINES, TRIM_EVERY, release_memory
from headwater.log.tailing.turns import BatchTurns

log = logging.getLogger("headwater.tailer")

MAX_FRAGMENT = 4096


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
        turns: BatchTurns | None = None,
    ) -> None:
        self.name = name
        self.turns = turns  # shared by the tailers of a process: one batch in memory at a time
        self.log_dir = log_dir
        self.target = target
        self.record_type = record_type
        self.max_lines = max_lines
        # lines per batch while behind (a catch-up, a replay, a burst): bigger batches cost less per event
        self.catch_up_lines = max(max_lines, catch_up_lines or max_lines)
        self._behind = False
        self._untrimmed = 0  # batches of TRIM_AFTER_LINES or more since the last trim
        self.checkpoint: dict[str, int] | None = None
        self.status = TailerStatus()
        self.on_step = on_step

    def step(self) -> int:
        """Apply one batch; return the number of lines consumed (0: caught up)."""
        if self.turns is None:
            return self._step()
        with self.turns.take_turn(sum(self.checkpoint.values()) if self.checkpoint else 0):
            return self._step()

    def _step(self) -> int:
        if self.checkpoint is None:
            self.checkpoint = self.target.load_checkpoint(self.name)
        base = self.checkpoint
        lines_wanted = self.catch_up_lines if self._behind else self.max_lines
        if self.turns is None:
            merged = read_merged(self.log_dir, base, lines_wanted)
            records, indexes, reasons = decode_data(merged.data, self.record_type)
        else:
            merged, (records, indexes, reasons) = self.turns.take(
                self.log_dir, base, lines_wanted, self.record_type
            )
        st = self.status
        st.lag_bytes = merged.pending_bytes
        data = merged.data
        if not data:
            st.lag_events, st.lag_seconds, st.state = 0, 0.0, "caught_up"
            self._notify()
            return 0
        st.lag_seconds = _age(merged.first_received)  # lines come sorted by receivedAt
        consumed = sum(o - base.get(f, 0) for f, o in merged.checkpoint.items())
        measured = consumed / len(data)
        st.avg_line_bytes = measured if not st.avg_line_bytes else 0.8 * st.avg_line_bytes + 0.2 * measured
        st.lag_events = round(merged.pending_bytes / st.avg_line_bytes)
        # every record's position, computed only if read (a rejected record), or those of the good lines
        positions = merged.positions() if len(indexes) == len(data) else [merged.position(i) for i in indexes]
        batch: TailBatch[R] = TailBatch(self.name, dict(base), records, positions)
        for index, text in reasons:
            file, offset = merged.position(index)
            fragment = data[index][:MAX_FRAGMENT].decode("utf-8", "replace")
            batch.rejects.append(TailReject(file, offset, text[:500], fragment))
            log.warning("log line quarantined", extra={"file": file, "offset": offset, "reason": text})
        self.target.apply(batch, merged.checkpoint)
        self.checkpoint = merged.checkpoint
        st.applied_events += len(records)
        st.rejected_lines += len(batch.rejects)
        st.lag_bytes = max(0, merged.pending_bytes - consumed)
        self._behind = st.lag_bytes > 0
        st.lag_events = round(st.lag_bytes / st.avg_line_bytes)
        st.state, st.last_error, st.failures = "running", None, 0
        lines = len(data)
        del merged, data, records, batch
        if lines >= TRIM_AFTER_LINES:
            self._untrimmed += 1
            if not self._behind or self._untrimmed >= TRIM_EVERY:
                self._untrimmed = 0
                release_memory()
        self._notify()
        return lines

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
