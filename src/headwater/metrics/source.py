"""What a metric query reads: the lake, plus log files not loaded yet (today's), deduplicated and
with identities resolved, as SQL over an in-memory DuckDB.

Every event row gets ``person`` (the resolved user: an identified userId, or ``anon:<id>`` for a
visitor never identified) and ``day`` (its calendar day in the query's time zone).
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from headwater.batch.lake import Lake, LakeError, complete_lines, pending_days
from headwater.batch.rollups import (
    links_sql,
    load_identity_map,
    missing_person_days,
    names_ok,
    read_links,
    user_days_sql,
)
from headwater.batch.sql import EVENT_COLUMNS, connect, file_list, json_events_sql, parquet_sql, quote
from headwater.log.files import list_log_files
from headwater.metrics.params import MetricError, Range

_PENDING_DDL = """
    CREATE TEMP TABLE pending (
        message_id VARCHAR, type VARCHAR, event VARCHAR, tool_id VARCHAR, user_id VARCHAR,
        anonymous_id VARCHAR, previous_id VARCHAR, actor VARCHAR, ts TIMESTAMPTZ,
        received_at TIMESTAMPTZ, source VARCHAR, bot BOOLEAN, properties JSON, traits JSON, context JSON
    )
"""
_COLUMNS = ", ".join(c for c in EVENT_COLUMNS if c not in ("received_at", "source", "bot"))


class Scope:
    """One metric query's view of the data. Use as a context manager."""

    def __init__(self, data_dir: Path, rng: Range, memory_limit: str = "1GB") -> None:
        self.lake = Lake(data_dir / "lake")
        self.log_dir = data_dir / "log"
        self.rng = rng
        self.tz = rng.tz
        self._tmp = self.lake.tmp_dir / f"query-{id(self)}"
        self.con: Any = connect(None, memory_limit)
        # spill (beyond memory_limit) under the data folder, not into DuckDB's default ./.tmp of
        # the caller's working directory; DuckDB creates the last folder only if it spills
        run_dir = data_dir / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        self.con.execute(f"SET temp_directory = {quote(str(run_dir / 'duckdb-spill'))}")
        self._hashed: bool | None = None
        self._new_names = False
        self._extra_links = False
        self._compact: bool | None = None
        self._people: tuple[Any, int] | None = None
        self._registered: list[str] = []
        self._arrays: dict[tuple[date | None, date | None], tuple[Any, Any]] = {}
        try:
            self._load_pending()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Scope:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        """Run a query; a damaged lake file becomes a LakeError naming the file."""
        try:
            return list(self.con.execute(query).fetchall())
        except Exception as exc:
            if type(exc).__module__.startswith("duckdb") or type(exc).__module__.startswith("_duckdb"):
                raise _explain(exc) from exc
            raise

    def numpy(self, query: str) -> dict[str, Any]:
        """Like sql, as numpy arrays by column name."""
        try:
            return dict(self.con.execute(query).fetchnumpy())
        except Exception as exc:
            if type(exc).__module__.startswith("duckdb") or type(exc).__module__.startswith("_duckdb"):
                raise _explain(exc) from exc
            raise

    # -- pending log --------------------------------------------------------------------------
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
        self._new_names = bool(paths)
        self._extra_links = bool(extra)
        load_identity_map(self.con, self.lake, extra)

    # -- SQL sources ----------------------------------------------------------------------------
    def _utc_window(self, first: date | None, last: date | None) -> tuple[str, str, date | None, date | None]:
        zone = ZoneInfo(self.tz)
        lo = _midnight(first, zone) if first else datetime(1970, 1, 1, tzinfo=UTC)
        hi = _midnight(last + timedelta(days=1), zone) if last else datetime(9999, 1, 1, tzinfo=UTC)
        utc_first = lo.date() if first else None
        utc_last = (hi - timedelta(microseconds=1)).date() if last else None
        return _ts(lo), _ts(hi), utc_first, utc_last

    def events(self, first: date | None = None, last: date | None = None) -> str:
        """SELECT of deduplicated events of local days first..last (None: unbounded)."""
        lo, hi, utc_first, utc_last = self._utc_window(first, last)
        files = self.lake.event_files(utc_first, utc_last)
        self._check_files(files)
        cols = _COLUMNS
        union = f"SELECT {cols} FROM pending"
        if files:
            union = f"{parquet_sql(files, cols)} UNION ALL {union}"
        return f"""
            SELECT e.*, coalesce(m.user_id, e.actor) AS person, hw_day(e.ts, {quote(self.tz)}) AS day
            FROM ({union}) e LEFT JOIN idmap m ON m.key = e.actor
            WHERE e.ts >= {lo} AND e.ts < {hi}
        """

    def utc_bounds(self, first: date | None, last: date | None) -> tuple[str, str]:
        """SQL TIMESTAMPTZ literals bounding local days first..last: ``lo <= ts < hi``."""
        lo, hi, _, _ = self._utc_window(first, last)
        return lo, hi

    def person_events(self, first: date | None, last: date | None, columns: str, where: str = "true") -> str:
        """SELECT ``person``, ``ts`` and ``columns`` of the events of local days first..last that belong
        to someone. ``person`` is an integer (the 64-bit hash of the resolved name) when the lake allows
        it (see person_days), the name otherwise: only for grouping and counting people. Only the
        columns asked for are read, and ``where`` (over the event columns) filters them at the scan."""
        lo, hi, utc_first, utc_last = self._utc_window(first, last)
        files = self.lake.event_files(utc_first, utc_last)
        self._check_files(files)
        cols = f"actor, ts, {columns}" if columns else "actor, ts"
        cond = f"actor IS NOT NULL AND ts >= {lo} AND ts < {hi} AND ({where})"
        union = f"SELECT {cols} FROM pending WHERE {cond}"
        if files:
            union = f"{parquet_sql(files, cols)} WHERE {cond} UNION ALL {union}"
        if self._hashed_people():
            person, join = "coalesce(m.pid, hash(e.actor))", "LEFT JOIN idmap_hash m ON m.aid = hash(e.actor)"
        else:
            person, join = "coalesce(m.user_id, e.actor)", "LEFT JOIN idmap m ON m.key = e.actor"
        return f"""
            SELECT {person} AS person, e.* EXCLUDE (actor)
            FROM ({union}) e {join}
        """

    def step_events(self, first: date | None, last: date | None, names: list[str]) -> str | None:
        """SELECT ``actor_hash``, ``event``, ``ts`` of the events named ``names`` of local days
        first..last, from the ETL's (event, actor_hash, ts) rollup clustered by event (only the row
        groups of these events are read, no actor string) with today's log on top; None when people
        cannot be counted on hashes (see person_days) or a loaded day lacks the rollup. The person
        of a row is ``hashed_map()`` applied to its actor_hash."""
        if not self._hashed_people():
            return None
        files = []
        for source in self._user_days_files():
            target = self.lake.event_people_dir / source.name
            if not target.exists() or target.stat().st_mtime_ns < source.stat().st_mtime_ns:
                return None
            files.append(target)
        self._check_files(files)
        lo, hi, _, _ = self._utc_window(first, last)
        listed = ", ".join(quote(n) for n in names)
        # The range filter on the sorted event column is what prunes row groups (IN alone is not
        # pushed into the scan by DuckDB 2.0).
        cond = (
            f"event IN ({listed}) AND event BETWEEN {quote(min(names))} AND {quote(max(names))}"
            f" AND ts >= {lo} AND ts < {hi}"
        )
        pending = (
            f"SELECT hash(actor) AS actor_hash, event, ts FROM pending WHERE actor IS NOT NULL AND ({cond})"
        )
        if not files:
            return pending
        return f"{parquet_sql(files, 'actor_hash, event, ts')} WHERE {cond} UNION ALL {pending}"

    def hashed_map(self, hashes: Any) -> Any:
        """The person (64-bit hash of the resolved name) of each actor hash in a numpy array: the
        identity map applied on integers. Only after step_events or session_runs said yes."""
        import numpy as np

        pairs = self.numpy("SELECT aid, pid FROM idmap_hash ORDER BY aid")
        keys, users = pairs["aid"], pairs["pid"]
        if len(keys) == 0:
            return hashes
        at = np.minimum(np.searchsorted(keys, hashes), len(keys) - 1)
        return np.where(keys[at] == hashes, users[at], hashes)

    def session_runs(self, first: date | None, last: date | None) -> str | None:
        """SELECT (person, start_ts, end_ts, events) of the ETL's session rollup (each actor's runs of
        events without a 30-minute gap) overlapping local days first..last, people as integers, with
        every event of today's log on top as a run of its own; None when people cannot be counted on
        hashes (see person_days) or a loaded day lacks the rollup (then read the events)."""
        if not self._hashed_people():
            return None
        files = []
        for source in self._user_days_files():
            target = self.lake.sessions_dir / source.name
            if not target.exists() or target.stat().st_mtime_ns < source.stat().st_mtime_ns:
                return None
            files.append(target)
        self._check_files(files)
        lo, hi, _, _ = self._utc_window(first, last)
        pending = f"""
            SELECT hash(coalesce(m.user_id, p.actor)) AS person, p.ts AS start_ts, p.ts AS end_ts,
                   1::BIGINT AS events
            FROM pending p LEFT JOIN idmap m ON m.key = p.actor
            WHERE p.actor IS NOT NULL AND p.ts >= {lo} AND p.ts < {hi}
        """
        if not files:
            return pending
        return f"""
            SELECT coalesce(m.pid, s.actor_hash) AS person, s.start_ts, s.end_ts, s.events
            FROM ({parquet_sql(files, "actor_hash, start_ts, end_ts, events")}
                  WHERE start_ts < {hi} AND end_ts >= {lo}) s
            LEFT JOIN idmap_hash m ON m.aid = s.actor_hash
            UNION ALL {pending}
        """

    def user_days(self, first: date | None = None, last: date | None = None) -> str:
        """SELECT (day, person) pairs active on local days first..last, from the rollup when it was
        built for this time zone, from the events otherwise. A pair may repeat (a user seen under two
        ids, or on one day in two received days): consumers count distinct values."""
        if not self._rollup_fits():
            return f"SELECT DISTINCT day, person FROM ({self.events(first, last)}) WHERE person IS NOT NULL"
        lo, hi, _, _ = self._utc_window(first, last)
        files = sorted(self.lake.user_days_dir.glob("recv=*.parquet"))
        self._check_files(files)
        cond = (
            " AND ".join(
                c
                for c in (
                    f"day >= DATE {quote(str(first))}" if first else "",
                    f"day <= DATE {quote(str(last))}" if last else "",
                )
                if c
            )
            or "true"
        )
        pending = f"SELECT * FROM pending WHERE ts >= {lo} AND ts < {hi}"
        parts = [f"SELECT day, actor FROM ({user_days_sql(pending, self.tz)})"]
        if files:
            parts.insert(0, f"SELECT day, actor FROM ({parquet_sql(files, 'day, actor')}) WHERE {cond}")
        return f"""
            SELECT u.day, coalesce(m.user_id, u.actor) AS person
            FROM ({" UNION ALL ".join(parts)}) u LEFT JOIN idmap m ON m.key = u.actor
        """

    def person_days(self, first: date | None = None, last: date | None = None) -> str:
        """Like user_days, but ``person`` is an integer: a dense id from the compact person-day rollup
        when the lake has it for every loaded day (see person_day_arrays), else the 64-bit hash of the
        resolved name when the rollup carries ``actor_hash`` and no two names share a hash, else the
        names themselves. Only for grouping and counting people."""
        arrays = self.person_day_arrays(first, last)
        if arrays is not None:
            return self._register_person_days(arrays)
        if not self._hashed_people():
            return self.user_days(first, last)
        lo, hi, _, _ = self._utc_window(first, last)
        files = self._user_days_files()
        low = f"day >= DATE {quote(str(first))}" if first else "true"
        cond = f"{low} AND " + (f"day <= DATE {quote(str(last))}" if last else "true")
        pending = f"SELECT * FROM pending WHERE ts >= {lo} AND ts < {hi}"
        pend = f"""
            SELECT u.day, hash(coalesce(m.user_id, u.actor)) AS person
            FROM ({user_days_sql(pending, self.tz)}) u LEFT JOIN idmap m ON m.key = u.actor
        """
        lake = f"""
            SELECT u.day, coalesce(m.pid, u.actor_hash) AS person
            FROM ({parquet_sql(files, "day, actor_hash")}) u LEFT JOIN idmap_hash m ON m.aid = u.actor_hash
            WHERE {cond}
        """
        return f"{lake} UNION ALL {pend}"

    # -- compact person days -------------------------------------------------------------------
    def person_day_arrays(self, first: date | None, last: date | None) -> tuple[Any, Any] | None:
        """Distinct-enough (day, person) pairs of local days first..last as numpy arrays: days since
        1970-01-01 (int32) and dense person ids (int32), from the compact rollup with today's log on
        top; None when the lake lacks the rollup for some loaded day (then use person_days' SQL). A
        pair may repeat (one person under two ids): consumers count distinct values."""
        if not self._compact_ready():
            return None
        key = (first, last)
        if key not in self._arrays:
            arrays = self._read_person_days(first, last)
            if arrays is None:  # an ETL run added ids after this scope read them: use the SQL path
                self._compact = False
                return None
            self._arrays[key] = arrays
        return self._arrays[key]

    def _compact_ready(self) -> bool:
        if self._compact is None:
            self._compact = self._decide_compact()
        return self._compact

    def _decide_compact(self) -> bool:
        lake = self.lake
        if not self._rollup_fits() or not lake.actors_file.exists() or missing_person_days(lake):
            return False
        for source in self._user_days_files():
            target = lake.person_days_dir / source.name
            if not target.exists() or target.stat().st_mtime_ns < source.stat().st_mtime_ns:
                return False  # the user-day rollup was rewritten after the compact one
        if lake.identity_map.exists():
            ids = lake.map_ids_file
            if not ids.exists() or ids.stat().st_mtime_ns < lake.identity_map.stat().st_mtime_ns:
                return False
        return True

    def _person_ids(self) -> tuple[Any, int]:
        """(person id of each lake actor id, number of ids): the identity map on dense ids. Names met
        only in today's log get ids after the lake's, in the temp table ``hw_new_names(name, id)``."""
        if self._people is not None:
            return self._people
        import numpy as np

        lake = self.lake
        actors = parquet_sql([lake.actors_file], "aid, name")
        count = int(self.sql(f"SELECT count(*) FROM read_parquet({file_list([lake.actors_file])})")[0][0])
        self.con.execute("CREATE OR REPLACE TEMP TABLE hw_new_names (name VARCHAR, id INTEGER)")
        if self._new_names:
            names = """SELECT coalesce(m.user_id, p.actor) FROM (SELECT DISTINCT actor FROM pending) p
                       LEFT JOIN idmap m ON m.key = p.actor"""
            if self._extra_links:
                names += " UNION ALL SELECT user_id FROM idmap"
            self.con.execute(
                f"""INSERT INTO hw_new_names
                    SELECT name, {count - 1} + row_number() OVER (ORDER BY name) FROM (
                        SELECT DISTINCT name FROM ({names}) n(name) WHERE name IS NOT NULL
                          AND name NOT IN (SELECT name FROM ({actors}))
                    )"""
            )
        extra = int(self.sql("SELECT count(*) FROM hw_new_names")[0][0])
        pid_of = np.arange(count, dtype=np.int32)
        if self._extra_links:  # today's links may change who is who: the map on names, made ids
            pairs = self.numpy(
                f"""SELECT k.aid, coalesce(u.aid, n.id) AS pid FROM idmap m
                    JOIN ({actors}) k ON k.name = m.key LEFT JOIN ({actors}) u ON u.name = m.user_id
                    LEFT JOIN hw_new_names n ON n.name = m.user_id"""
            )
        elif lake.map_ids_file.exists():
            pairs = self.numpy(parquet_sql([lake.map_ids_file], "aid, pid"))
        else:
            pairs = {"aid": np.empty(0, np.int32), "pid": np.empty(0, np.int32)}
        pid_of[np.asarray(pairs["aid"], dtype=np.int64)] = pairs["pid"]
        self._people = (pid_of, count + extra)
        return self._people

    def _read_person_days(self, first: date | None, last: date | None) -> tuple[Any, Any] | None:
        import numpy as np

        pid_of, _ = self._person_ids()
        low = f"day >= DATE {quote(str(first))}" if first else "true"
        cond = f"{low} AND " + (f"day <= DATE {quote(str(last))}" if last else "true")
        files = sorted(self.lake.person_days_dir.glob("recv=*.parquet"))
        self._check_files(files)
        days: list[Any] = []
        people: list[Any] = []
        if files:
            rows = self.numpy(
                f"SELECT (day - DATE '1970-01-01')::INTEGER AS d, aid "
                f"FROM ({parquet_sql(files, 'day, aid')}) WHERE {cond}"
            )
            if len(rows["aid"]) and int(rows["aid"].max()) >= len(pid_of):
                return None
            days.append(np.asarray(rows["d"], dtype=np.int32))
            people.append(pid_of[rows["aid"]])  # int32 indexes: no 64-bit copy of 11M ids
        if self._new_names:
            lo, hi, _, _ = self._utc_window(first, last)
            pending = f"SELECT * FROM pending WHERE ts >= {lo} AND ts < {hi}"
            actors = parquet_sql([self.lake.actors_file], "aid, name")
            rows = self.numpy(
                f"""SELECT (u.day - DATE '1970-01-01')::INTEGER AS d, coalesce(a.aid, n.id) AS pid
                    FROM ({user_days_sql(pending, self.tz)}) u LEFT JOIN idmap m ON m.key = u.actor
                    LEFT JOIN ({actors}) a ON a.name = coalesce(m.user_id, u.actor)
                    LEFT JOIN hw_new_names n ON n.name = coalesce(m.user_id, u.actor)"""
            )
            days.append(np.asarray(rows["d"], dtype=np.int32))
            people.append(np.asarray(rows["pid"], dtype=np.int32))
        if not days:
            return np.empty(0, np.int32), np.empty(0, np.int32)
        return np.concatenate(days), np.concatenate(people)

    def person_periods(self, period: str, last: date | None) -> str | None:
        """Name of a temp table of the distinct (person, p) pairs, ``p`` the index of the period (see
        metrics.periods) of each active day up to ``last``, from the compact rollup; None without it.
        Materialized once per scope and period, as consumers join it with itself."""
        arrays = self.person_day_arrays(None, last)
        if arrays is None:
            return None
        name = f"hw_person_{period}s_{len(self._registered)}"
        import numpy as np
        import pyarrow as pa

        days, people = arrays
        if period == "day":
            index = days
        elif period == "week":
            index = (days - np.int32(4)) // np.int32(7)  # 1970-01-05, a Monday, is day 4
        else:
            months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int32)
            index = months + np.int32(1970 * 12)
        self._registered.append(name)
        self.con.register(f"{name}_arrow", pa.table({"person": people, "p": index.astype(np.int32)}))
        self.con.execute(f"CREATE TEMP TABLE {name} AS SELECT DISTINCT person, p FROM {name}_arrow")
        self.con.unregister(f"{name}_arrow")
        return name

    def trait_values(self, name: str, last: date | None) -> str | None:
        """SELECT (person, ts, v): the values of trait ``name`` (as the preferences metric reads it)
        carried by events of local days up to ``last``, from the ETL's trait rollup (each actor's
        latest value per day) with today's log on top; None when some loaded day lacks the rollup
        or it was built for another time zone (then read the events)."""
        if not self._rollup_fits():
            return None
        sources = self._user_days_files()
        if not sources:
            return None
        files = []
        for source in sources:
            target = self.lake.traits_dir / source.name
            if not target.exists() or target.stat().st_mtime_ns < source.stat().st_mtime_ns:
                return None
            files.append(target)
        self._check_files(files)
        key = quote(name)
        lo, hi, _, _ = self._utc_window(None, last)
        upto = f"t.day <= DATE {quote(str(last))}" if last else "true"
        return f"""
            SELECT coalesce(m.user_id, t.actor) AS person, t.ts, t.value AS v
            FROM ({parquet_sql(files, "day, actor, key, ts, value")}) t LEFT JOIN idmap m ON m.key = t.actor
            WHERE t.key = {key} AND {upto} AND t.ts >= {lo}
            UNION ALL
            SELECT coalesce(m.user_id, p.actor), p.ts, coalesce(p.traits->>{key}, p.context->'traits'->>{key})
            FROM pending p LEFT JOIN idmap m ON m.key = p.actor
            WHERE p.actor IS NOT NULL AND p.ts >= {lo} AND p.ts < {hi}
        """

    def person_count(self) -> int:
        """Upper bound (exclusive) of the person ids in person_day_arrays."""
        return self._person_ids()[1]

    def _register_person_days(self, arrays: tuple[Any, Any]) -> str:
        import pyarrow as pa

        name = f"hw_person_days_{len(self._registered)}"
        self._registered.append(name)
        days, people = arrays
        self.con.register(
            name, pa.table({"day": pa.array(days, pa.date32()), "person": pa.array(people, pa.int32())})
        )
        return f"SELECT day, person FROM {name}"

    def _user_days_files(self) -> list[Path]:
        files = (
            sorted(self.lake.user_days_dir.glob("recv=*.parquet")) if self.lake.user_days_dir.is_dir() else []
        )
        self._check_files(files)
        return files

    def _hashed_people(self) -> bool:
        """Whether person_days may count hashes: decided once per scope (see person_days)."""
        if self._hashed is None:
            self._hashed = self._decide_hashed()
        return self._hashed

    def _decide_hashed(self) -> bool:
        if not self._rollup_fits() or not names_ok(self.lake):
            return False
        files = self._user_days_files()
        if not files:
            return False
        with_hash = self.sql(
            f"SELECT count(DISTINCT file_name) FROM parquet_schema({file_list(files)})"
            " WHERE name = 'actor_hash'"
        )
        if int(with_hash[0][0]) != len(files):
            return False
        if self._new_names and not self._new_names_hash_apart():
            return False
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE idmap_hash AS"
            " SELECT hash(key) AS aid, hash(user_id) AS pid FROM idmap"
        )
        return True

    def _new_names_hash_apart(self) -> bool:
        """Names not in the lake yet (today's log, links not loaded): each must hash apart from the
        others and from every name of the lake."""
        new = """
            SELECT DISTINCT name FROM (
                SELECT coalesce(m.user_id, p.actor) AS name
                FROM pending p LEFT JOIN idmap m ON m.key = p.actor
                UNION ALL SELECT user_id FROM idmap
            ) WHERE name IS NOT NULL
        """
        clash = self.sql(
            f"""WITH n AS ({new})
                SELECT (SELECT count(*) - count(DISTINCT hash(name)) FROM n)
                     + (SELECT count(*) FROM n JOIN ({parquet_sql([self.lake.names_file], "name")}) k
                        ON hash(k.name) = hash(n.name) AND k.name <> n.name)"""
        )
        return int(clash[0][0]) == 0

    def _rollup_fits(self) -> bool:
        loaded = self.lake.loaded_days()
        return all(m.get("project_tz") == self.tz for m in loaded.values())

    # -- coverage -----------------------------------------------------------------------------
    def missing_days(self, days: list[date]) -> set[date]:
        """Local days without any data received or stored: the metric reports them missing, not zero.

        A local day counts as covered when its UTC day at local noon has a log file (loaded or not),
        a manifest, or events stored under that event date."""
        covered: set[date] = set(self.lake.loaded_days())
        covered.update(lf.day for lf in list_log_files(self.log_dir, "events"))
        covered.update(self.lake.event_dates())
        if self.lake.tool_usage_dir.is_dir():
            for p in self.lake.tool_usage_dir.glob("date=*.parquet"):
                covered.add(date.fromisoformat(p.stem[5:]))
        covered.update(r[0] for r in self.sql("SELECT DISTINCT CAST(ts AS DATE) FROM pending"))
        zone = ZoneInfo(self.tz)
        return {
            d
            for d in days
            if datetime.combine(d, time(12), tzinfo=zone).astimezone(UTC).date() not in covered
        }

    def _check_files(self, files: list[Path]) -> None:
        for path in files:
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            if size < 12:
                raise LakeError(f"corrupt Parquet file {path}: only {size} bytes")


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _ts(moment: datetime) -> str:
    return f"TIMESTAMPTZ {quote(moment.strftime('%Y-%m-%d %H:%M:%S.%f+00'))}"


_FILE_RE = re.compile(r"""["']?(/[^"'\s]+\.parquet)["']?""")


def _explain(exc: Exception) -> Exception:
    text = str(exc)
    match = _FILE_RE.search(text)
    if match and ("parquet" in text.lower() or "magic" in text.lower()):
        return LakeError(f"corrupt Parquet file {match.group(1)}: {text.splitlines()[0][:300]}")
    return MetricError("query_failed", f"the query failed: {text.splitlines()[0][:300]}", status=500)
