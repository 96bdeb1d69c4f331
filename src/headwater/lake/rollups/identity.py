"""Identity links found in each received day, and the map that resolves every id to its person
(the rules of headwater.events.identity)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from headwater.events.identity import ANON_PREFIX, Link, resolve
from headwater.lake.layout import Lake
from headwater.lake.rollups.common import copy_rows, copy_to_parquet
from headwater.lake.sql import parquet_sql, quote

TS_TEXT = "%Y-%m-%dT%H:%M:%S.%fZ"  # sorts in time order as text


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


def write_links(con: Any, lake: Lake, recv: date, rows_sql: str | None) -> None:
    copy_rows(con, lake.links_file(recv), rows_sql, links_sql)


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
        copy_to_parquet(con, select, lake.identity_map)
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


def load_identity_map(con: Any, lake: Lake, extra: Sequence[Link] = (), fresh: bool = False) -> None:
    """Temp table ``idmap(key, user_id)``: the lake's map plus links not in the lake yet.
    ``fresh``: ``con`` is a new connection, without an ``idmap`` to replace."""
    if not fresh:
        # a view (the lake's map read in place) or a table (with links not in the lake): dropped as
        # what it is, since DuckDB refuses DROP TABLE of a view (a second call on one connection)
        found = "SELECT table_type FROM information_schema.tables WHERE table_name = 'idmap'"
        for (kind,) in con.execute(found).fetchall():
            con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} idmap")
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
