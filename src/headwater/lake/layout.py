"""Layout of the Parquet lake and the files in it.

```
lake/events/date=YYYY-MM-DD/recv-YYYYMMDD.parquet   events by UTC event date, one file per received day
lake/archive/month=YYYY-MM/events.parquet           a compacted month (zstd)
lake/user_days/recv=YYYYMMDD.parquet                rollup: (project-tz day, actor, events, first, last)
lake/person_days/recv=YYYYMMDD.parquet              compact rollup: (project-tz day, aid) sorted, aid dense
lake/traits/recv=YYYYMMDD.parquet                   rollup: (project-tz day, actor, key, ts, value), latest
lake/event_people/recv=YYYYMMDD.parquet             rollup: (event, aid, ts, tie) of each event, by event
lake/sessions/recv=YYYYMMDD.parquet                 rollup: sessions of the local days the received day closed
lake/dimension_days/recv=YYYYMMDD.parquet           rollup: events per (day, actor_hash, event, dimensions)
lake/visits/recv=YYYYMMDD.parquet                   rollup: each actor's runs of page views (web analytics)
lake/identity/actors.parquet                        dense integer ids of names: (aid, name), append-only
lake/identity/map_ids.parquet                       the identity map on those ids: (aid, pid)
lake/identity/links/recv=YYYYMMDD.parquet           identity links found in a received day
lake/identity/map.parquet                           resolved identity map: key -> user_id
lake/identity/names.parquet, names.json             every person name, and whether their hashes differ
lake/tool_usage_stats/date=YYYY-MM-DD.parquet       (date, tool_id, event_type, count, users)
lake/decisions/date=YYYY-MM-DD.parquet              OpenRTB enrichment decisions of a UTC day (decision log)
lake/_etl/recv=YYYYMMDD.json                        manifest: which log files (and sizes) were loaded
lake/_etl/decisions=YYYYMMDD.json                   manifest: which decision files (and sizes) were loaded
```

An event file's columns: lake/sql.py's EVENT_COLUMNS and ``recv_day``, then the derived dimensions
written at load (lake/derived.py): ``d_country``, ``d_region``, ``d_browser``, ``d_os``,
``d_device_type``, ``d_utm_source``, ``d_utm_medium``, ``d_utm_campaign``, ``d_referrer_domain``,
``d_host``, ``d_path``, ``d_library``, ``d_app_version`` (strings) and ``d_version`` (1 on every row
that has them). Files written before them lack these columns, and a monthly archive of both kinds
has ``d_version`` NULL on the older rows: readers compute those rows' values from the JSON
(lake/sql.py, parquet_sql).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from headwater.atomic_file import write_atomic
from headwater.log.files import list_log_files


class LakeError(Exception):
    """A problem with the lake a user can act on (message says what and where)."""


_DATE_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
_MONTH_DIR = re.compile(r"^month=(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class Lake:
    root: Path

    @property
    def events_dir(self) -> Path:
        return self.root / "events"

    @property
    def archive_dir(self) -> Path:
        return self.root / "archive"

    @property
    def user_days_dir(self) -> Path:
        return self.root / "user_days"

    @property
    def person_days_dir(self) -> Path:
        return self.root / "person_days"

    @property
    def traits_dir(self) -> Path:
        return self.root / "traits"

    @property
    def event_people_dir(self) -> Path:
        return self.root / "event_people"

    @property
    def sessions_dir(self) -> Path:
        return self.root / "sessions"

    @property
    def dimension_days_dir(self) -> Path:
        return self.root / "dimension_days"

    @property
    def visits_dir(self) -> Path:
        return self.root / "visits"

    @property
    def actors_file(self) -> Path:
        """Dense integer ids of every person name: ids never change, new names get the next ones."""
        return self.root / "identity" / "actors.parquet"

    @property
    def map_ids_file(self) -> Path:
        """The identity map as (aid, pid) over actors_file's ids, written right after the map."""
        return self.root / "identity" / "map_ids.parquet"

    @property
    def links_dir(self) -> Path:
        return self.root / "identity" / "links"

    @property
    def identity_map(self) -> Path:
        return self.root / "identity" / "map.parquet"

    @property
    def names_file(self) -> Path:
        """Every person name (actor or identified user) seen by the ETL, for the hash check."""
        return self.root / "identity" / "names.parquet"

    @property
    def names_status(self) -> Path:
        return self.root / "identity" / "names.json"

    @property
    def tool_usage_dir(self) -> Path:
        return self.root / "tool_usage_stats"

    @property
    def decisions_dir(self) -> Path:
        return self.root / "decisions"

    @property
    def manifest_dir(self) -> Path:
        return self.root / "_etl"

    @property
    def tmp_dir(self) -> Path:
        return self.root / ".tmp"

    # -- events -------------------------------------------------------------------------------
    def date_dir(self, day: date) -> Path:
        return self.events_dir / f"date={day.isoformat()}"

    def event_dates(self) -> list[date]:
        """UTC event dates that have a daily partition."""
        return sorted(self._daily_files())

    def _daily_files(self) -> dict[date, list[str]]:
        """Each daily partition's Parquet file names, by UTC date: one read of each directory
        (os.scandir and listdir; pathlib's glob took ~2 ms over 90 days, at every query)."""
        found: dict[date, list[str]] = {}
        try:
            entries = os.scandir(self.events_dir)
        except (FileNotFoundError, NotADirectoryError):
            return found
        with entries:
            for entry in entries:
                match = _DATE_DIR.match(entry.name)
                if match is None:
                    continue
                try:
                    names = sorted(n for n in os.listdir(entry.path) if n.endswith(".parquet"))
                except (FileNotFoundError, NotADirectoryError):  # gone meanwhile (retention)
                    continue
                if names:
                    found[date.fromisoformat(match.group(1))] = names
        return found

    def archive_file(self, year: int, month: int) -> Path:
        """The monthly archive of a month's events (batch/archive.py)."""
        return self.archive_dir / f"month={year:04d}-{month:02d}" / "events.parquet"

    def archived_months(self) -> list[tuple[int, int]]:
        if not self.archive_dir.is_dir():
            return []
        out = []
        for entry in self.archive_dir.iterdir():
            match = _MONTH_DIR.match(entry.name)
            if match and (entry / "events.parquet").exists():
                out.append((int(match.group(1)), int(match.group(2))))
        return sorted(out)

    def event_files(self, first: date | None = None, last: date | None = None) -> list[Path]:
        """Parquet files holding events of UTC dates first..last (None: unbounded), archives included."""
        files: list[Path] = []
        for year, month in self.archived_months():
            month_first = date(year, month, 1)
            month_last = (month_first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            if (first is None or month_last >= first) and (last is None or month_first <= last):
                files.append(self.archive_file(year, month))
        for day, names in sorted(self._daily_files().items()):
            if (first is None or day >= first) and (last is None or day <= last):
                folder = self.date_dir(day)
                files.extend(folder / name for name in names)
        return files

    def recv_name(self, recv: date) -> str:
        return f"recv-{recv:%Y%m%d}.parquet"

    def files_of_received_day(self, recv: date) -> list[Path]:
        if not self.events_dir.is_dir():
            return []
        return sorted(self.events_dir.glob(f"date=*/recv-{recv:%Y%m%d}*.parquet"))

    def user_days_file(self, recv: date) -> Path:
        return self.user_days_dir / f"recv={recv:%Y%m%d}.parquet"

    def person_days_file(self, recv: date) -> Path:
        return self.person_days_dir / f"recv={recv:%Y%m%d}.parquet"

    def traits_file(self, recv: date) -> Path:
        return self.traits_dir / f"recv={recv:%Y%m%d}.parquet"

    def event_people_file(self, recv: date) -> Path:
        return self.event_people_dir / f"recv={recv:%Y%m%d}.parquet"

    def sessions_file(self, recv: date) -> Path:
        return self.sessions_dir / f"recv={recv:%Y%m%d}.parquet"

    def dimension_days_file(self, recv: date) -> Path:
        return self.dimension_days_dir / f"recv={recv:%Y%m%d}.parquet"

    def visits_file(self, recv: date) -> Path:
        return self.visits_dir / f"recv={recv:%Y%m%d}.parquet"

    def links_file(self, recv: date) -> Path:
        return self.links_dir / f"recv={recv:%Y%m%d}.parquet"

    def decisions_file(self, day: date) -> Path:
        """The decisions of a UTC day (the day of their timestamp, as in the decision log's names)."""
        return self.decisions_dir / f"date={day.isoformat()}.parquet"

    def decisions_manifest(self, day: date) -> Path:
        return self.manifest_dir / f"decisions={day:%Y%m%d}.json"

    # -- manifests ----------------------------------------------------------------------------
    def manifest_path(self, recv: date) -> Path:
        return self.manifest_dir / f"recv={recv:%Y%m%d}.json"

    def read_manifest(self, recv: date) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.manifest_path(recv).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise LakeError(f"unreadable ETL manifest {self.manifest_path(recv)}: {exc}") from exc
        return data

    def write_manifest(self, recv: date, data: dict[str, Any]) -> None:
        write_atomic(self.manifest_path(recv), json.dumps(data, indent=1, sort_keys=True).encode())

    def loaded_days(self) -> dict[date, dict[str, Any]]:
        """Every received day with a manifest."""
        out: dict[date, dict[str, Any]] = {}
        if not self.manifest_dir.is_dir():
            return out
        for path in self.manifest_dir.glob("recv=*.json"):
            recv = datetime.strptime(path.stem[5:], "%Y%m%d").date()
            manifest = self.read_manifest(recv)
            if manifest is not None:
                out[recv] = manifest
        return out


@dataclass(frozen=True, slots=True)
class LakeSnapshot(Lake):
    """A Lake whose manifests and daily partitions' file lists are read once: one query's view
    (a query asked for them several times, and once per day folder each time)."""

    _seen: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def loaded_days(self) -> dict[date, dict[str, Any]]:
        if "loaded" not in self._seen:
            self._seen["loaded"] = Lake.loaded_days(self)
        return dict(self._seen["loaded"])

    def _daily_files(self) -> dict[date, list[str]]:
        if "daily" not in self._seen:
            self._seen["daily"] = Lake._daily_files(self)
        return dict(self._seen["daily"])


def log_sizes(log_dir: Path, recv: date) -> dict[str, int]:
    """The event log files received on a UTC day, with their sizes."""
    return sizes_by_day(log_dir).get(recv, {})


def sizes_by_day(log_dir: Path) -> dict[date, dict[str, int]]:
    """Every event log file's size by name, by received day (the directory listed once; names in
    list_log_files' order)."""
    out: dict[date, dict[str, int]] = {}
    for lf in list_log_files(log_dir, "events"):
        try:
            size = lf.path.stat().st_size
        except FileNotFoundError:
            continue
        out.setdefault(lf.day, {})[lf.name] = size
    return out


def pending_days(lake: Lake, log_dir: Path) -> list[date]:
    """Received days whose log files are not (or not fully) in the lake: read from the log directly.
    The log is listed once (a query used to list it once per day: 0.6 s for 90 days of files)."""
    loaded = lake.loaded_days()
    sizes = sizes_by_day(log_dir)
    return [d for d in sorted(sizes) if d not in loaded or loaded[d].get("files") != sizes[d]]


def complete_lines(
    paths: list[Path], tmp_dir: Path, starts: dict[str, int] | None = None
) -> tuple[list[Path], dict[str, int]]:
    """Readable files holding only complete lines, and where each file's complete lines end.

    A file whose last line is still being written, or that is to be read from an offset in
    ``starts`` (its part already in the lake), is replaced by a copy of the bytes from that offset
    to its last newline, so a reader never sees half a line nor a line twice.
    """
    out: list[Path] = []
    ends: dict[str, int] = {}
    for path in paths:
        start = (starts or {}).get(path.name, 0)
        try:
            with open(path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                end = _last_newline_end(fh, size)
                ends[path.name] = end
                if end <= start:
                    continue
                if start == 0 and end == size:
                    out.append(path)
                    continue
                tmp_dir.mkdir(parents=True, exist_ok=True)
                copy = tmp_dir / f"{path.name}.{start}-{end}.jsonl"
                fh.seek(start)
                left = end - start
                with open(copy, "wb") as dst:
                    while left > 0:
                        chunk = fh.read(min(left, 8 << 20))
                        if not chunk:
                            break
                        dst.write(chunk)
                        left -= len(chunk)
                out.append(copy)
        except FileNotFoundError:
            continue
    return out, ends


def _last_newline_end(fh: BinaryIO, size: int) -> int:
    """Offset just after the file's last newline (0 if none)."""
    pos = size
    while pos > 0:
        step = min(pos, 1 << 16)
        fh.seek(pos - step)
        block = fh.read(step)
        cut = block.rfind(b"\n")
        if cut >= 0:
            return pos - step + cut + 1
        pos -= step
    return 0
