"""Every person name in the lake, and whether their 64-bit hashes are all distinct."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from headwater.atomic_file import write_atomic
from headwater.lake.layout import Lake
from headwater.lake.rollups.common import copy_to_parquet, read_one
from headwater.lake.sql import parquet_sql


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
        parts.append(f"SELECT user_id AS name FROM {read_one(lake.identity_map)}")
    if not parts:
        return
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE hw_names AS SELECT DISTINCT name FROM ({' UNION ALL '.join(parts)})"
        " WHERE name IS NOT NULL"
    )
    row = con.execute("SELECT count(*), count(DISTINCT hash(name)) FROM hw_names").fetchone()
    names, hashes = (int(row[0]), int(row[1])) if row else (0, 0)
    copy_to_parquet(con, "SELECT name FROM hw_names ORDER BY hash(name)", lake.names_file)
    con.execute("DROP TABLE hw_names")
    write_atomic(lake.names_status, json.dumps({"names": names, "hashes": hashes}).encode())


def names_ok(lake: Lake) -> bool:
    """True when every name in the lake has its own 64-bit hash (see update_names)."""
    try:
        status = json.loads(lake.names_status.read_text())
    except (OSError, ValueError):
        return False
    return bool(status.get("names") == status.get("hashes"))
