"""Where an export's events come from, and which copy of each message it keeps.

The raw log is the truth and keeps every message whole (``sentAt``, ``originalTimestamp``,
``integrations``, ``groupId``, a page's ``name``... which the lake's rows do not), so an export
reads the log's lines and writes each as collected, without Headwater's ``_hw`` annotations. The
lake says *which* lines: the messages the metrics count, exactly. Received day by received day,
oldest first:

- the part of a day's log files already in the lake (its manifest's sizes) keeps the lines whose
  messageId the lake kept *from that received day* (its ``recv-R`` files and, after a monthly
  archive, the archive's rows with ``recv_day = R``), the first copy of each;
- the part not loaded yet (today's) keeps the messages of the metrics' ``pending`` table (first
  received copy, minus messages already in the lake), the first copy of each;
- a day whose raw log is gone (retention) but whose rows are in the lake is rebuilt from the rows.

Only the received days whose manifest lists an event date in the range are read (plus the unloaded
ones). Kept ids are 64-bit hashes in a sorted numpy array per received day, with one byte per id for
"already written": memory follows the largest received day, never the range.

The per-line work (transfer/export_scan.py) runs on every core for an export reading more than
``PARALLEL_BYTES`` of log: 4 MB pieces of the files go to worker processes
(transfer/export_workers.py), at most two per worker in flight, and come back in order; this
thread keeps the ids, the choice of copies and the writing.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import msgspec
import numpy as np

from headwater.batch.etl import etl_lock
from headwater.events.timestamps import format_timestamp
from headwater.lake.layout import Lake, LakeError, pending_days
from headwater.lake.sql import file_list, quote
from headwater.log.files import LogFile, list_log_files
from headwater.transfer.export_model import ExportRequest, ExportStats
from headwater.transfer.export_pending import ExportView
from headwater.transfer.export_scan import (
    SEGMENT_BYTES,
    ScanJob,
    Scanned,
    arrow_payload,
    csv_payload,
    ndjson_payload,
    scan,
)
from headwater.transfer.export_workers import WorkerError, WorkerPool

LAKE_ROWS = 32_768  # a batch of lake rows (days whose raw log is gone)
PARALLEL_BYTES = 48 << 20  # an export reading less log than this does it all in its own thread
MAX_PROCESSES = 4
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%gZ"
_ID_COLUMNS = (("userId", "user_id"), ("anonymousId", "anonymous_id"), ("previousId", "previous_id"))
_encode = msgspec.json.Encoder().encode


class KeySet:
    """The messages to write from a part of the log: sorted 64-bit hashes of their ids, and whether
    each was written (the first copy read is; a later one is a retry)."""

    def __init__(self, hashes: np.ndarray[Any, np.dtype[np.int64]]) -> None:
        self.keys = np.sort(hashes)
        self.sent = np.zeros(len(self.keys), np.bool_)

    def __len__(self) -> int:
        return len(self.keys)

    def take(self, ids: list[str]) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """For each id: whether its message is to be written now (then marked as written)."""
        out = np.zeros(len(ids), np.bool_)
        if ids and len(self.keys):
            wanted = np.fromiter(map(hash, ids), np.int64, len(ids))
            at = np.searchsorted(self.keys, wanted)
            at[at == len(self.keys)] = 0
            hit = np.flatnonzero(self.keys[at] == wanted)
            # the first of the batch's copies of each id, if no copy was written before
            found, first = np.unique(at[hit], return_index=True)
            fresh = ~self.sent[found]
            out[hit[first[fresh]]] = True
            self.sent[found[fresh]] = True
        return out


@dataclass(frozen=True, slots=True)
class _Part:
    """Bytes start..stop of a log file, whose lines are kept by the keys of ``day`` (None: pending)."""

    day: date | None
    path: Path
    start: int
    stop: int


class EventSource:
    """The export's events, batch by batch. Use as a context manager (it holds a DuckDB and maybe
    worker processes)."""

    def __init__(self, data_dir: Path, request: ExportRequest, stats: ExportStats, memory_limit: str) -> None:
        self.lake = Lake(data_dir / "lake")
        self.log_dir = data_dir / "log"
        self.request = request
        self.stats = stats
        self.pool: WorkerPool | None = None
        rng = request.rng
        lo, hi = rng.utc_bounds()
        self.lo_text, self.hi_text = format_timestamp(lo), format_timestamp(hi)
        self.first, self.last = lo.date(), (hi - timedelta(microseconds=1)).date()
        # The plan is taken while no ETL runs (it would move today's lines from the log's pending part
        # into the lake between two looks); the export itself then runs beside any ETL.
        with etl_lock(self.lake):
            # the metrics' view of today's log (deduplicated against the lake: ``pending``)
            self.view = ExportView(data_dir, memory_limit)
            try:
                self.lo_sql, self.hi_sql = _sql_time(lo), _sql_time(hi)
                self.actors = self._actors(request.user) if request.user is not None else None
                self.pending = KeySet(
                    self._hashes(f"SELECT message_id FROM pending WHERE {self._in_range()}")
                )
                self.manifests = self.lake.loaded_days()
                self.files: dict[date, list[LogFile]] = {}
                for lf in list_log_files(self.log_dir, "events"):
                    self.files.setdefault(lf.day, []).append(lf)
                self.unloaded = set(pending_days(self.lake, self.log_dir))
                self.parts = self._parts()
            except BaseException:
                self.view.close()
                raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.close()
        self.view.close()

    # -- the plan ---------------------------------------------------------------------------------
    def _parts(self) -> list[_Part | date]:
        """What to read, in order: parts of log files, and received days to rebuild from the lake."""
        plan: list[_Part | date] = []
        for day in sorted(set(self.manifests) | set(self.files)):
            manifest = self.manifests.get(day)
            loaded = {str(k): int(v) for k, v in (manifest or {}).get("files", {}).items()}
            present = {lf.name for lf in self.files.get(day, [])}
            if manifest is not None and self._touches(manifest):
                if all(name in present for name in loaded):
                    plan += [
                        _Part(day, lf.path, 0, loaded[lf.name])
                        for lf in self.files[day]
                        if loaded.get(lf.name)
                    ]
                else:  # its loaded log is gone (retention; an import may have added a file since)
                    plan.append(day)
            if day in self.unloaded and len(self.pending):
                for lf in self.files[day]:
                    try:
                        size = lf.path.stat().st_size
                    except FileNotFoundError:
                        continue
                    plan.append(_Part(None, lf.path, loaded.get(lf.name, 0), size))
        return plan

    def batches(self) -> Iterator[tuple[Scanned, np.ndarray[Any, np.dtype[np.bool_]] | None]]:
        """Scanned pieces in order, each with which of its lines to write (None: all)."""
        jobs: deque[tuple[Scanned | None, KeySet]] = deque()  # None: the pool's answer, in order
        size = sum(p.stop - p.start for p in self.parts if isinstance(p, _Part))
        processes = min(MAX_PROCESSES, len(os.sched_getaffinity(0)))
        if size >= PARALLEL_BYTES and processes > 1:
            self.pool = WorkerPool(processes)
        keys: dict[date | None, KeySet] = {None: self.pending}
        for part in self.parts:
            if not isinstance(part, _Part):
                while jobs:
                    yield self._done(*jobs.popleft())
                yield from self._lake_rows(part, self.manifests.get(part, {}))
                continue
            if part.day is not None and part.day not in keys:  # a loaded day: the ids the lake kept from it
                ids = self._lake_ids_sql(part.day, self.manifests.get(part.day, {}))
                keys = {None: self.pending, part.day: KeySet(self._hashes(ids))}
            if not len(keys[part.day]):
                continue
            for start in range(part.start, part.stop, SEGMENT_BYTES):
                job = ScanJob(
                    str(part.path),
                    start,
                    min(start + SEGMENT_BYTES, part.stop),
                    part.stop,
                    self.lo_text,
                    self.hi_text,
                    self.request.format,
                    self.request.event,
                    self.actors,
                )
                if self.pool is not None:
                    self.pool.submit(job)
                    jobs.append((None, keys[part.day]))
                else:
                    try:
                        jobs.append((scan(job), keys[part.day]))
                    except FileNotFoundError as exc:
                        raise _gone(exc.filename) from None
                while len(jobs) > 2 * processes or (jobs and self.pool is None):
                    yield self._done(*jobs.popleft())
        while jobs:
            yield self._done(*jobs.popleft())

    def _done(self, job: Scanned | None, keys: KeySet) -> tuple[Scanned, np.ndarray[Any, np.dtype[np.bool_]]]:
        if job is not None:
            scanned = job
        else:
            assert self.pool is not None
            try:
                scanned = self.pool.result()
            except WorkerError as exc:
                if exc.missing is not None:
                    raise _gone(exc.missing) from None
                raise LakeError(f"the export failed: {exc}") from None
        mask = keys.take(scanned.ids)
        self.stats.skipped_lines += scanned.skipped
        self.stats.from_log += int(mask.sum())
        return scanned, mask

    def _touches(self, manifest: dict[str, Any]) -> bool:
        """Whether a loaded received day holds events of the range's UTC dates (unknown: it may)."""
        dates = manifest.get("event_dates")
        if not isinstance(dates, list):
            return True
        first, last = self.first.isoformat(), self.last.isoformat()
        return any(first <= str(d) <= last for d in dates)

    # -- the lake ---------------------------------------------------------------------------------
    def _in_range(self) -> str:
        return f"ts >= {self.lo_sql} AND ts < {self.hi_sql}"

    def _hashes(self, sql: str | None) -> np.ndarray[Any, np.dtype[np.int64]]:
        """Hashes of the message ids a query selects, batch by batch (the ids themselves are dropped)."""
        parts = []
        if sql is not None:
            for batch in self.view.batches(sql, LAKE_ROWS):
                ids = batch.column(0).to_pylist()
                parts.append(np.fromiter(map(hash, ids), np.int64, len(ids)))
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def _day_files(self, day: date, manifest: dict[str, Any]) -> tuple[list[Path], list[Path]]:
        """A received day's daily lake files of the range's dates, and the monthly archives that may
        hold its rows (those of its event dates' months in the range)."""
        first, last = self.first.isoformat(), self.last.isoformat()
        daily = [
            p
            for p in self.lake.files_of_received_day(day)
            if first <= p.parent.name.removeprefix("date=") <= last
        ]
        dates = manifest.get("event_dates")
        months = {str(d)[:7] for d in dates if first <= str(d) <= last} if isinstance(dates, list) else None
        archives = [
            p
            for p in self.lake.event_files(self.first, self.last)
            if p.parent.parent == self.lake.archive_dir
            and (months is None or p.parent.name.removeprefix("month=") in months)
        ]
        for path in daily + archives:
            if path.stat().st_size < 12:
                raise LakeError(f"corrupt Parquet file {path}: only {path.stat().st_size} bytes")
        return daily, archives

    def _rows_sql(self, day: date, manifest: dict[str, Any], columns: str) -> str | None:
        daily, archives = self._day_files(day, manifest)
        parts = (
            [f"SELECT {columns} FROM read_parquet({file_list(daily)}, union_by_name = true)"] if daily else []
        )
        if archives:
            parts.append(
                f"SELECT {columns} FROM read_parquet({file_list(archives)}, union_by_name = true)"
                f" WHERE recv_day = DATE {quote(day.isoformat())}"
            )
        if not parts:
            return None
        return f"SELECT * FROM ({' UNION ALL '.join(parts)}) WHERE {self._in_range()}"

    def _lake_ids_sql(self, day: date, manifest: dict[str, Any]) -> str | None:
        rows = self._rows_sql(day, manifest, "message_id, ts")
        return None if rows is None else f"SELECT message_id FROM ({rows})"

    def _lake_rows(
        self, day: date, manifest: dict[str, Any]
    ) -> Iterator[tuple[Scanned, np.ndarray[Any, np.dtype[np.bool_]] | None]]:
        """A received day whose raw log is gone: its lake rows rebuilt as messages."""
        columns = (
            "message_id, type, event, user_id, anonymous_id, previous_id, actor, ts, received_at,"
            " properties, traits, context"
        )
        rows = self._rows_sql(day, manifest, columns)
        if rows is None:
            return
        where: list[str] = []
        params: list[Any] = []
        if self.request.event is not None:
            where.append("event = ?")
            params.append(self.request.event)
        if self.actors is not None:
            where.append("list_contains(?, actor)")
            params.append(sorted(self.actors))
        sql = (
            f"SELECT message_id, type, event, user_id, anonymous_id, previous_id,"
            f" strftime(ts, {quote(_TS_FORMAT)}) AS ts,"
            f" strftime(received_at, {quote(_TS_FORMAT)}) AS received,"
            f" properties, traits, context FROM ({rows}) WHERE {' AND '.join(where) or 'true'}"
        )
        self.stats.lake_only_days.append(day.isoformat())
        for batch in self.view.batches(sql, LAKE_ROWS, params):
            bodies = [_message(row) for row in batch.to_pylist()]
            if bodies:
                self.stats.from_lake += len(bodies)
                yield _render(self.request.format, bodies), None

    def _actors(self, user: str) -> frozenset[str]:
        """The keys (userIds, ``anon:<anonymousId>``) of the events the metrics count as person ``user``."""
        self.view.load_identity()
        keys = {str(r[0]) for r in self.view.sql("SELECT key FROM idmap WHERE user_id = ?", [user])}
        own = self.view.sql("SELECT user_id FROM idmap WHERE key = ?", [user])
        if not own or own[0][0] == user:
            keys.add(user)
        return frozenset(keys)


def _sql_time(moment: datetime) -> str:
    return f"TIMESTAMPTZ {quote(moment.strftime('%Y-%m-%d %H:%M:%S.%f+00'))}"


def _gone(path: object) -> LakeError:
    return LakeError(f"the log file {path} was deleted during the export: run it again")


def _render(fmt: str, bodies: list[bytes]) -> Scanned:
    """Messages (without their closing brace) in the export's format."""
    if fmt == "parquet":
        return Scanned(payload=arrow_payload(bodies))
    payload, lengths = (csv_payload if fmt == "csv" else ndjson_payload)(bodies)
    return Scanned(lengths=lengths, payload=payload)


def _message(row: dict[str, Any]) -> bytes:
    """A Segment message from a lake row (the fields the lake keeps), without its closing brace like
    :func:`body`."""
    out: dict[str, Any] = {"type": row["type"]}
    if row["type"] == "track" and row["event"] is not None:
        out["event"] = row["event"]
    for key, column in _ID_COLUMNS:
        if row[column] is not None:
            out[key] = row[column]
    out["messageId"] = row["message_id"]
    out["timestamp"] = row["ts"]
    if row["received"] is not None:
        out["receivedAt"] = row["received"]
    for key in ("properties", "traits", "context"):
        if row[key] is not None:
            out[key] = msgspec.Raw(row[key].encode())
    return _encode(out)[:-1]
