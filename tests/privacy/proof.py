"""Reading every store for a person's ids, the way the issue asks to prove a deletion: every file
under the data directory (Parquet through DuckDB, everything else as bytes: SQLite's files and
write-ahead logs as they are, never checkpointed first), every table of a SQL database, every key
and value of a Redis namespace."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def ids_in_files(data_dir: Path, ids: Iterable[str]) -> dict[str, list[str]]:
    """{file: [ids found in it]} for every file under the data directory."""
    import duckdb

    wanted = [i for i in ids if i]
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


def ids_in_postgres(url: str, ids: Iterable[str]) -> dict[str, list[str]]:
    """{table: [ids found]} over every table of the database's public schema, read whole."""
    import psycopg

    wanted = [i for i in ids if i]
    found: dict[str, list[str]] = {}
    with psycopg.connect(url) as db:
        tables = [r[0] for r in db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()]  # fmt: skip
        for table in tables:
            text = repr(db.execute(f'SELECT * FROM "{table}"'.encode()).fetchall())
            hits = [i for i in wanted if i in text]
            if hits:
                found[table] = hits
    return found


def ids_in_redis(url: str, namespace: str, ids: Iterable[str]) -> dict[str, list[str]]:
    """{key: [ids found in its name or value]} over every key of a namespace, read by type."""
    import redis

    from headwater.stores.live.namespace import split_namespace

    plain, _ = split_namespace(url)
    client = redis.Redis.from_url(plain)
    wanted = [i for i in ids if i]
    found: dict[str, list[str]] = {}
    try:
        for pattern in (f"{{{namespace}}}:*", f"{namespace}:*"):
            for key in client.scan_iter(match=pattern, count=1000):
                kind = client.type(key).decode()
                value: object = {
                    "string": lambda k: client.get(k),
                    "hash": lambda k: client.hgetall(k),
                    "set": lambda k: client.smembers(k),
                    "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
                    "list": lambda k: client.lrange(k, 0, -1),
                }.get(kind, lambda k: None)(key)
                text = key.decode("utf-8", "replace") + repr(value)
                hits = [i for i in wanted if i in text]
                if hits:
                    found[key.decode("utf-8", "replace")] = hits
    finally:
        client.close()
    return found
