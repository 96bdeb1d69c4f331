"""The messageIds already stored, by UTC event date, for an import to skip.

"Stored" is the lake plus the log not loaded into it yet (every writer's, earlier imports'
included), and what this import wrote. A message is a duplicate when its id is stored with an
event date within a day of its own: the rule of the lake's own dedup (headwater.batch.etl), so the
import never writes a line the ETL would drop, nor drops one it would keep.

Only the dates an import reaches are loaded, when a chunk first reaches them (one DuckDB query
over their lake partitions, monthly archives included); the unloaded log is read once, at the
first load, into a DuckDB table. The id sets live in memory up to ``max_ids``; beyond that the
dates used least recently go back to DuckDB (which spills to disk) and are reloaded if the input
returns to them, so a long history imports in bounded memory.
"""

from __future__ import annotations

import shutil
from collections import OrderedDict
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from headwater.lake.layout import Lake, complete_lines, pending_days
from headwater.lake.sql import connect, file_list, quote
from headwater.log.files import list_log_files

#: Ids held in Python sets (about 120 bytes each) before the least recently used dates are evicted.
MAX_IDS = 2_000_000


class KnownIds:
    def __init__(
        self, data_dir: Path, tmp_name: str, max_ids: int = MAX_IDS, memory_limit: str = "512MB"
    ) -> None:
        self.lake = Lake(data_dir / "lake")
        self.log_dir = data_dir / "log"
        self.max_ids = max_ids
        self.memory_limit = memory_limit
        self._tmp = self.lake.tmp_dir / tmp_name
        self._con: Any = None
        self._sets: OrderedDict[str, set[str]] = OrderedDict()
        self._near: dict[str, tuple[set[str], set[str], set[str]]] = {}
        self._neighbours: dict[str, tuple[str, str]] = {}
        self.loaded_from_log = 0
        self._unloaded: list[Path] | None = None
        self._spilled = False
        self._lake_dates: set[date] | None = None
        self._months: set[tuple[int, int]] = set()

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    def near(self, day: str) -> tuple[set[str], set[str], set[str]]:
        """The id sets of a date and of the day either side (after :meth:`ensure` of it)."""
        return self._near[day]

    def ensure(self, days: Iterable[str]) -> None:
        """Load the ids of these UTC dates (YYYY-MM-DD) and their neighbours if not in memory."""
        wanted = set(days)
        need: set[str] = set()
        for d in wanted:
            for n in (d, *self._neighbours_of(d)):
                if n not in self._sets:
                    need.add(n)
                else:
                    self._sets.move_to_end(n)
        if need:
            self._load(sorted(need))
        self._evict(keep={n for d in wanted for n in (d, *self._neighbours_of(d))})
        for d in wanted:
            if d not in self._near:
                before, after = self._neighbours_of(d)
                self._near[d] = (self._sets[d], self._sets[before], self._sets[after])

    def _neighbours_of(self, day: str) -> tuple[str, str]:
        found = self._neighbours.get(day)
        if found is None:
            d = date.fromisoformat(day)
            before = (d - timedelta(days=1)).isoformat() if d > date.min else day
            after = (d + timedelta(days=1)).isoformat() if d < date.max else day
            found = self._neighbours[day] = (before, after)
        return found

    def _connection(self) -> Any:
        if self._con is None:
            self._con = connect(self._tmp, self.memory_limit, threads=2)
            self._con.execute("CREATE TEMP TABLE known (message_id VARCHAR, d DATE)")
            paths = self._unloaded_log()
            if paths:
                columns = "{'messageId': 'VARCHAR', 'timestamp': 'TIMESTAMPTZ'}"
                self._con.execute(
                    f"""INSERT INTO known SELECT "messageId", CAST("timestamp" AS DATE)
                        FROM read_json({file_list(paths)}, format = 'newline_delimited',
                                       columns = {columns}, maximum_object_size = 1048576)
                        WHERE "messageId" IS NOT NULL AND "timestamp" IS NOT NULL"""
                )
                row = self._con.execute("SELECT count(*) FROM known").fetchone()
                self.loaded_from_log = int(row[0]) if row else 0
        return self._con

    def _unloaded_log(self) -> list[Path]:
        """The log not in the lake yet: days never loaded, and what a loaded day's files gained
        since (from where its manifest says the load stopped), as files of complete lines."""
        if self._unloaded is None:
            days = set(pending_days(self.lake, self.log_dir))
            paths = [lf.path for lf in list_log_files(self.log_dir, "events") if lf.day in days]
            starts: dict[str, int] = {}
            for day in days:
                manifest = self.lake.read_manifest(day)
                if manifest is not None:
                    starts.update({str(k): int(v) for k, v in manifest.get("files", {}).items()})
            self._unloaded, _ = complete_lines(paths, self._tmp, starts)
        return self._unloaded

    def _lake_files(self, day: date) -> list[Path]:
        """Parquet files that may hold events of a UTC date: its partition, its month's archive."""
        if self._lake_dates is None:
            self._lake_dates = set(self.lake.event_dates())
            self._months = set(self.lake.archived_months())
        files = []
        if (day.year, day.month) in self._months:
            files.append(self.lake.archive_file(day.year, day.month))
        if day in self._lake_dates:
            files += sorted(self.lake.date_dir(day).glob("*.parquet"))
        return files

    def _load(self, days: list[str]) -> None:
        for d in days:
            self._sets[d] = set()
        files: list[Path] = []
        for d in days:
            files += [p for p in self._lake_files(date.fromisoformat(d)) if p not in files]
        if not files and not self._spilled and not self._unloaded_log():
            return  # nothing stored anywhere yet (a first import): no query at all
        con = self._connection()
        in_list = ", ".join(f"DATE {quote(d)}" for d in days)
        parts = [f"SELECT d, message_id FROM known WHERE d IN ({in_list})"]
        if files:
            parts.append(
                f"SELECT CAST(ts AS DATE) AS d, message_id FROM read_parquet({file_list(files)},"
                f" union_by_name = true) WHERE CAST(ts AS DATE) IN ({in_list})"
            )
        query = " UNION ALL ".join(parts)
        for d, ids in con.execute(f"SELECT d, list(message_id) FROM ({query}) GROUP BY d").fetchall():
            self._sets[d.isoformat()].update(ids)

    def _evict(self, keep: set[str]) -> None:
        total = sum(len(s) for s in self._sets.values())
        if total <= self.max_ids:
            return
        for d in list(self._sets):
            if total <= self.max_ids:
                break
            if d in keep:
                continue
            ids = self._sets.pop(d)
            total -= len(ids)
            if ids:
                self._connection().execute(
                    "INSERT INTO known SELECT unnest($1::VARCHAR[]), $2::DATE", [list(ids), d]
                )
                self._spilled = True
        self._near.clear()  # rebuilt by ensure() for the dates it was asked for
