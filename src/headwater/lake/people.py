"""People as integers, for counting them fast: the 64-bit hash of each resolved name when no two
names of the lake share one (``names.json``), or the dense ids of the compact person-day rollup,
with the names only met in today's log numbered after the lake's."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from headwater.lake.file_memo import remembered
from headwater.lake.params import Range
from headwater.lake.query import LakeQuery
from headwater.lake.rollups.names import names_ok
from headwater.lake.rollups.person_days import missing_person_days
from headwater.lake.rollups.user_days import user_days_sql
from headwater.lake.sql import file_list, parquet_sql, quote


class PeopleQuery(LakeQuery):
    """A LakeQuery that can count people on integers (see the module doc)."""

    def __init__(self, data_dir: Path, rng: Range, memory_limit: str = "1GB") -> None:
        self._hashed: bool | None = None
        self._hashed_any_zone: bool | None = None
        self._compact: bool | None = None
        self._people: tuple[Any, int] | None = None
        self._registered: list[str] = []
        self._arrays: dict[tuple[date | None, date | None], tuple[Any, Any]] = {}
        super().__init__(data_dir, rng, memory_limit)

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

    def forget_person_arrays(self) -> None:
        """Use the hashed or named paths from now on (Scope.restrict: dense ids are not names)."""
        self._compact = False
        self._arrays.clear()

    def _compact_ready(self) -> bool:
        if self._compact is None:
            self._compact = self._decide_compact()
        return self._compact

    def _decide_compact(self) -> bool:
        lake = self.lake
        if not self.rollup_fits() or not lake.actors_file.exists() or missing_person_days(lake):
            return False
        for source in self.user_days_files():
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
        if self.new_names:
            names = """SELECT coalesce(m.user_id, p.actor) FROM (SELECT DISTINCT actor FROM pending) p
                       LEFT JOIN idmap m ON m.key = p.actor"""
            if self.extra_links:
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
        if self.extra_links:  # today's links may change who is who: the map on names, made ids
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
        self.check_files(files)
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
        if self.new_names:
            lo, hi, _, _ = self.utc_window(first, last)
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

    def hashed_people(self) -> bool:
        """Whether person_days may count hashes: decided once per scope (see person_days)."""
        if self._hashed is None:
            self._hashed = self._decide_hashed()
        return self._hashed

    def hashed_in_any_zone(self) -> bool:
        """Whether people may be counted on hashes by a reader of times, not of the project's days
        (the visit rollup): hashed_people without its condition that the query's zone is the one
        the days were loaded in. Decided once per scope."""
        if self.hashed_people():
            return True
        if self._hashed_any_zone is None:
            self._hashed_any_zone = self._decide_hashed(any_zone=True)
        return self._hashed_any_zone

    def _decide_hashed(self, any_zone: bool = False) -> bool:
        if not (any_zone or self.rollup_fits()) or not names_ok(self.lake):
            return False
        files = self.user_days_files()
        if not files:
            return False
        if not remembered(("actor_hash", str(self.lake.root)), files, lambda: self._all_hashed(files)):
            return False
        if self.new_names and not self._new_names_hash_apart():
            return False
        pairs = "SELECT hash(key) AS aid, hash(user_id) AS pid FROM idmap"
        if self.extra_links:  # today's links are in idmap: not the lake's map alone
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE idmap_hash AS {pairs}")
        else:  # the lake's map as hashes, read once per version of its file
            slot = ("idmap_hash", str(self.lake.root))
            table = remembered(slot, [self.lake.identity_map], lambda: self.con.sql(pairs).to_arrow_table())
            self.con.register("idmap_hash", table)
        return True

    def _all_hashed(self, files: list[Path]) -> bool:
        """Whether every person-day file carries ``actor_hash``."""
        with_hash = self.sql(
            f"SELECT count(DISTINCT file_name) FROM parquet_schema({file_list(files)})"
            " WHERE name = 'actor_hash'"
        )
        return int(with_hash[0][0]) == len(files)

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
