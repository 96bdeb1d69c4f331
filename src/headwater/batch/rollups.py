"""Rollups written by the daily ETL: user-day activity, identity links and map, tool usage."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from headwater.atomic_file import write_atomic
from headwater.batch.lake import Lake
from headwater.batch.sql import parquet_sql, quote
from headwater.events.identity import ANON_PREFIX, Link, resolve
from headwater.events.sessions import INACTIVITY_US

TS_TEXT = "%Y-%m-%dT%H:%M:%S.%fZ"  # sorts in time order as text


def user_days_sql(events_sql: str, tz: str) -> str:
    """(day in tz, actor, events, first_ts, last_ts, actor_hash) from a SELECT of event rows.

    ``actor_hash`` (64-bit ``hash(actor)``) lets the metrics count people on integers; it is used
    only while the lake's names are known to hash without a collision (``names_ok``)."""
    return f"""
        SELECT day, actor, events, first_ts, last_ts, hash(actor) AS actor_hash FROM (
            SELECT hw_day(ts, {quote(tz)}) AS day, actor, count(*) AS events, min(ts) AS first_ts,
                   max(ts) AS last_ts
            FROM ({events_sql}) WHERE actor IS NOT NULL GROUP BY ALL
        )
    """


def links_sql(events_sql: str) -> str:
    """Identity links (ts text, source key, user) carried by a SELECT of event rows.

    The ids are cleaned once per distinct (user, anonymous id, alias) combination, not per event."""
    anon = quote(ANON_PREFIX)
    # Two plain aggregates over the events (pairs, then the rare aliases); the ids are cleaned from
    # the aggregates' results (``any_value`` of a group key), so the optimizer cannot push the
    # cleaning filter down to every event as it did when it was a filter on the group keys.
    clean = "hw_clean(any_value(user_id)) AS u, hw_clean(any_value(anonymous_id)) AS a"
    return f"""
        WITH e AS MATERIALIZED (
            SELECT min(ts) AS ts, NULL::VARCHAR AS type, {clean}, NULL::VARCHAR AS p
            FROM ({events_sql}) WHERE user_id IS NOT NULL AND anonymous_id IS NOT NULL
              AND type IS DISTINCT FROM 'alias'
            GROUP BY user_id, anonymous_id
            UNION ALL
            SELECT min(ts), 'alias', {clean}, hw_clean(any_value(previous_id))
            FROM ({events_sql}) WHERE user_id IS NOT NULL AND type = 'alias'
            GROUP BY user_id, anonymous_id, previous_id
        ), l AS (
            SELECT ts, {anon} || a AS source, u AS "user" FROM e WHERE u IS NOT NULL AND a IS NOT NULL
            UNION ALL
            SELECT ts, {anon} || p, u FROM e
            WHERE u IS NOT NULL AND type = 'alias' AND p IS NOT NULL AND p <> u
            UNION ALL
            SELECT ts, p, u FROM e WHERE u IS NOT NULL AND type = 'alias' AND p IS NOT NULL AND p <> u
        )
        SELECT strftime(min(ts), '{TS_TEXT}') AS ts, source, "user" FROM l GROUP BY source, "user"
    """


def _copy(con: Any, select: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    con.execute(f"COPY ({select}) TO {quote(str(tmp))} (FORMAT parquet, COMPRESSION zstd)")
    tmp.replace(target)


def _copy_rows(con: Any, target: Path, rows_sql: str | None, select_of: Callable[[str], str]) -> None:
    """A received day's rollup file from a SELECT of its lake rows; no rows (None): no file."""
    if rows_sql is None:
        target.unlink(missing_ok=True)
        return
    _copy(con, select_of(rows_sql), target)


def write_user_days(con: Any, lake: Lake, recv: date, rows_sql: str | None, tz: str) -> None:
    """The user-day rollup of one received day, from a SELECT of its lake rows (None: no rows)."""
    order = " ORDER BY day, actor"
    _copy_rows(con, lake.user_days_file(recv), rows_sql, lambda rows: user_days_sql(rows, tz) + order)


def traits_sql(events_sql: str, tz: str) -> str:
    """(day in tz, actor, key, ts, value): per actor, day and trait key, the latest value the actor's
    events carried, in ``traits`` or else ``context.traits`` exactly as the preferences metric reads
    one key (``coalesce(traits->>key, context->'traits'->>key)``), and when (``ts``).

    Events are first grouped by their day, actor and the texts of both trait objects (an actor's
    events mostly repeat the same traits), keeping the latest time: the keys and values are then
    parsed once per group instead of once per event."""
    keys = """list_distinct(list_concat(
        CASE WHEN json_type(traits) = 'OBJECT' THEN json_keys(traits) ELSE [] END,
        CASE WHEN json_type(ct) = 'OBJECT' THEN json_keys(ct) ELSE [] END))"""
    return f"""
        SELECT day, actor, key, max(ts) AS ts, arg_max(value, ts) AS value FROM (
            SELECT day, actor, ts, key, coalesce(traits->>key, ct->>key) AS value FROM (
                SELECT day, actor, ts, traits, ct, unnest({keys}) AS key FROM (
                    SELECT hw_day(ts, {quote(tz)}) AS day, actor, traits, context->'traits' AS ct,
                           max(ts) AS ts
                    FROM ({events_sql})
                    WHERE actor IS NOT NULL AND (traits IS NOT NULL OR context IS NOT NULL)
                    GROUP BY ALL
                ) WHERE traits IS NOT NULL OR ct IS NOT NULL
            )
        ) WHERE value IS NOT NULL GROUP BY day, actor, key
    """


def write_traits(con: Any, lake: Lake, recv: date, rows_sql: str | None, tz: str) -> None:
    """The trait rollup of one received day (see traits_sql), from a SELECT of its lake rows."""
    _copy_rows(
        con, lake.traits_file(recv), rows_sql, lambda rows: traits_sql(rows, tz) + " ORDER BY key, actor, day"
    )


def update_names(con: Any, lake: Lake, recvs: Sequence[date] = ()) -> None:
    """Add the actors of received days' user-day rollups and the identity map's users to the lake's
    set of person names, and record whether their 64-bit hashes are all distinct (``names.json``).

    Metrics count people by ``hash(name)`` only while that holds, so counts stay exact."""
    parts = []
    if lake.names_file.exists():
        parts.append(parquet_sql([lake.names_file], "name"))
    rollup_files = [lake.user_days_file(r) for r in recvs if lake.user_days_file(r).exists()]
    if rollup_files:
        parts.append(parquet_sql(rollup_files, "actor AS name"))
    if lake.identity_map.exists():
        parts.append(f"SELECT user_id AS name FROM {_pq_one(lake.identity_map)}")
    if not parts:
        return
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE hw_names AS SELECT DISTINCT name FROM ({' UNION ALL '.join(parts)})"
        " WHERE name IS NOT NULL"
    )
    row = con.execute("SELECT count(*), count(DISTINCT hash(name)) FROM hw_names").fetchone()
    names, hashes = (int(row[0]), int(row[1])) if row else (0, 0)
    _copy(con, "SELECT name FROM hw_names ORDER BY hash(name)", lake.names_file)
    con.execute("DROP TABLE hw_names")
    write_atomic(lake.names_status, json.dumps({"names": names, "hashes": hashes}).encode())


def write_person_days(con: Any, lake: Lake, recvs: Sequence[date]) -> None:
    """The compact person-day rollup of received days, read by the activity metrics.

    Every name (actor of a user-day rollup, or identified user of the identity map) gets a dense
    integer id in ``identity/actors.parquet``, kept forever (new names get the next ids, so files
    written earlier stay valid). ``person_days/recv=D.parquet`` holds the received day's distinct
    (day, aid) pairs sorted by day: two small integer columns instead of names and 64-bit hashes.
    ``identity/map_ids.parquet`` is the identity map on those ids, rewritten after every map change.
    Call after write_user_days and rebuild_identity_map. Without the ids file, every received day's
    compact file is rewritten, as the ones on disk refer to ids that are gone."""
    if not lake.actors_file.exists():
        recvs = sorted({*recvs, *_user_days_recvs(lake)})
    parts = [
        parquet_sql([lake.user_days_file(r)], "actor AS name")
        for r in recvs
        if lake.user_days_file(r).exists()
    ]
    if lake.identity_map.exists():
        parts.append(f"SELECT user_id AS name FROM {_pq_one(lake.identity_map)}")
    if lake.actors_file.exists():
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE hw_actors AS {parquet_sql([lake.actors_file], 'aid, name')}"
        )
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE hw_actors (aid INTEGER, name VARCHAR)")
    if parts:
        added = con.execute(
            f"""INSERT INTO hw_actors
                SELECT (SELECT coalesce(max(aid), -1) FROM hw_actors) + row_number() OVER (ORDER BY name),
                       name
                FROM (SELECT DISTINCT name FROM ({" UNION ALL ".join(parts)}) WHERE name IS NOT NULL) n
                WHERE NOT EXISTS (SELECT 1 FROM hw_actors a WHERE a.name = n.name)"""
        ).fetchall()
        if int(added[0][0]) or not lake.actors_file.exists():
            _copy(con, "SELECT aid, name FROM hw_actors ORDER BY aid", lake.actors_file)
    for recv in recvs:
        target = lake.person_days_file(recv)
        source = lake.user_days_file(recv)
        if not source.exists():
            target.unlink(missing_ok=True)
            continue
        _copy(
            con,
            f"""SELECT DISTINCT u.day, a.aid FROM ({parquet_sql([source], "day, actor")}) u
                JOIN hw_actors a ON a.name = u.actor ORDER BY u.day, a.aid""",
            target,
        )
    if lake.identity_map.exists():
        _copy(
            con,
            f"""SELECT k.aid, u.aid AS pid FROM {_pq_one(lake.identity_map)} m
                JOIN hw_actors k ON k.name = m.key JOIN hw_actors u ON u.name = m.user_id
                WHERE k.aid <> u.aid ORDER BY k.aid""",
            lake.map_ids_file,
        )
    else:
        lake.map_ids_file.unlink(missing_ok=True)
    con.execute("DROP TABLE hw_actors")


def write_event_people(con: Any, lake: Lake, recv: date, rows_sql: str | None) -> None:
    """(event, actor_hash, ts) of every event of a received day that belongs to someone, clustered
    by event: the funnel reads the rows of its step events only (the row groups of other events are
    skipped on their statistics), people as 64-bit hashes (no actor string to read or join; used
    only while the lake's names hash apart, see update_names)."""
    _copy_rows(
        con,
        lake.event_people_file(recv),
        rows_sql,
        lambda rows: (
            f"""SELECT event, hash(actor) AS actor_hash, ts FROM ({rows})
            WHERE actor IS NOT NULL ORDER BY event"""
        ),
    )


#: The session rollup computes the runs of this many events at a time (memory bound).
SESSION_CHUNK_ROWS = 2_000_000


def gap_segments(h: Any, t: Any) -> tuple[Any, Any, Any, Any]:
    """Split each actor's events at gaps of more than 30 minutes: (actor hash, start, end, events)
    of every run, times in epoch microseconds. ``h`` (uint64) and ``t`` (int64) are numpy arrays.

    One sort of 64-bit keys ``actor number * span + time`` (a sort of (actor, time) pairs when the
    keys would not fit), then vectorized gap tests: no window functions over the events (which
    cost several times more in the ETL)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(h)
    if n == 0:
        return h[:0], t[:0], t[:0], np.zeros(0, np.int64)
    coded = pc.dictionary_encode(pa.array(h))  # hashing, not sorting: dense actor numbers
    uniq = coded.dictionary.to_numpy()
    ids = coded.indices.to_numpy()
    t = np.asarray(t, dtype=np.int64)
    base = int(t.min())
    span = int(t.max()) - base + 1
    if len(uniq) * span < 1 << 62:
        key = np.sort(ids.astype(np.int64) * span + (t - base))
        sid, st = key // span, key % span + base
    else:
        order = np.lexsort((t, ids))
        sid, st = ids[order], t[order]
    brk = np.empty(n, dtype=bool)
    brk[0] = True
    brk[1:] = (sid[1:] != sid[:-1]) | (st[1:] - st[:-1] > INACTIVITY_US)
    starts = np.flatnonzero(brk)
    ends = np.append(starts[1:], n) - 1
    return uniq[sid[starts]], st[starts], st[ends], (ends - starts + 1).astype(np.int64)


def write_sessions(
    con: Any, lake: Lake, recv: date, rows_sql: str | None, chunk_rows: int = SESSION_CHUNK_ROWS
) -> None:
    """The session rollup of a received day: each actor's runs of events without a gap of more
    than 30 minutes, as (actor_hash, start_ts, end_ts, events). Runs of several actors (one person)
    or of several received days are merged by the sessions metric (two runs belong to one session
    exactly when the later starts at most 30 minutes after the earlier ends); the 24-hour cut is
    applied there too, as it depends on where the merged session starts."""
    target = lake.sessions_file(recv)
    if rows_sql is None:
        target.unlink(missing_ok=True)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Bounded memory: the actors are split into chunks of about ``chunk_rows`` events by their hash
    # (an actor's runs never span two chunks), so a 20M-event day is never all in numpy at once.
    row = con.execute(f"SELECT count(*) FROM ({rows_sql}) WHERE actor IS NOT NULL").fetchone()
    chunks = max(1, -(-int(row[0] if row else 0) // chunk_rows))
    stamp = pa.timestamp("us", tz="UTC")
    schema = pa.schema(
        [("actor_hash", pa.uint64()), ("start_ts", stamp), ("end_ts", stamp), ("events", pa.int64())]
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    keys = f"SELECT hash(actor) AS h, epoch_us(ts) AS t FROM ({rows_sql}) WHERE actor IS NOT NULL"
    if chunks > 1:  # hash each actor once, not once per chunk (16 bytes an event, spilled if need be)
        con.execute(f"CREATE OR REPLACE TEMP TABLE hw_session_keys AS {keys}")
        keys = "SELECT h, t FROM hw_session_keys WHERE true"
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for k in range(chunks):
            part = f"AND h % {chunks} = {k}" if chunks > 1 else ""
            cols = con.execute(f"{keys} {part}").fetchnumpy()
            h, start, end, events = gap_segments(cols["h"], cols["t"])
            writer.write_table(
                pa.table(
                    [
                        pa.array(h, pa.uint64()),
                        pa.array(start, pa.int64()).cast(stamp),
                        pa.array(end, pa.int64()).cast(stamp),
                        pa.array(events, pa.int64()),
                    ],
                    schema=schema,
                )
            )
    if chunks > 1:
        con.execute("DROP TABLE hw_session_keys")
    tmp.replace(target)


def _backfill(
    con: Any, lake: Lake, file_of: Callable[[date], Path], write: Callable[..., None]
) -> list[date]:
    """Write a rollup for the received days that have a user-day rollup but not this one (loaded
    before it existed), from their rows; the days written."""
    todo = [r for r in _user_days_recvs(lake) if not file_of(r).exists()]
    for recv in todo:
        write(con, lake, recv, received_rows_sql(lake, recv))
    return todo


def backfill_sessions(con: Any, lake: Lake) -> list[date]:
    """The session rollup of received days loaded before it existed."""
    return _backfill(con, lake, lake.sessions_file, write_sessions)


def received_rows_sql(lake: Lake, recv: date) -> str | None:
    """SELECT of the lake rows a received day contributed (its daily files and archived rows)."""
    files = lake.files_of_received_day(recv)
    archives = [
        lake.archive_dir / f"month={y:04d}-{m:02d}" / "events.parquet" for y, m in lake.archived_months()
    ]
    parts = [parquet_sql(files)] if files else []
    if archives:
        parts.append(f"{parquet_sql(archives)} WHERE recv_day = DATE {quote(recv.isoformat())}")
    return " UNION ALL BY NAME ".join(f"({p})" for p in parts) if parts else None


def backfill_event_people(con: Any, lake: Lake) -> list[date]:
    """The (event, aid, ts) rollup of received days loaded before it existed."""
    return _backfill(con, lake, lake.event_people_file, write_event_people)


def _user_days_recvs(lake: Lake) -> list[date]:
    if not lake.user_days_dir.is_dir():
        return []
    return [
        date(int(p.stem[5:9]), int(p.stem[9:11]), int(p.stem[11:13]))
        for p in sorted(lake.user_days_dir.glob("recv=*.parquet"))
    ]


def missing_person_days(lake: Lake) -> list[date]:
    """Received days with a user-day rollup but no compact one (days loaded before it existed)."""
    return [r for r in _user_days_recvs(lake) if not lake.person_days_file(r).exists()]


def names_ok(lake: Lake) -> bool:
    """True when every name in the lake has its own 64-bit hash (see update_names)."""
    try:
        status = json.loads(lake.names_status.read_text())
    except (OSError, ValueError):
        return False
    return bool(status.get("names") == status.get("hashes"))


def _pq_one(path: Path) -> str:
    return f"read_parquet({quote(str(path))})"


def write_links(con: Any, lake: Lake, recv: date, rows_sql: str | None) -> None:
    _copy_rows(con, lake.links_file(recv), rows_sql, links_sql)


def read_links(con: Any, select: str) -> list[Link]:
    return [Link(ts, source, user) for ts, source, user in con.execute(select).fetchall()]


def rebuild_identity_map(con: Any, lake: Lake) -> None:
    """Resolve every link in the lake (rules of headwater.events.identity) into map.parquet.

    Without chains (no user id is itself mapped: no user-to-user alias) the rules reduce to "the
    first link of each key wins", done in SQL; otherwise the pure Python rules run on every link.
    """
    files = sorted(lake.links_dir.glob("recv=*.parquet")) if lake.links_dir.is_dir() else []
    if not files:
        write_identity_map(lake.identity_map, [])
        return
    # The same pair shows up every day a user is active: keep its first time only.
    pairs = f"""
        SELECT min(ts) AS ts, source, "user" FROM ({parquet_sql(files, 'ts, source, "user"')})
        WHERE source <> "user" GROUP BY source, "user"
    """
    chained = con.execute(
        f"""WITH p AS ({pairs}) SELECT count(*) FROM p
            WHERE "user" IN (SELECT source FROM p)"""
    ).fetchone()
    if chained is None or chained[0] == 0:
        select = f"""WITH p AS ({pairs})
            SELECT source AS key, arg_min("user", ts || chr(0) || "user") AS user_id FROM p GROUP BY source"""
        _copy(con, select, lake.identity_map)
        return
    links = read_links(con, f"{pairs} ORDER BY 1, 2, 3")
    write_identity_map(lake.identity_map, resolve(links).items())


def write_identity_map(path: Path, items: Iterable[tuple[str, str]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    keys, users = [], []
    for key, user in items:
        keys.append(key)
        users.append(user)
    table = pa.table({"key": pa.array(keys, pa.string()), "user_id": pa.array(users, pa.string())})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(path)


def load_identity_map(con: Any, lake: Lake, extra: Sequence[Link] = ()) -> None:
    """Temp table ``idmap(key, user_id)``: the lake's map plus links not in the lake yet."""
    con.execute("DROP TABLE IF EXISTS idmap")
    con.execute("DROP VIEW IF EXISTS idmap")
    if not extra:
        if lake.identity_map.exists():  # read in place, not copied
            con.execute(f"CREATE TEMP VIEW idmap AS {parquet_sql([lake.identity_map], 'key, user_id')}")
        else:
            con.execute("CREATE TEMP TABLE idmap (key VARCHAR, user_id VARCHAR)")
        return
    base: dict[str, str] = {}
    if lake.identity_map.exists():
        base = dict(con.execute(parquet_sql([lake.identity_map], "key, user_id")).fetchall())
    mapping = resolve(extra, base)
    import pyarrow as pa

    table = pa.table(
        {
            "key": pa.array(list(mapping), pa.string()),
            "user_id": pa.array(list(mapping.values()), pa.string()),
        }
    )
    con.register("idmap_arrow", table)
    con.execute("CREATE TEMP TABLE idmap AS SELECT * FROM idmap_arrow")
    con.unregister("idmap_arrow")


def write_tool_usage(
    con: Any, lake: Lake, dates: Sequence[date], own: str | None = None, own_files: Sequence[Path] = ()
) -> None:
    """tool_usage_stats(date, tool_id, event_type, count, users) for UTC dates, over the whole lake.

    One aggregate over the files of every date asked for (a received day of late or back-filled
    events touches many dates), then one small file per date from its result. ``own`` is a SELECT
    of the rows of ``own_files`` (the files the ETL has just written, still in memory): read from
    it instead. Events are first counted per actor, so the identity map is joined once per
    (date, tool, event, actor), not once per event."""
    load_identity_map(con, lake)
    present: list[date] = []
    files: list[Path] = []
    skip = set(own_files)
    for day in sorted(set(dates)):
        found = lake.event_files(day, day)
        if not found:
            (lake.tool_usage_dir / f"date={day.isoformat()}.parquet").unlink(missing_ok=True)
            continue
        present.append(day)
        files.extend(f for f in found if f not in files and f not in skip)
    if not present:
        return
    parts = [parquet_sql(files, "tool_id, event, actor, ts")] if files else []
    if own is not None:
        parts.append(f"SELECT tool_id, event, actor, ts FROM ({own})")
    if not parts:
        return
    wanted = ", ".join(f"DATE {quote(d.isoformat())}" for d in present)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE hw_tool_usage AS
            SELECT e.date, e.tool_id, e.event AS event_type, sum(e.n)::BIGINT AS count,
                   count(DISTINCT coalesce(m.user_id, e.actor)) AS users
            FROM (
                SELECT CAST(ts AS DATE) AS date, tool_id, event, actor, count(*) AS n
                FROM ({" UNION ALL ".join(parts)}) WHERE CAST(ts AS DATE) IN ({wanted}) GROUP BY ALL
            ) e LEFT JOIN idmap m ON m.key = e.actor
            GROUP BY ALL"""
    )
    for day in present:
        target = lake.tool_usage_dir / f"date={day.isoformat()}.parquet"
        _copy(
            con,
            f"""SELECT date, tool_id, event_type, count, users FROM hw_tool_usage
                WHERE date = DATE {quote(day.isoformat())} ORDER BY count DESC""",
            target,
        )
    con.execute("DROP TABLE hw_tool_usage")
