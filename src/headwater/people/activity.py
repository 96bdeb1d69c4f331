"""When a person was active, from the lake's rollups, so that a timeline reads the event files
that hold their rows and no other.

- The compact person-day rollup (``person_days/recv=D``: (day, dense id) pairs, two small integer
  columns) tells, for the whole history at little cost, which received days hold the person's rows.
- The user-day rollup (``user_days/recv=D``) of those received days only gives one row per (local
  day, actor) with the number of events and the first and last event times: which event dates,
  and how many events, each received day's file (``events/date=E/recv-D.parquet``, or the month's
  archive) holds of the person.

A timeline needs the newest activity only: the user-day files are read newest first, a few more at
each step, until enough of the person's events are known (people/timeline.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from headwater.lake.layout import Lake
from headwater.lake.sql import quote
from headwater.people.sources import Reading

#: a received day's file holds events up to 23 hours ahead of it (later ones are clamped to their
#: arrival) and a writer's file may take a line just past midnight: two days of margin
RECV_MARGIN = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class Active:
    """A person's events of one local day under one actor name, as one received day loaded them."""

    recv: date
    day: date
    actor: str
    events: int
    first: datetime
    last: datetime


def activity_files(
    reading: Reading, names: Iterable[str], before: datetime | None = None
) -> list[tuple[date, Path]] | None:
    """(received day, user-day file) of the received days that hold rows of the names, newest
    first (every received day when the compact rollup cannot tell); None when the lake has no
    user-day rollup at all (loaded before it existed: only a scan of every file can tell). With
    ``before``, without the received days whose rows of the names are all of later local days (a
    page of the past skips the newer files: only their late events could be older)."""
    files = user_day_files(reading.lake)
    if files is None:
        return None
    holding = recvs_of(reading, names, files)
    # a local day starts at most 14 hours before its UTC date (UTC+14): a received day whose
    # first local day of the names is two days past ``before``'s UTC date holds nothing older
    last = None if before is None else before.astimezone(UTC).date() + timedelta(days=1)
    return sorted(
        (
            (r, p)
            for r, p in files.items()
            if holding is None or (r in holding and (last is None or holding[r] <= last))
        ),
        reverse=True,
    )


def user_day_files(lake: Lake) -> dict[date, Path] | None:
    """Every received day's user-day file; None when the lake has no user-day rollup at all."""
    folder = lake.user_days_dir
    if not folder.is_dir():
        return None
    files: dict[date, Path] = {}
    for path in folder.glob("recv=*.parquet"):
        recv = _recv_of(path)
        if recv is not None:
            files[recv] = path
    return files


def recvs_of(reading: Reading, names: Iterable[str], files: dict[date, Path]) -> dict[date, date] | None:
    """The received days whose compact rollup has the names, each with the first local day of
    their rows; None when it is missing or older than a user-day file (the lake's metrics make the
    same check: headwater.lake.people)."""
    from headwater.lake.erase_files import read_sql

    lake = reading.lake
    compact: list[Path] = []
    for recv, source in files.items():
        target = lake.person_days_file(recv)
        try:
            if target.stat().st_mtime_ns < source.stat().st_mtime_ns:
                return None
        except FileNotFoundError:
            return None
        compact.append(target)
    listed = ", ".join(quote(n) for n in sorted(names))
    if not compact or not listed or not lake.actors_file.exists():
        return None
    rows = reading.con.execute(
        f"""SELECT filename, min(day) FROM {read_sql(compact, ", filename = true")}
            WHERE aid IN (SELECT aid FROM {read_sql([lake.actors_file])} WHERE name IN ({listed}))
            GROUP BY filename"""
    ).fetchall()
    found = ((_recv_of(Path(str(name))), first) for name, first in rows)
    return {recv: first for recv, first in found if recv is not None}


def read_activity(reading: Reading, names: Iterable[str], files: list[Path]) -> list[Active]:
    """The rows of these user-day files for any of the names."""
    from headwater.lake.erase_files import read_sql

    listed = ", ".join(quote(n) for n in sorted(names))
    if not files or not listed:
        return []
    rows = reading.con.execute(
        f"SELECT filename, day, actor, events, first_ts, last_ts FROM {read_sql(files, ', filename = true')}"
        f" WHERE actor IN ({listed})"
    ).fetchall()
    out = []
    for name, d, a, n, f, last in rows:
        recv = _recv_of(Path(str(name)))
        if recv is not None:
            out.append(Active(recv, d, str(a), int(n), _utc(f), _utc(last)))
    return out


def complete_after(recv: date) -> datetime:
    """Every event at or after this time is in the files of received days >= ``recv``."""
    return datetime.combine(recv, datetime.min.time(), UTC) + RECV_MARGIN


def event_files_of(lake: Lake, parts: Iterable[tuple[date, date]]) -> list[Path]:
    """The event files holding the rows of these (UTC event date, received day) pairs: the daily
    file of that received day under that date, or the month's archive."""
    archived = set(lake.archived_months())
    out: set[Path] = set()
    for day, recv in set(parts):
        if (day.year, day.month) in archived:
            out.add(lake.archive_file(day.year, day.month))
        folder = lake.date_dir(day)
        if folder.is_dir():
            out.update(folder.glob(f"recv-{recv:%Y%m%d}*.parquet"))
    return sorted(out)


def event_files_of_dates(lake: Lake, dates: Iterable[date]) -> list[Path]:
    """The lake's event files (daily ones and monthly archives) holding rows of these UTC dates."""
    wanted = sorted(set(dates))
    out: set[Path] = set()
    i = 0
    while i < len(wanted):  # contiguous runs of dates: one listing each
        j = i
        while j + 1 < len(wanted) and wanted[j + 1].toordinal() == wanted[j].toordinal() + 1:
            j += 1
        out.update(lake.event_files(wanted[i], wanted[j]))
        i = j + 1
    return sorted(out)


def utc_dates(first: datetime, last: datetime) -> list[date]:
    """The UTC dates from ``first`` to ``last``."""
    return [date.fromordinal(n) for n in range(first.date().toordinal(), last.date().toordinal() + 1)]


def _recv_of(path: Path) -> date | None:
    try:
        return datetime.strptime(path.stem.removeprefix("recv="), "%Y%m%d").date()
    except ValueError:
        return None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
