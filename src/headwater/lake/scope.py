"""What a metric query reads: the SQL sources over the lake plus the log not loaded yet.

Every event row gets ``person`` (the resolved user: an identified userId, or ``anon:<id>`` for a
visitor never identified) and ``day`` (its calendar day in the query's time zone). Rollups are
read instead of the events wherever they answer the same (see each method).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from headwater.lake.people import PeopleQuery
from headwater.lake.query import QUERY_COLUMNS
from headwater.lake.rollups.user_days import user_days_sql
from headwater.lake.rollups.visits import PAGE_COLUMNS, PAGE_EVENTS, source_sql
from headwater.lake.sql import file_list, json_key, parquet_sql, quote

#: number_people's table: (aid, person, n) each actor's person and that person's number
NUMBERS = "hw_people_numbers"


class Scope(PeopleQuery):
    """One metric query's view of the data. Use as a context manager."""

    def restrict(self, members_file: str) -> None:
        """From now on only the people of a cohort's members file (insights/cohorts.py, the resolved
        names): every source below reads their rows only. The dense ids of the compact rollup are
        not names, so that path is off (the hashed and named paths filter); the ETL's step and
        session rollups are skipped (their callers read the events)."""
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE hw_only AS SELECT DISTINCT person"
            f" FROM read_parquet({quote(members_file)}) WHERE person IS NOT NULL"
        )
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE hw_only_hash AS SELECT DISTINCT hash(person) AS person FROM hw_only"
        )
        self.restricted = True
        self.forget_person_arrays()

    def _only(self, sql: str, hashed: bool = False) -> str:
        if not self.restricted:
            return sql
        table = "hw_only_hash" if hashed else "hw_only"
        return f"SELECT * FROM ({sql}) WHERE person IN (SELECT person FROM {table})"

    def events(self, first: date | None = None, last: date | None = None) -> str:
        """SELECT of deduplicated events of local days first..last (None: unbounded)."""
        lo, hi, utc_first, utc_last = self.utc_window(first, last)
        files = self.lake.event_files(utc_first, utc_last)
        self.check_files(files)
        cols = QUERY_COLUMNS
        union = f"SELECT {cols} FROM pending"
        if files:
            union = f"{parquet_sql(files, cols)} UNION ALL {union}"
        return self._only(f"""
            SELECT e.*, coalesce(m.user_id, e.actor) AS person, hw_day(e.ts, {quote(self.tz)}) AS day
            FROM ({union}) e LEFT JOIN idmap m ON m.key = e.actor
            WHERE e.ts >= {lo} AND e.ts < {hi}
        """)

    def person_events(self, first: date | None, last: date | None, columns: str, where: str = "true") -> str:
        """SELECT ``person``, ``ts`` and ``columns`` of the events of local days first..last that belong
        to someone. ``person`` is an integer (the 64-bit hash of the resolved name) when the lake allows
        it (see person_days), the name otherwise: only for grouping and counting people. Only the
        columns asked for are read, and ``where`` (over the event columns) filters them at the scan."""
        lo, hi, utc_first, utc_last = self.utc_window(first, last)
        files = self.lake.event_files(utc_first, utc_last)
        self.check_files(files)
        cols = f"actor, ts, {columns}" if columns else "actor, ts"
        cond = f"actor IS NOT NULL AND ts >= {lo} AND ts < {hi} AND ({where})"
        union = f"SELECT {cols} FROM pending WHERE {cond}"
        if files:
            union = f"{parquet_sql(files, cols)} WHERE {cond} UNION ALL {union}"
        hashed = self.hashed_people()
        if hashed:
            person, join = "coalesce(m.pid, hash(e.actor))", "LEFT JOIN idmap_hash m ON m.aid = hash(e.actor)"
        else:
            person, join = "coalesce(m.user_id, e.actor)", "LEFT JOIN idmap m ON m.key = e.actor"
        return self._only(
            f"""
            SELECT {person} AS person, e.* EXCLUDE (actor)
            FROM ({union}) e {join}
        """,
            hashed,
        )

    def _fresh_rollup(self, folder: Path) -> list[Path] | None:
        """The files of a per-received-day rollup in ``folder``, one per user-day file; None when a
        loaded day lacks it or its file is older than the day's user-day file (the day was loaded
        again since: the readers read the events then)."""
        files = []
        for source in self.user_days_files():
            target = folder / source.name
            if not target.exists() or target.stat().st_mtime_ns < source.stat().st_mtime_ns:
                return None
            files.append(target)
        self.check_files(files)
        return files

    def step_events(self, first: date | None, last: date | None, names: list[str]) -> str | None:
        """SELECT ``actor_hash``, ``event``, ``ts`` of the events named ``names`` of local days
        first..last, from the ETL's (event, actor_hash, ts) rollup clustered by event (only the row
        groups of these events are read, no actor string) with today's log on top; None when people
        cannot be counted on hashes (see person_days) or a loaded day lacks the rollup. The person
        of a row is ``hashed_map()`` applied to its actor_hash."""
        if not self.hashed_people() or self.restricted:
            return None
        files = self._fresh_rollup(self.lake.event_people_dir)
        if files is None:
            return None
        lo, hi, _, _ = self.utc_window(first, last)
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

    def walk_events(self, first: date, last: date, where: str = "true") -> str | None:
        """SELECT (person, name, ts, tie) of the events of local days first..last that belong to
        someone and match ``where`` (over the columns event and ts: the scan prunes on them), from
        the (event, actor_hash, ts, tie) rollup with today's log on top (its events' tie: their
        message id), people as hashed_days names them; None where step_events is None (but in any
        zone: times, not days, are read). ``tie`` is NULL in files written before it
        (insights/paths_walk.py reads the events then, when two events of a person share an instant)."""
        if not self.hashed_in_any_zone() or self.restricted:
            return None
        files = self._fresh_rollup(self.lake.event_people_dir)
        if files is None:
            return None
        lo, hi, _, _ = self.utc_window(first, last)
        cond = f"ts >= {lo} AND ts < {hi} AND ({where})"
        rows = f"""SELECT hash(actor) AS actor_hash, event, ts, message_id AS tie FROM pending
                   WHERE actor IS NOT NULL AND {cond}"""
        if files:
            read = f"read_parquet({file_list(files)}, union_by_name = true)"  # tie: NULL where absent
            names = {str(r[0]) for r in self.sql(f"DESCRIBE SELECT * FROM {read}")}
            tie = "tie" if "tie" in names else "NULL::VARCHAR AS tie"
            rows = f"SELECT actor_hash, event, ts, {tie} FROM {read} WHERE {cond} UNION ALL {rows}"
        return f"""
            SELECT coalesce(m.pid, s.actor_hash) AS person, s.event AS name, s.ts, s.tie
            FROM ({rows}) s LEFT JOIN idmap_hash m ON m.aid = s.actor_hash
        """

    def walk_rows(self) -> int:
        """The rows of the (event, actor_hash, ts, tie) rollup walk_events reads (0: none)."""
        files = self._fresh_rollup(self.lake.event_people_dir)
        if not files:
            return 0
        rows = self.sql(f"SELECT sum(num_rows) FROM parquet_file_metadata({file_list(files)})")
        return int(rows[0][0] or 0)

    def step_people(self, first: date | None, last: date | None, name: str) -> str | None:
        """SELECT (day, person) of the events named ``name`` of local days first..last, people as
        hashed_days names them, from step_events' rollup; None where step_events is None."""
        steps = self.step_events(first, last, [name])
        if steps is None:
            return None
        return f"""
            SELECT hw_day(s.ts, {quote(self.tz)}) AS day, coalesce(m.pid, s.actor_hash) AS person
            FROM ({steps}) s LEFT JOIN idmap_hash m ON m.aid = s.actor_hash
        """

    def session_runs(self, first: date | None, last: date | None) -> str | None:
        """SELECT (person, start_ts, end_ts, events) of the ETL's session rollup (each actor's runs of
        events without a 30-minute gap) overlapping local days first..last, people as integers, with
        every event of today's log on top as a run of its own; None when people cannot be counted on
        hashes (see person_days) or a loaded day lacks the rollup (then read the events)."""
        if not self.hashed_people() or self.restricted:
            return None
        files = self._fresh_rollup(self.lake.sessions_dir)
        if files is None:
            return None
        lo, hi, _, _ = self.utc_window(first, last)
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

    def visit_runs(self, first: date, last: date, columns: Sequence[str]) -> str | None:
        """SELECT (person, an integer, and the rollup's ``columns``) of the visit rollup's runs
        (lake/rollups/visits.py: each actor's runs of page views) overlapping local days
        first..last, with every page view of today's log on top as a run of its own; None when
        people cannot be counted on hashes (in any zone: runs are times, not days) or a loaded day
        lacks the rollup (then read the events)."""
        if not self.hashed_in_any_zone() or self.restricted:
            return None
        files = self._fresh_rollup(self.lake.visits_dir)
        if files is None:
            return None
        lo, hi, _, _ = self.utc_window(first, last)
        self.prepare_derived(PAGE_COLUMNS, first, last, PAGE_EVENTS, lake_files=False)
        own = ", ".join(f"p.{column} AS {name}" for column, name in PAGE_COLUMNS.items())
        as_run = {
            "start_ts": "p.ts",
            "end_ts": "p.ts",
            "pageviews": "1::BIGINT",
            "entry": "path",
            "exit": "path",
            "src": source_sql(),
            "paths": "[{'path': path, 'views': 1::BIGINT}]",
            "tie_first": "false",
            "tie_last": "false",
        }
        one = ", ".join(f"{as_run.get(c, c)} AS {c}" for c in columns)
        pending = f"""
            SELECT coalesce(m.pid, hash(p.actor)) AS person, {one}
            FROM (SELECT p.actor, p.ts, {own} FROM pending p
                  WHERE p.actor IS NOT NULL AND p.ts >= {lo} AND p.ts < {hi} AND {PAGE_EVENTS}) p
            LEFT JOIN idmap_hash m ON m.aid = hash(p.actor)
        """
        if not files:
            return pending
        return f"""
            SELECT coalesce(m.pid, r.actor_hash) AS person, r.* EXCLUDE (actor_hash)
            FROM ({parquet_sql(files, ", ".join(["actor_hash", *columns]))}
                  WHERE start_ts < {hi} AND end_ts >= {lo}) r
            LEFT JOIN idmap_hash m ON m.aid = r.actor_hash
            UNION ALL {pending}
        """

    def dimension_rows(
        self, first: date, last: date, every_event: bool, columns: Sequence[str], numbered: bool = False
    ) -> str | None:
        """SELECT (person, day, event, events, and ``columns``: tool_id or derived ``d_`` columns the
        rollup keeps) over local days first..last from the ETL's dimension-day rollup (one row per
        person, day, event and dimensions, ``events`` the events it counts; with ``every_event``,
        event and tool_id are NULL and a row counts all of them), with today's log on top (a row
        per event); people as person_events' integers, with ``numbered`` a column ``n`` more: their
        numbers in number_people's table (NULL for an actor it lacks). None when people cannot be counted on
        hashes (see person_days), the rollup was built for another zone, or a loaded day lacks it."""
        if not self.rollup_fits() or not self.hashed_people() or self.restricted:
            return None
        files = self._fresh_rollup(self.lake.dimension_days_dir)
        if files is None:
            return None
        lo, hi, _, _ = self.utc_window(first, last)
        self.prepare_derived(columns, first, last, lake_files=False)  # the rollup has the values
        extra = "".join(f", r.{c}" for c in columns)
        days = f"day BETWEEN DATE {quote(first.isoformat())} AND DATE {quote(last.isoformat())}"
        level = "every_event" if every_event else "NOT every_event"
        if numbered:  # one join gives the person and their number (the identity map applied)
            person, join = "h.person AS person, h.n", f"LEFT JOIN {NUMBERS} h ON h.aid = "
        else:
            person, join = "coalesce(m.pid, {aid}) AS person", "LEFT JOIN idmap_hash m ON m.aid = "
        pending = f"""
            SELECT {person.format(aid="hash(r.actor)")}, hw_day(r.ts, {quote(self.tz)}) AS day,
                   {"NULL::VARCHAR" if every_event else "r.event"} AS event, 1::BIGINT AS events{extra}
            FROM pending r {join}hash(r.actor)
            WHERE r.actor IS NOT NULL AND r.ts >= {lo} AND r.ts < {hi}
        """
        if not files:
            return pending
        read = f"SELECT * FROM read_parquet({file_list(files)})"  # not event files: no derived rule
        return f"""
            SELECT {person.format(aid="r.actor_hash")}, r.day, r.event, r.events{extra}
            FROM ({read} WHERE {level} AND {days}) r {join}r.actor_hash
            UNION ALL {pending}
        """

    def dimension_values(self, first: date, last: date, every_event: bool, column: str) -> int:
        """How many values ``column`` of dimension_rows takes over local days first..last (NULL
        counted as one, whether it occurs or not); only where dimension_rows is not None."""
        files = self._fresh_rollup(self.lake.dimension_days_dir) or []
        lo, hi, _, _ = self.utc_window(first, last)
        days = f"day BETWEEN DATE {quote(first.isoformat())} AND DATE {quote(last.isoformat())}"
        level = "every_event" if every_event else "NOT every_event"
        parts = [f"SELECT {column} AS v FROM pending WHERE actor IS NOT NULL AND ts >= {lo} AND ts < {hi}"]
        if files:
            parts.append(f"SELECT {column} FROM read_parquet({file_list(files)}) WHERE {level} AND {days}")
        found = self.sql(f"SELECT count(DISTINCT v) FROM ({' UNION ALL '.join(parts)})")
        return int(found[0][0]) + 1

    def number_people(self, first: date, last: date) -> int:
        """Number the people active on local days first..last 0..n-1 (after the identity map) in
        the table NUMBERS (aid: an actor's hash, person: its person's, n: their number), for dimension_rows'
        ``numbered``; n. Only where dimension_rows is not None (hashed people, the rollups fit)."""
        lo, hi, _, _ = self.utc_window(first, last)
        days = f"day BETWEEN DATE {quote(first.isoformat())} AND DATE {quote(last.isoformat())}"
        actors = (
            f"SELECT hash(actor) AS aid FROM pending WHERE actor IS NOT NULL AND ts >= {lo} AND ts < {hi}"
        )
        files = self.user_days_files()
        if files:
            days_sql = parquet_sql(files, "day, actor_hash")
            actors = f"SELECT actor_hash AS aid FROM ({days_sql}) WHERE {days} UNION {actors}"
        self.sql(
            f"""CREATE OR REPLACE TEMP TABLE {NUMBERS} AS
                SELECT aid, person, (dense_rank() OVER (ORDER BY person) - 1)::INTEGER AS n
                FROM (SELECT a.aid, coalesce(m.pid, a.aid) AS person
                      FROM ({actors}) a LEFT JOIN idmap_hash m ON m.aid = a.aid)"""
        )
        return int(self.sql(f"SELECT coalesce(max(n) + 1, 0) FROM {NUMBERS}")[0][0])

    def user_days(self, first: date | None = None, last: date | None = None) -> str:
        """SELECT (day, person) pairs active on local days first..last, from the rollup when it was
        built for this time zone, from the events otherwise. A pair may repeat (a user seen under two
        ids, or on one day in two received days): consumers count distinct values."""
        if not self.rollup_fits():  # (events() is restricted already)
            return f"SELECT DISTINCT day, person FROM ({self.events(first, last)}) WHERE person IS NOT NULL"
        lo, hi, _, _ = self.utc_window(first, last)
        files = sorted(self.lake.user_days_dir.glob("recv=*.parquet"))
        self.check_files(files)
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
        return self._only(f"""
            SELECT u.day, coalesce(m.user_id, u.actor) AS person
            FROM ({" UNION ALL ".join(parts)}) u LEFT JOIN idmap m ON m.key = u.actor
        """)

    def person_days(self, first: date | None = None, last: date | None = None) -> str:
        """Like user_days, but ``person`` is an integer: a dense id from the compact person-day rollup
        when the lake has it for every loaded day (see person_day_arrays), else the 64-bit hash of the
        resolved name when the rollup carries ``actor_hash`` and no two names share a hash, else the
        names themselves. Only for grouping and counting people."""
        arrays = self.person_day_arrays(first, last)
        if arrays is not None:
            return self._register_person_days(arrays)
        if not self.hashed_people():
            return self.user_days(first, last)
        return self.hashed_days(first, last)

    def hashed_days(self, first: date | None = None, last: date | None = None) -> str:
        """person_days with ``person`` the 64-bit hash of the resolved name, never a dense id (to
        join with step_events' people); only once hashed_people() said yes."""
        lo, hi, _, _ = self.utc_window(first, last)
        files = self.user_days_files()
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
        return self._only(f"{lake} UNION ALL {pend}", hashed=True)

    def trait_values(self, name: str, last: date | None) -> str | None:
        """SELECT (person, ts, v): the values of trait ``name`` (as the preferences metric reads it)
        carried by events of local days up to ``last``, from the ETL's trait rollup (each actor's
        latest value per day) with today's log on top; None when some loaded day lacks the rollup
        or it was built for another time zone (then read the events)."""
        if not self.rollup_fits():
            return None
        files = self._fresh_rollup(self.lake.traits_dir)
        if not files:
            return None
        key, path = quote(name), json_key(name)
        lo, hi, _, _ = self.utc_window(None, last)
        upto = f"t.day <= DATE {quote(str(last))}" if last else "true"
        return self._only(f"""
            SELECT coalesce(m.user_id, t.actor) AS person, t.ts, t.value AS v
            FROM ({parquet_sql(files, "day, actor, key, ts, value")}) t LEFT JOIN idmap m ON m.key = t.actor
            WHERE t.key = {key} AND {upto} AND t.ts >= {lo}
            UNION ALL
            SELECT coalesce(m.user_id, p.actor), p.ts,
                   coalesce(p.traits->>{path}, p.context->'traits'->>{path})
            FROM pending p LEFT JOIN idmap m ON m.key = p.actor
            WHERE p.actor IS NOT NULL AND p.ts >= {lo} AND p.ts < {hi}
        """)
