"""Reading every store for a person's ids, the way the issue asks to prove a deletion: every file
under the data directory (Parquet through DuckDB, everything else as bytes, SQLite after a WAL
checkpoint), every table of a SQL database, every key and value of a Redis namespace."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path


def ids_in_files(data_dir: Path, ids: Iterable[str]) -> dict[str, list[str]]:
    """{file: [ids found in it]} for every file under the data directory."""
    import duckdb

    wanted = [i for i in ids if i]
    for db_file in data_dir.rglob("*.sqlite3"):
        con = sqlite3.connect(db_file)
        try:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            con.close()
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        try:
            if path.suffix == ".parquet":
                con = duckdb.connect()
                try:
                    rows = con.execute(f"SELECT * FROM read_parquet('{path}')").fetchall()
                finally:
                    con.close()
                text = repr(rows)
            else:
                text = path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:  # a running server's short-lived file (a request, a temporary)
            continue
        hits = [i for i in wanted if i in text]
        if hits:
            found[str(path.relative_to(data_dir))] = hits
    return found


def ids_in_sql(
    url_rows: Iterable[tuple[str, list[tuple[object, ...]]]], ids: Iterable[str]
) -> dict[str, list[str]]:
    """{table: [ids found]} given (table, rows) pairs."""
    found: dict[str, list[str]] = {}
    for table, rows in url_rows:
        text = repr(rows)
        hits = [i for i in ids if i in text]
        if hits:
            found[table] = hits
    return found
