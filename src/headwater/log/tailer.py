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

import contextlib
import ctypes
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, cast

import msgspec

from headwater.log.merged_read import MergedBatch, PendingLine, read_merged

log = logging.getLogger("headwater.tailer")

R = TypeVar("R")

MAX_FRAGMENT = 4096
#: After a batch of at least this many lines, the memory it freed goes back to the OS: at once when
#: the tailer has caught up, else after every TRIM_EVERY such batches (trimming after each batch
#: of a sustained load cost 4 % of the background process's CPU, in the trim and in page faults).
TRIM_AFTER_LINES = 1000
TRIM_EVERY = 8

try:
    _malloc_trim: Callable[[int], int] | None = ctypes.CDLL("libc.so.6").malloc_trim
except (OSError, AttributeError):  # not glibc
    _malloc_trim = None


def release_memory() -> None:
    """Hand the memory a batch freed back to the OS.

    glibc keeps freed memory in each thread's arena for reuse, so every tailer thread kept its
    largest batch's worth resident; malloc_trim(0) returns the free pages of every arena, in well
    under a millisecond after a batch of thousands of lines.
    """
    if _malloc_trim is not None:
        _malloc_trim(0)


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


def decode_lines(
    lines: list[PendingLine], record_type: type[R]
) -> tuple[list[R], list[int], list[tuple[int, str]]]:
    """(records, the line index of each record, (line index, reason) of each rejected line)."""
    return decode_data([ln.data for ln in lines], record_type)


_DECODERS: dict[object, tuple[msgspec.json.Decoder[Any], msgspec.json.Decoder[Any]]] = {}


#: (records, the line index of each record, (line index, reason) of each rejected line)
Decoded = tuple[list[R], list[int], list[tuple[int, str]]]


def decode_data(data: list[bytes], record_type: type[R]) -> Decoded[R]:
    """Lines' bytes -> (records, the line index of each record, (line index, reason) of each rejected
    line). The whole batch is decoded as one JSON array in one call; only when that fails (a bad
    line) is it decoded line by line, to tell the bad lines from the good ones."""
    decoders = _DECODERS.get(record_type)
    if decoders is None:
        decoders = _DECODERS[record_type] = (
            msgspec.json.Decoder(list[record_type]),  # type: ignore[valid-type]
            msgspec.json.Decoder(record_type),
        )
    many, one = decoders
    if not data:
        return [], [], []
    try:
        records: list[R] = many.decode(
            b",".join([b"[" + data[0], *data[1:-1], data[-1] + b"]"])
            if len(data) > 1
            else b"[" + data[0] + b"]"
        )
        if len(records) == len(data):
            return records, list(range(len(data))), []
    except msgspec.DecodeError:
        pass
    records, indexes = [], []
    reasons: list[tuple[int, str]] = []
    for i, raw in enumerate(data):
        try:
            records.append(one.decode(raw))
            indexes.append(i)
        except msgspec.ValidationError as exc:
            reasons.append((i, f"unexpected shape: {exc}"))
        except msgspec.DecodeError as exc:
            reasons.append((i, f"not valid JSON: {exc}"))
    return records, indexes, reasons


class BatchTurns:
    """Tailers of one process take turns, one batch each, first come first served, and share reads.

    Three tailers applying batches at once held three batches in memory (and, under the GIL, went
    little faster than in turn; letting one apply while the next reads let them drift apart and
    share less): with turns, the background process's memory is bounded by a few batches
    whatever the number of tailers.

    The lines read for one tailer (reading, splitting, finding each receivedAt was a third of the
    background process's CPU under load) and their decoded records (one record type for all:
    headwater.log.record) are handed to the others instead of read and decoded again:

    - a tailer at the checkpoint a kept batch was read from takes it whole;
    - a tailer whose checkpoint lies within a kept batch takes the rest of it;
    - a tailer behind a kept batch reads, and cuts what it read where that batch starts.

    Either way the tailers end their batches where another one did, and fall in step. To get there
    the tailer furthest behind goes first (see :meth:`turn`). The last SHARED batches are kept:
    two of 5,000 lines shared as much as three and kept the process 10 MB smaller.
    """

    SHARED = 2
    #: Tailers closer than this to the one furthest ahead go by position (see :meth:`turn`).
    CATCH_UP_WINDOW = 64 << 20

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[list[int]] = deque()  # the waiting tailers' positions (a list each: identity)
        self._busy = False
        # (log dir, the checkpoint it was read from, batch, its decoded records by record type)
        self._reads: deque[tuple[str, dict[str, int], MergedBatch, dict[type, Decoded[Any]]]] = deque(
            maxlen=self.SHARED
        )
        self.shared_reads = 0  # batches handed over without reading (for tests and benchmarks)
        self.shared_decodes = 0  # ... and records without decoding

    @contextlib.contextmanager
    def turn(self, position: int = 0) -> Iterator[None]:
        """Wait for this tailer's turn; ``position``: how far it has read (its checkpoint's bytes).

        First come first served, except that among tailers within CATCH_UP_WINDOW bytes of each
        other the one furthest behind goes first: it catches up with the others, then they
        read in step and share. A tailer further behind than that (its store was down) takes its
        turns in order and catches up on its own, without holding the others back."""
        me = [position]
        with self._cond:
            self._queue.append(me)
            while self._busy or self._next() is not me:
                self._cond.wait()
            self._queue.remove(me)
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _next(self) -> list[int]:
        first = self._queue[0]
        lead = max(w[0] for w in self._queue)
        if lead - first[0] > self.CATCH_UP_WINDOW:
            return first
        return min((w for w in self._queue if lead - w[0] <= self.CATCH_UP_WINDOW), key=lambda w: w[0])

    def take(
        self, log_dir: Path, checkpoint: dict[str, int], max_lines: int, record_type: type[R]
    ) -> tuple[MergedBatch, Decoded[R]]:
        """Up to ``max_lines`` lines after ``checkpoint`` and their records (call it during a turn).

        The lines: the part not yet consumed of a batch just read for another tailer, when
        ``checkpoint`` lies within it, else a batch read now. Taking the rest of the other tailer's
        batch ends this one where that one ended, so tailers that drifted apart (one caught up
        while another was applying) fall in step again at once. A shared batch may miss lines
        written since it was read: they come in the next one. An empty read (caught up) is never
        shared: each tailer looks for new lines itself.

        The records: decoded once per record type for every tailer sharing the batch (they are
        shared: record types are frozen)."""
        for known_dir, base, batch, decoded in self._reads:
            if known_dir != str(log_dir):
                continue
            if checkpoint == base and len(batch) <= max_lines:
                self.shared_reads += 1
                return batch, self._decoded(batch, decoded, record_type)
            found = batch.after(checkpoint)
            if found is not None and len(found[0]) <= max_lines:
                self.shared_reads += 1
                part, sel = found
                return part, _part_of(self._decoded(batch, decoded, record_type), sel, len(batch))
        batch = read_merged(log_dir, checkpoint, max_lines)
        if not batch.data:
            return batch, ([], [], [])
        for known_dir, base, _, _ in self._reads:  # behind another tailer: end where it started
            cut = batch.until(base) if known_dir == str(log_dir) else None
            if cut is not None:
                batch = cut
                break
        self._reads.append((str(log_dir), dict(checkpoint), batch, {}))
        return batch, self._decoded(batch, self._reads[-1][3], record_type)

    def _decoded(
        self, batch: MergedBatch, decoded: dict[type, Decoded[Any]], record_type: type[R]
    ) -> Decoded[R]:
        """The kept ``batch``'s records of ``record_type``, decoded on first use."""
        found = decoded.get(record_type)
        if found is None:
            found = decoded[record_type] = decode_data(batch.data, record_type)
        else:
            self.shared_decodes += 1
        return cast("Decoded[R]", found)


def _part_of(decoded: Decoded[R], sel: list[int], lines: int) -> Decoded[R]:
    """The records and rejects of the lines at merge positions ``sel`` of a decoded batch of
    ``lines`` lines, numbered by their position in ``sel``."""
    new_at = [-1] * lines
    for new, old in enumerate(sel):
        new_at[old] = new
    records, indexes, reasons = decoded
    out_records: list[R] = []
    out_indexes: list[int] = []
    for record, index in zip(records, indexes, strict=True):
        at = new_at[index]
        if at >= 0:
            out_records.append(record)
            out_indexes.append(at)
    return out_records, out_indexes, [(new_at[i], why) for i, why in reasons if new_at[i] >= 0]


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
        with self.turns.turn(sum(self.checkpoint.values()) if self.checkpoint else 0):
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
