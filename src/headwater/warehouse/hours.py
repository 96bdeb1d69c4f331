"""Finding one received hour's lines in the event log, without reading the whole day.

Each writer appends its lines in the order it received them, and ``receivedAt`` is stamped at
receipt, so a file is sorted by ``receivedAt`` but for requests that were in flight together (a
body may take up to ``body_timeout_seconds``). A binary search over byte offsets finds where an hour
starts and ends, with a slack wide enough for that; the exact filter on ``receivedAt`` is applied by
the query that reads the range. A partial last line (a writer killed mid-append) is never taken.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from headwater.log.files import LogKind, list_log_files

#: wider than any request's time in flight (body_timeout_seconds is 15 s by default)
SLACK = timedelta(minutes=5)
_RECEIVED = re.compile(rb'"receivedAt"\s*:\s*"([0-9T:.\-]+)Z?"')
_STAMP = re.compile(rb'"timestamp"\s*:\s*"([0-9T:.\-]+)Z?"')


def hour_text(hour: datetime) -> str:
    return hour.astimezone(UTC).strftime("%Y-%m-%dT%H:00:00Z")


def parse_hour(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:00:00Z").replace(tzinfo=UTC)


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _stamp_of(line: bytes, pattern: re.Pattern[bytes]) -> datetime | None:
    found = pattern.search(line)
    if found is None:
        return None
    text = found.group(1).decode()
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        return None


def _line_at(f: object, pos: int, size: int) -> tuple[int, bytes] | None:
    """The first complete line starting at or after ``pos``: (its offset, its bytes). Erased lines
    (log/erase.py: blank, no receivedAt) are passed over, or the search would take one for a line
    before the hour wherever it is."""
    import io

    assert isinstance(f, io.BufferedReader)
    if pos > 0:
        f.seek(pos - 1)
        f.readline()  # the rest of the line pos falls in
    else:
        f.seek(0)
    start = f.tell()
    if start >= size:
        return None
    line = f.readline()
    while line[:1] == b" " and line.endswith(b"\n"):
        start += len(line)
        line = f.readline()
    if start >= size or not line.endswith(b"\n"):
        return None
    return start, line


def _first_at_or_after(path: Path, moment: datetime, size: int, stamp: re.Pattern[bytes]) -> int:
    """Byte offset of the first line whose stamp is >= moment (assuming the file sorted), or size."""
    with path.open("rb") as f:
        lo, hi = 0, size
        while lo < hi:
            mid = (lo + hi) // 2
            found = _line_at(f, mid, size)
            if found is None:
                hi = mid
                continue
            start, line = found
            when = _stamp_of(line, stamp)
            if when is None or when < moment:
                lo = start + len(line)
            else:
                hi = mid
        # lo is the start of a line (or size); step back to the line start it points into
        found = _line_at(f, lo, size)
        return found[0] if found else _complete_size(path, size)


def _complete_size(path: Path, size: int) -> int:
    """The length of the file's complete lines (without a partial last line)."""
    if size == 0:
        return 0
    with path.open("rb") as f:
        back = min(size, 1 << 20)
        while True:
            f.seek(size - back)
            chunk = f.read(back)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                return size - back + cut + 1
            if back == size:
                return 0
            back = min(size, back * 2)


def files_of_hour(log_dir: Path, hour: datetime, kind: LogKind = "events") -> list[Path]:
    """The log files that can hold lines received in the hour (its UTC day, and the next or
    previous day's near midnight, for a writer whose clock is off by the slack)."""
    days = {hour.date(), (hour - SLACK).date(), (hour + timedelta(hours=1) + SLACK).date()}
    return [lf.path for lf in list_log_files(log_dir, kind) if lf.day in days]


def hour_ranges(
    log_dir: Path, hour: datetime, kind: LogKind = "events", stamp_field: str = "receivedAt"
) -> Iterator[tuple[Path, int, int]]:
    """(file, start, end) byte ranges of complete lines that may hold the hour's lines."""
    stamp = _RECEIVED if stamp_field == "receivedAt" else _STAMP
    for path in files_of_hour(log_dir, hour, kind):
        size = path.stat().st_size
        if size == 0:
            continue
        start = _first_at_or_after(path, hour - SLACK, size, stamp)
        end = _first_at_or_after(path, hour + timedelta(hours=1) + SLACK, size, stamp)
        end = min(end, _complete_size(path, size))
        if end > start:
            yield path, start, end


def has_lines(
    log_dir: Path, hour: datetime, kind: LogKind = "events", stamp_field: str = "receivedAt"
) -> bool:
    """Whether some file holds a line stamped within the hour (files taken as sorted: for status)."""
    stamp = _RECEIVED if stamp_field == "receivedAt" else _STAMP
    for path in files_of_hour(log_dir, hour, kind):
        size = path.stat().st_size
        if size and _first_at_or_after(path, hour, size, stamp) < _first_at_or_after(
            path, hour + timedelta(hours=1), size, stamp
        ):
            return True
    return False


def copy_ranges(ranges: list[tuple[Path, int, int]], target: Path) -> int:
    """Write the byte ranges into one file; returns its size."""
    written = 0
    with target.open("wb") as out:
        for path, start, end in ranges:
            with path.open("rb") as f:
                f.seek(start)
                left = end - start
                while left > 0:
                    chunk = f.read(min(left, 8 << 20))
                    if not chunk:
                        break
                    out.write(chunk)
                    left -= len(chunk)
                    written += len(chunk)
    return written


def hours_with_data(log_dir: Path, kind: LogKind = "events", since: date | None = None) -> list[datetime]:
    """Every hour of every log day from ``since`` (24 per day: which hold lines is found on export)."""
    days = sorted({lf.day for lf in list_log_files(log_dir, kind) if since is None or lf.day >= since})
    start_of = [datetime(d.year, d.month, d.day, tzinfo=UTC) for d in days]
    return [s + timedelta(hours=h) for s in start_of for h in range(24)]


def day_exported(done: set[str], day: date) -> bool:
    """Whether every hour of a UTC day is in the ledger's done hours."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return all(hour_text(start + timedelta(hours=h)) in done for h in range(24))


def ledger_kind(cluster_host: str, kind: str) -> str:
    """The export ledger's name of a log kind: per host in a cluster (``events@host-a``), whose hosts
    each export their own log (docs/scale-out.md); the kind itself on one host."""
    return f"{kind}@{cluster_host}" if cluster_host else kind
