"""`headwater import`: history files -> the event log, exactly once, resumable.

For each input file: find its record (:mod:`headwater.transfer.manifest`; a finished file adds
nothing), read it from where that record stopped (:mod:`.sources`), convert chunks of lines in
worker processes (:mod:`.convert`; the lines come back in shared memory, :mod:`.import_pool`),
drop the messageIds already stored (:mod:`.known`), append the rest to the log under a writer id
of the import's own (``import-<n>``: never interleaved with a running server's files, and safe
beside it) in the files of their received day, the rejected lines to the quarantine, fsync both,
then record the position reached. A kill -9 at any moment leaves a record that never claims more
than the log holds; the rerun redoes at most one chunk, whose lines already in the log are
duplicates by then, and whose rejections already quarantined are not written twice.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import Any

import msgspec

from headwater.collector.suppression import suppression_list
from headwater.config import Settings
from headwater.events.normalize import Normalizer
from headwater.log.files import list_log_files
from headwater.log.lock import WriterBusyError
from headwater.log.writers import LogWriters
from headwater.transfer.convert import MAX_REASONS, Convert, Converted, convert_chunk
from headwater.transfer.csvmap import ColumnMap, MapError, guess_delimiter
from headwater.transfer.import_pool import ImportPool, tune_gc
from headwater.transfer.known import KnownIds
from headwater.transfer.manifest import DONE, RUNNING, TRUNCATED, ImportState, Manifests
from headwater.transfer.sources import Chunk, InputError, InputReader, TruncatedInput, chunks, hash_file

#: Inputs smaller than this are converted in this process (a worker pool costs more than it saves).
POOL_ABOVE_BYTES = 8 << 20


@dataclass(slots=True)
class FileResult:
    file: str
    status: str  # imported | already imported | truncated | failed
    format: str = ""
    key: str | None = None
    lines: int = 0  # lines read by this run
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    flagged: int = 0
    suppressed: int = 0
    resumed_at_line: int | None = None
    codes: dict[str, int] = field(default_factory=dict)
    reasons: list[dict[str, Any]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    days: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ImportOptions:
    source: str = "import"
    format: str = "auto"  # auto | json | csv
    column_map: dict[str, str] | None = None
    delimiter: str | None = None
    jobs: int = 2


Progress = Callable[[int, int], None]  # (raw bytes read in this file, lines processed so far)


def start_pool(jobs: int, total_bytes: int | None) -> ImportPool | None:
    """Worker processes for the conversion, forked now: call before any thread starts."""
    if jobs < 2 or (total_bytes is not None and total_bytes < POOL_ABOVE_BYTES):
        return None
    from headwater.events.useragent import ua_annotation

    # The user-agent parser compiles its rules on first use (~0.3 s): once here, not in each worker.
    ua_annotation("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0")
    return ImportPool(jobs)


class Importer:
    """Imports files one after the other into the log; use ``async with``."""

    def __init__(
        self, settings: Settings, options: ImportOptions, pool: ImportPool | None, first: Path | None = None
    ) -> None:
        self.settings = settings
        self.options = options
        self.pool = pool
        self.manifests = Manifests(settings.run_dir)
        #: files hashed ahead by a worker: the first while this process sets up, then each next
        #: one while the one before is imported
        self._hashes: dict[Path, AsyncResult[tuple[str, dict[int, str]]]] = {}
        self._truncated: set[str] = set()  # names of the files this run left truncated
        self.prehash(first)
        from headwater.geo import open_geo  # GeoDatabaseError: the command checked it first

        self.normalizer = Normalizer(
            max_depth=settings.max_nesting_depth,
            ip_policy=settings.ip_policy,
            future_clamp=timedelta(hours=settings.future_clamp_hours),
            geo=open_geo(settings),  # history's full IPs located as collected ones are
        )
        self.writers: LogWriters | None = None
        self.suppressed: frozenset[str] = frozenset()  # set on entering (docs/privacy.md)
        self.hash_key = b""
        self.known: KnownIds | None = None
        self.writer_id = ""

    def prehash(self, path: Path | None) -> None:
        """Have a worker hash this file now, for :meth:`import_file` to find done."""
        if self.pool is not None and path is not None and path not in self._hashes:
            self._hashes[path] = self.pool.hash(path, self._marks(path))

    def _marks(self, path: Path) -> set[int]:
        """The sizes of the truncated copies this file may continue."""
        return {old.size for old in self.manifests.truncated_of(path.name)}

    async def _hash(self, path: Path) -> tuple[str, dict[int, str]]:
        ahead = self._hashes.pop(path, None)
        if ahead is not None and path.name not in self._truncated:  # else a mark may be new
            return await asyncio.to_thread(ahead.get)
        return await asyncio.to_thread(hash_file, path, self._marks(path))

    async def __aenter__(self) -> Importer:
        tune_gc()
        s = self.settings
        for n in range(1, 100):
            try:
                self.writers = await LogWriters.open(
                    s.log_dir, f"import-{n}", s.fsync, s.fsync_interval_ms / 1000,
                    s.max_pending_bytes, s.min_free_disk_mb << 20,
                )  # fmt: skip
            except WriterBusyError:
                continue
            self.writer_id = f"import-{n}"
            break
        else:
            raise InputError("99 imports are running in this data directory: wait for one to finish")
        self.known = KnownIds(s.data_dir, f"{self.writer_id}-{os.getpid()}")
        self.hash_key, self.suppressed = await asyncio.to_thread(suppression_list, s.effective_database_url)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.known is not None:
            self.known.close()
        if self.writers is not None:
            await self.writers.close()

    async def import_file(
        self, path: Path | None, progress: Progress, following: Path | None = None
    ) -> FileResult:
        """Import one file (None: standard input); a failure is reported in the result. The
        ``following`` file is hashed meanwhile."""
        started = datetime.now(UTC)
        name = "-" if path is None else str(path)
        lock = None
        if path is not None:
            key, prefixes = await self._hash(path)
        self.prehash(following)
        if path is not None:
            lock = self.manifests.lock(key)
            if not lock.try_acquire():
                return FileResult(
                    name, "failed", key=key, error=f"{name} is being imported by process {lock.holder()}"
                )
            state = self.manifests.start(key, path, path.stat().st_size, prefixes)  # read under the lock
            if state.status == DONE:
                lock.release()
                return _result(state, str(path))
        else:
            stamp = started.strftime("%Y%m%dT%H%M%S")
            state = ImportState(key="stdin", import_id=f"stdin-{stamp}", file="-", name="<stdin>", size=0)
        try:
            return await self._run(path, state, progress, started)
        finally:
            if lock is not None:
                lock.release()

    async def _run(
        self, path: Path | None, state: ImportState, progress: Progress, started: datetime
    ) -> FileResult:
        resumed = state.lines if state.updated_at else None  # a record read back: where it stopped
        state.status, state.writer = RUNNING, self.writer_id
        reader = InputReader.open(path)
        try:
            conv, ignored = self._context(path, reader, state, started)
        except (InputError, MapError) as exc:
            reader.close()
            return FileResult(str(path or "-"), "failed", key=state.key, error=str(exc))
        skip = self._quarantined_lines(state) if resumed is not None else set()
        result = FileResult(str(path or "-"), "imported", key=state.key, resumed_at_line=resumed)
        result.ignored_columns = list(ignored)
        if path is not None:
            self.manifests.save(state)
        pending: deque[tuple[Chunk, int, AsyncResult[Converted] | Converted]] = deque()
        ahead = self.pool.ahead if self.pool is not None else 1
        error: InputError | None = None

        def where(chunk: Chunk) -> bytes | tuple[str, int, int]:
            """A plain file's chunk by its place (the worker reads it), else its bytes."""
            if chunk.data is None:
                return (str(path), chunk.end_offset - chunk.size, chunk.size)
            return chunk.data

        try:
            for chunk in chunks(reader, state.offset, state.lines + 1, csv=conv.kind == "csv"):
                if self.pool is not None:
                    pending.append((chunk, *self.pool.convert(conv, where(chunk), chunk.first_line)))
                else:
                    pending.append((chunk, -1, convert_chunk(conv, where(chunk), chunk.first_line)))
                while len(pending) >= ahead:
                    await self._commit(*pending.popleft(), state, result, skip, path, progress)
        except InputError as exc:
            error = exc
        finally:
            reader.close()
        while pending:
            await self._commit(*pending.popleft(), state, result, skip, path, progress)
        state.status = TRUNCATED if isinstance(error, TruncatedInput) else DONE if error is None else RUNNING
        if state.status == TRUNCATED:
            self._truncated.add(state.name)
        state.error = None if error is None else str(error)
        if error is None:
            state.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        if path is not None:
            self.manifests.save(state)
        result.status = (
            "imported" if error is None else "truncated" if isinstance(error, TruncatedInput) else "failed"
        )
        result.error = state.error
        result.format = _format_of(state.formats)
        result.days, result.dates = list(state.days), list(state.dates)
        result.seconds = round((datetime.now(UTC) - started).total_seconds(), 3)
        return result

    def _context(
        self, path: Path | None, reader: InputReader, state: ImportState, now: datetime
    ) -> tuple[Convert, tuple[str, ...]]:
        """How this input is converted: JSON lines or CSV (the header read and checked)."""
        opts = self.options
        head = reader.first_line()
        kind = opts.format
        if kind == "auto":
            kind = "json" if head.lstrip()[:1] in (b"{", b"[", b"") else "csv"
        if kind == "json" and head.lstrip()[:1] == b"[":
            raise InputError(
                f"{reader.name}: a JSON array, not JSON lines (one message per line):"
                " convert it with `jq -c '.[]'`"
            )
        base = dict(
            kind=kind, file="-" if path is None else path.name, import_id=state.import_id,
            source=opts.source, now=now, normalizer=self.normalizer,
            max_event_bytes=self.settings.max_event_bytes,
            suppressed=self.suppressed, hash_key=self.hash_key,
        )  # fmt: skip
        if kind != "csv":
            return Convert(**base), ()  # type: ignore[arg-type]
        text = head.decode("utf-8-sig", "replace").rstrip("\r\n")
        delimiter = opts.delimiter or guess_delimiter(text)
        import csv

        header = next(csv.reader([text], delimiter=delimiter), [])
        columns = ColumnMap.bind(header, opts.column_map, delimiter, reader.name)
        if state.lines == 0:  # the header is line 1: the data starts after it
            state.lines = 1
            state.offset = len(head)
        return Convert(**base, columns=columns, delimiter=delimiter), columns.ignored  # type: ignore[arg-type]

    def _quarantined_lines(self, state: ImportState) -> set[int]:
        """Lines of this import after its committed position already in the quarantine (written by
        the run that was interrupted): not quarantined again."""
        needle = f'"import":"{state.import_id}"'.encode()
        found: set[int] = set()
        for lf in list_log_files(self.settings.log_dir, "quarantine"):
            if not lf.writer.startswith("import-"):
                continue
            with open(lf.path, "rb") as fh:
                for raw in fh:
                    if needle in raw:
                        try:
                            line = msgspec.json.decode(raw).get("line")
                        except msgspec.DecodeError:
                            continue
                        if isinstance(line, int) and line > state.lines:
                            found.add(line)
        return found

    async def _commit(
        self, chunk: Chunk, slot: int, pending: AsyncResult[Converted] | Converted, state: ImportState,
        result: FileResult, skip: set[int], path: Path | None, progress: Progress,
    ) -> None:  # fmt: skip
        conv = pending if isinstance(pending, Converted) else pending.get()
        assert self.known is not None and self.writers is not None
        self.known.ensure({d for d, _ in conv.dates})
        kept, dates = _fresh(conv.ids, conv.dates, self.known)
        duplicates = len(conv.ids) - len(kept) if kept is not None else 0
        if self.pool is None:
            by_day = _by_day(memoryview(conv.blob), conv, kept)
        else:
            with self.pool.lines(conv) as lines:
                by_day = _by_day(lines, conv, kept)
            self.pool.release(slot)
        bad = (
            [b for b, n in zip(conv.bad, conv.bad_lines, strict=True) if n not in skip] if skip else conv.bad
        )
        writes = [self.writers.events.append(date.fromisoformat(d), v) for d, v in by_day.items()]
        if bad:
            writes.append(self.writers.quarantine.append(datetime.now(UTC).date(), b"\n".join(bad) + b"\n"))
        await asyncio.gather(*writes)
        imported = len(conv.ids) - duplicates
        state.lines += chunk.lines
        state.offset = chunk.end_offset
        state.imported += imported
        state.duplicates += duplicates
        state.rejected += len(conv.bad)
        state.flagged += conv.flagged
        state.suppressed += conv.suppressed
        _add_counts(state.codes, conv.codes)
        _add_counts(state.formats, conv.formats)
        if by_day:
            state.days = sorted(set(state.days) | by_day.keys())
            state.dates = sorted(set(state.dates) | dates)
        if path is not None:
            self.manifests.save(state)
        result.lines += chunk.lines
        result.imported += imported
        result.duplicates += duplicates
        result.rejected += len(conv.bad)
        result.flagged += conv.flagged
        result.suppressed += conv.suppressed
        _add_counts(result.codes, conv.codes)
        for line, code, reason in conv.reasons:
            if len(result.reasons) < MAX_REASONS:
                result.reasons.append({"line": line, "code": code, "reason": reason})
        progress(chunk.raw_read, result.lines)


def _fresh(ids: list[str], runs: list[tuple[str, int]], known: KnownIds) -> tuple[list[int] | None, set[str]]:
    """The events not stored yet, now noted as stored: their indexes (None: all of them) and
    their dates. ``runs`` are the events' dates, run by run. A run whose ids are distinct and all
    new is taken whole, one of ids all stored on its date skipped whole (set operations at C
    speed); any other is walked id by id, in order, as the lake's dedup keeps them."""
    kept: list[int] | None = None
    dates: set[str] = set()
    i = 0
    for d, n in runs:
        same, before, after = known.near(d)
        run = ids[i : i + n] if n < len(ids) else ids
        fresh = set(run)
        new = fresh.isdisjoint(same) and fresh.isdisjoint(before) and fresh.isdisjoint(after)
        if len(fresh) == n and new:
            same.update(fresh)
            dates.add(d)
            if kept is not None:
                kept.extend(range(i, i + n))
        else:
            if kept is None:
                kept = list(range(i))
            if not fresh <= same:
                for j, mid in enumerate(run, i):
                    if mid in same or mid in before or mid in after:
                        continue
                    same.add(mid)
                    dates.add(d)
                    kept.append(j)
        i += n
    return kept, dates


def _by_day(lines: memoryview, conv: Converted, kept: list[int] | None) -> dict[str, bytes]:
    """The lines to write (``kept``, None: all), joined per received day in their order."""
    ends = conv.ends
    parts: dict[str, list[memoryview]] = {}
    if kept is None:  # the usual chunk: the worker's lines as they are, cut where the day changes
        i = 0
        for day, n in conv.days:
            parts.setdefault(day, []).append(lines[ends[i - 1] if i else 0 : ends[i + n - 1]])
            i += n
    else:
        day_of = [day for day, n in conv.days for _ in range(n)]
        for i in kept:
            parts.setdefault(day_of[i], []).append(lines[ends[i - 1] if i else 0 : ends[i]])
    return {day: b"".join(views) for day, views in parts.items()}


def _add_counts(into: dict[str, int], add: dict[str, int]) -> None:
    for k, v in add.items():
        into[k] = into.get(k, 0) + v


def _format_of(formats: dict[str, int]) -> str:
    return max(formats, key=lambda k: formats[k]) if formats else ""


def _result(state: ImportState, name: str) -> FileResult:
    """What a rerun of a finished file reports: nothing new, the days it wrote (for the ETL)."""
    return FileResult(
        name, "already imported", format=_format_of(state.formats), key=state.key,
        days=list(state.days), dates=list(state.dates),
    )  # fmt: skip
