"""The compact person-day rollup: (day, dense person id) pairs, and the identity map on those ids."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from headwater.lake.layout import Lake
from headwater.lake.rollups.common import copy_to_parquet, read_one, user_days_recvs
from headwater.lake.sql import parquet_sql


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
        recvs = sorted({*recvs, *user_days_recvs(lake)})
    parts = [
        parquet_sql([lake.user_days_file(r)], "actor AS name")
        for r in recvs
        if lake.user_days_file(r).exists()
    ]
    if lake.identity_map.exists():
        parts.append(f"SELECT user_id AS name FROM {read_one(lake.identity_map)}")
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
            copy_to_parquet(con, "SELECT aid, name FROM hw_actors ORDER BY aid", lake.actors_file)
    for recv in recvs:
        target = lake.person_days_file(recv)
        source = lake.user_days_file(recv)
        if not source.exists():
            target.unlink(missing_ok=True)
            continue
        copy_to_parquet(
            con,
            f"""SELECT DISTINCT u.day, a.aid FROM ({parquet_sql([source], "day, actor")}) u
                JOIN hw_actors a ON a.name = u.actor ORDER BY u.day, a.aid""",
            target,
        )
    if lake.identity_map.exists():
        copy_to_parquet(
            con,
            f"""SELECT k.aid, u.aid AS pid FROM {read_one(lake.identity_map)} m
                JOIN hw_actors k ON k.name = m.key JOIN hw_actors u ON u.name = m.user_id
                WHERE k.aid <> u.aid ORDER BY k.aid""",
            lake.map_ids_file,
        )
    else:
        lake.map_ids_file.unlink(missing_ok=True)
    con.execute("DROP TABLE hw_actors")


def missing_person_days(lake: Lake) -> list[date]:
    """Received days with a user-day rollup but no compact one (days loaded before it existed)."""
    return [r for r in user_days_recvs(lake) if not lake.person_days_file(r).exists()]
