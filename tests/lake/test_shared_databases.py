"""The lake's queries open connections to one DuckDB database per process and data directory
(lake/shared_databases.py): each connection's temporary tables, registered views and time zone are
its own; at most KEEP databases stay open, an older one closed only once its last connection is
gone; a forked child makes its own."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pyarrow as pa

from headwater.lake import shared_databases
from headwater.lake.sql import spilling_connection


def test_connections_are_apart_but_share_the_database(tmp_path: Path) -> None:
    a = spilling_connection(tmp_path, "1GB")
    b = spilling_connection(tmp_path, "1GB")
    for con, n in ((a, 1), (b, 2)):
        con.execute(f"CREATE TEMP TABLE pending AS SELECT {n} AS x")  # the same name in both
        con.register("idmap_arrow", pa.table({"y": [n * 10]}))
    assert a.execute("SELECT x, y FROM pending, idmap_arrow").fetchall() == [(1, 10)]
    assert b.execute("SELECT x, y FROM pending, idmap_arrow").fetchall() == [(2, 20)]
    a.execute("SET TimeZone = 'Asia/Seoul'")
    assert b.execute("SELECT current_setting('TimeZone')").fetchall() != [("Asia/Seoul",)]
    assert b.execute("SELECT hw_day(TIMESTAMPTZ '2026-03-01 23:30:00+00', 'UTC')").fetchall()[0][0].day == 1
    spill = str(tmp_path / "run" / "duckdb-spill")
    assert a.execute("SELECT current_setting('temp_directory')").fetchall() == [(spill,)]
    a.close()
    assert b.execute("SELECT x FROM pending").fetchall() == [(2,)]  # the other goes on
    b.close()
    c = spilling_connection(tmp_path, "1GB")  # a new connection: no table of the closed ones
    assert c.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'pending'").fetchall() == [(0,)]
    c.close()


def test_an_old_database_is_closed_once_its_last_connection_is_gone(tmp_path: Path) -> None:
    held = spilling_connection(tmp_path / "first", "1GB")
    held.execute("CREATE TEMP TABLE t AS SELECT 42 AS x")
    for i in range(shared_databases.KEEP + 2):  # more data directories than are kept open
        spilling_connection(tmp_path / str(i), "1GB").close()
    gc.collect()
    assert held.execute("SELECT x FROM t").fetchall() == [(42,)]  # retired, still open for it
    before = shared_databases.open_databases()
    held.close()
    del held
    gc.collect()
    assert shared_databases.open_databases() == before - 1


def test_a_forked_child_makes_its_own(tmp_path: Path) -> None:
    con = spilling_connection(tmp_path, "1GB")
    con.execute("SELECT 1").fetchall()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's database is not usable after a fork
        try:
            mine = spilling_connection(tmp_path, "1GB")
            os.write(write, str(mine.execute("SELECT 6 * 7").fetchall()[0][0]).encode())
            mine.close()
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 100)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert status == 0 and answer == b"42"
    assert con.execute("SELECT 1").fetchall() == [(1,)]
    con.close()
