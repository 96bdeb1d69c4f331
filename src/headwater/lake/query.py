"""A query's view of the lake: an in-memory DuckDB over the Parquet files, plus the log files not
loaded yet (today's), deduplicated by message id, with the identity map (``idmap``) loaded.

:class:`LakeQuery` holds the connection and the ``pending`` table of unloaded events;
:mod:`headwater.lake.people` adds people as integers, :mod:`headwater.lake.scope` the SQL sources
the metrics read.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Self, TypeVar
from zoneinfo import ZoneInfo

from headwater.lake.derived import COLUMNS, MARK, UA_COLUMNS, add_user_agents, by_state, derived_parquet_sql
from headwater.lake.layout import Lake, LakeError, LakeSnapshot, complete_lines, pending_days
from headwater.lake.params import MetricError, Range, local_midnight
from headwater.lake.rollups.identity import links_sql, load_identity_map, read_links
from headwater.lake.sql import EVENT_COLUMNS, json_events_sql, parquet_sql, quote, spilling_connection
from headwater.log.files import list_log_files

T = TypeVar("T")

_PENDING_DDL = """
    CREATE TEMP TABLE pending (
        message_id VARCHAR, type VARCHAR, event VARCHAR, tool_id VARCHAR, user_id VARCHAR,
        anonymous_id VARCHAR, previous_id VARCHAR, actor VARCHAR, ts TIMESTAMPTZ,
        received_at TIMESTAMPTZ, source VARCHAR, bot BOOLEAN, properties JSON, traits JSON, context JSON
    )
"""
QUERY_COLUMNS = ", ".join(c for c in EVENT_COLUMNS if c not in ("received_at", "source", "bot"))


class LakeQuery:
    """One query's connection to the lake and the pending log. Use as a context manager."""

    def __init__(self, data_dir: Path, rng: Range, memory_limit: str = "1GB") -> None:
        self.lake: Lake = LakeSnapshot(data_dir / "lake")  # one view of the manifests and files
        self.log_dir = data_dir / "log"
        self.rng = rng
        self.tz = rng.tz
        self._tmp = self.lake.tmp_dir / f"query-{id(self)}"
        self.con: Any = spilling_connection(data_dir, memory_limit)
        self.new_names = False
        self.extra_links = False
        #: cohort id -> the file of its members, for the insights that read cohorts (insights/cohorts.py)
        self.cohort_files: dict[str, str] = {}
        #: only the people of a cohort (Scope.restrict): every source reads their rows only
        self.restricted = False
        #: the derived columns added to ``pending`` (prepare_derived)
        self.pending_derived: set[str] = set()
        #: the (first, last, where) whose user agents prepare_derived described
        self._described: set[tuple[date | None, date | None, str, bool]] = set()
        try:
            self._load_pending()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        """Run a query; a damaged lake file becomes a LakeError naming the file."""
        return self._explained(lambda: list(self.con.execute(query).fetchall()))

    def numpy(self, query: str) -> dict[str, Any]:
        """Like sql, as numpy arrays by column name."""
        return self._explained(lambda: dict(self.con.execute(query).fetchnumpy()))

    def arrow(self, query: str) -> Any:
        """Like sql, as a pyarrow Table."""
        return self._explained(lambda: self.con.sql(query).to_arrow_table())

    def _explained(self, run: Callable[[], T]) -> T:
        """``run()``, DuckDB's errors explained (_explain: a damaged file named, else query_failed)."""
        try:
            return run()
        except Exception as exc:
            if type(exc).__module__.startswith("duckdb") or type(exc).__module__.startswith("_duckdb"):
                raise _explain(exc) from exc
            raise

    def _load_pending(self) -> None:
        self.con.execute(_PENDING_DDL)
        days = set(pending_days(self.lake, self.log_dir))
        paths = [lf.path for lf in list_log_files(self.log_dir, "events") if lf.day in days]
        # A day loaded earlier (e.g. today, by an intraday `etl daily`) is read from where it stopped.
        loaded: dict[str, int] = {}
        for day in days:
            manifest = self.lake.read_manifest(day)
            if manifest is not None:
                loaded.update({str(k): int(v) for k, v in manifest.get("files", {}).items()})
        paths, _ = complete_lines(paths, self._tmp, loaded)
        if paths:
            self.con.execute(
                f"INSERT INTO pending SELECT * FROM ({json_events_sql(paths)}) "
                "WHERE message_id IS NOT NULL AND ts IS NOT NULL "
                "QUALIFY row_number() OVER (PARTITION BY message_id ORDER BY received_at, ts) = 1"
            )
            dates = [r[0] for r in self.sql("SELECT DISTINCT CAST(ts AS DATE) FROM pending ORDER BY 1")]
            if dates:
                lake_files = self.lake.event_files(
                    dates[0] - timedelta(days=1), dates[-1] + timedelta(days=1)
                )
                if lake_files:
                    self.sql(
                        f"DELETE FROM pending WHERE message_id IN "
                        f"(SELECT message_id FROM ({parquet_sql(lake_files, 'message_id')}))"
                    )
        extra = read_links(self.con, links_sql("SELECT * FROM pending")) if paths else []
        self.new_names = bool(paths)
        self.extra_links = bool(extra)
        load_identity_map(self.con, self.lake, extra, fresh=True)  # (a connection of its own)

    def prepare_derived(
        self,
        columns: Iterable[str],
        first: date | None,
        last: date | None,
        where: str = "true",
        lake_files: bool = True,
    ) -> None:
        """Make the derived columns (lake/derived.py) among ``columns`` readable, by parquet_sql and
        ``pending``, over local days first..last: the user agents of the rows that lack them (the
        log not loaded yet, lake files written before them; of the events ``where`` keeps, over the
        lake's columns) described once in UA_TABLE, and the columns added to ``pending``, computed
        from its JSON by the ETL's rules. ``lake_files=False``: ``pending`` only (a reader of a
        rollup, which holds the values already)."""
        asked = set(columns)
        want = [c for c in COLUMNS if c in asked]
        if not want:
            return
        if any(c in UA_COLUMNS for c in want) and (first, last, where, lake_files) not in self._described:
            self._described.add((first, last, where, lake_files))
            _, _, utc_first, utc_last = self.utc_window(first, last)
            lo, hi = self.utc_bounds(first, last)
            groups = by_state(self.lake.event_files(utc_first, utc_last) if lake_files else [])
            within = f"ts >= {lo} AND ts < {hi} AND ({where})"
            agent = "context->>'/userAgent'"
            parts = [f"SELECT {agent} FROM pending WHERE {within}"]
            if groups["old"]:
                parts.append(f"{parquet_sql(groups['old'], agent)} WHERE {within}")
            if groups["mixed"]:
                parts.append(f"{parquet_sql(groups['mixed'], agent)} WHERE {MARK} IS NULL AND {within}")
            add_user_agents(self.con, " UNION ALL ".join(parts))
        missing = [c for c in want if c not in self.pending_derived]
        if missing:
            self.sql(
                f"CREATE OR REPLACE TEMP TABLE pending AS {derived_parquet_sql('pending', 'old', missing)}"
            )
            self.pending_derived.update(missing)

    def utc_window(self, first: date | None, last: date | None) -> tuple[str, str, date | None, date | None]:
        zone = ZoneInfo(self.tz)
        lo = local_midnight(first, zone) if first else datetime(1970, 1, 1, tzinfo=UTC)
        hi = local_midnight(last + timedelta(days=1), zone) if last else datetime(9999, 1, 1, tzinfo=UTC)
        utc_first = lo.date() if first else None
        utc_last = (hi - timedelta(microseconds=1)).date() if last else None
        return _ts(lo), _ts(hi), utc_first, utc_last

    def utc_bounds(self, first: date | None, last: date | None) -> tuple[str, str]:
        """SQL TIMESTAMPTZ literals bounding local days first..last: ``lo <= ts < hi``."""
        lo, hi, _, _ = self.utc_window(first, last)
        return lo, hi

    def user_days_files(self) -> list[Path]:
        files = (
            sorted(self.lake.user_days_dir.glob("recv=*.parquet")) if self.lake.user_days_dir.is_dir() else []
        )
        self.check_files(files)
        return files

    def rollup_fits(self) -> bool:
        loaded = self.lake.loaded_days()
        return all(m.get("project_tz") == self.tz for m in loaded.values())

    def check_files(self, files: list[Path]) -> None:
        for path in files:
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            if size < 12:
                raise LakeError(f"corrupt Parquet file {path}: only {size} bytes")

    def missing_days(self, days: list[date]) -> set[date]:
        """Local days without any data received or stored: the metric reports them missing, not zero.

        A local day counts as covered when its UTC day at local noon has a log file (loaded or not),
        a manifest, or events stored under that event date. Only the days asked are looked for,
        cheapest source first."""
        zone = ZoneInfo(self.tz)
        noon = {d: datetime.combine(d, time(12), tzinfo=zone).astimezone(UTC).date() for d in days}
        wanted = set(noon.values())
        wanted -= set(self.lake.loaded_days())
        wanted -= {lf.day for lf in list_log_files(self.log_dir, "events")} if wanted else set()
        wanted -= set(self.lake.event_dates()) if wanted else set()
        if wanted:
            usage = self.lake.tool_usage_dir
            wanted = {u for u in wanted if not (usage / f"date={u.isoformat()}.parquet").exists()}
        if wanted:
            wanted -= {r[0] for r in self.sql("SELECT DISTINCT CAST(ts AS DATE) FROM pending")}
        return {d for d, u in noon.items() if u in wanted}


def _ts(moment: datetime) -> str:
    return f"TIMESTAMPTZ {quote(moment.strftime('%Y-%m-%d %H:%M:%S.%f+00'))}"


_FILE_RE = re.compile(r"""["']?(/[^"'\s]+\.parquet)["']?""")


def _explain(exc: Exception) -> Exception:
    text = str(exc)
    match = _FILE_RE.search(text)
    if match and ("parquet" in text.lower() or "magic" in text.lower()):
        return LakeError(f"corrupt Parquet file {match.group(1)}: {text.splitlines()[0][:300]}")
    return MetricError("query_failed", f"the query failed: {text.splitlines()[0][:300]}", status=500)
