"""DuckDB in memory over files: the connection and the one projection from log lines to lake rows.

The same projection turns JSON Lines into rows in the daily ETL and when metrics read today's
log, so the lake and the live log always agree on what a column means.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from headwater.events.identity import ANON_PREFIX, JUNK_IDS
from headwater.lake.derived import by_state, derived_parquet_sql, wanted
from headwater.lake.shared_databases import connection

#: Bounded memory: DuckDB spills to ``lake/.tmp`` beyond this (a day of 20M events fits in 2 GB).
DEFAULT_MEMORY_LIMIT = "1GB"

_JSON_COLUMNS = {
    "messageId": "VARCHAR",
    "type": "VARCHAR",
    "event": "VARCHAR",
    "userId": "VARCHAR",
    "anonymousId": "VARCHAR",
    "previousId": "VARCHAR",
    "timestamp": "TIMESTAMPTZ",
    "receivedAt": "TIMESTAMPTZ",
    "properties": "JSON",
    "traits": "JSON",
    "context": "JSON",
    # Read straight into a struct: no JSON text to re-serialize and re-parse per field. VARCHAR fields
    # keep any JSON value as its text, exactly as ``->>`` did (a numeric tool_id becomes "7").
    "_hw": "STRUCT(event_type VARCHAR, tool_id VARCHAR, source VARCHAR, bot VARCHAR)",
}

#: What a reader of the log parses of each line (name -> DuckDB type), for other projections.
LOG_JSON_COLUMNS = _JSON_COLUMNS

#: Columns of a lake event row (and their order).
EVENT_COLUMNS = (
    "message_id",
    "type",
    "event",
    "tool_id",
    "user_id",
    "anonymous_id",
    "previous_id",
    "actor",
    "ts",
    "received_at",
    "source",
    "bot",
    "properties",
    "traits",
    "context",
)


def spilling_connection(data_dir: Path, memory_limit: str) -> Any:
    """A connection of its own (its temporary tables, registered views and time zone) to this
    process's query database for ``data_dir`` (shared_databases.py): :func:`connect`'s, spilling
    beyond ``memory_limit`` under ``<data_dir>/run``, not into DuckDB's default ./.tmp of the
    caller's working directory (DuckDB creates the last folder only if it spills). The memory
    limit and the threads are those of the process's queries running at a time, not of each
    (8 tiles of a dashboard asked at once share 2 threads instead of 8 databases contending for 2
    cores). Close it after use."""
    spill = data_dir / "run" / "duckdb-spill"

    def make() -> Any:
        spill.parent.mkdir(parents=True, exist_ok=True)
        database = connect(None, memory_limit)
        database.execute(f"SET temp_directory = {quote(str(spill))}")
        return database

    con = connection((str(spill), memory_limit), make)
    con.execute("SET TimeZone = 'UTC'")  # a connection's own setting
    return con


def connect(tmp_dir: Path | None = None, memory_limit: str = DEFAULT_MEMORY_LIMIT, threads: int = 2) -> Any:
    """A fresh in-memory DuckDB with UTC sessions, bounded memory and Headwater's macros."""
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    if tmp_dir is not None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        con.execute(f"SET temp_directory = {quote(str(tmp_dir))}")
    junk = ", ".join(quote(j) for j in sorted(JUNK_IDS))
    # lower(trim(x)) is only worth computing for an id of a junk id's length or with blanks around
    # it: a test on the byte length and the ends spares it for nearly every id of every event.
    sizes = ", ".join(str(n) for n in sorted({len(j.encode()) for j in JUNK_IDS}))
    maybe = f"(strlen(x) IN ({sizes}) OR starts_with(x, ' ') OR ends_with(x, ' '))"
    con.execute(
        f"CREATE MACRO hw_clean(x) AS CASE WHEN {maybe} AND lower(trim(x)) IN ({junk}) THEN NULL ELSE x END"
    )
    con.execute(f"CREATE MACRO hw_actor(u, a) AS coalesce(hw_clean(u), {quote(ANON_PREFIX)} || hw_clean(a))")
    # The session is in UTC: a UTC day is a plain cast (a literal tz folds the CASE away), which
    # spares an ICU conversion per event.
    con.execute(
        "CREATE MACRO hw_day(ts, tz) AS"
        " CASE WHEN tz = 'UTC' THEN CAST(ts AS DATE) ELSE CAST(timezone(tz, ts) AS DATE) END"
    )
    return con


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*", re.IGNORECASE)


def size_bytes(text: str) -> int:
    """Bytes of a DuckDB size setting: "1GB", "512MB", "1.5 GiB" (KB/MB/GB are powers of 1000,
    KiB/MiB/GiB of 1024, as DuckDB reads them)."""
    found = _SIZE.fullmatch(text)
    if found is None:
        raise ValueError(f"not a size: {text!r} (say e.g. 1GB or 512MB)")
    number, unit, binary = found.groups()
    power = "bkmgt".index(unit.lower() or "b")
    return int(float(number) * (1024 if binary else 1000) ** power)


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def json_key(name: str) -> str:
    """The SQL literal that makes ``json->>{json_key(name)}`` read the top-level key ``name`` itself.

    DuckDB reads a text starting with ``$`` as a JSONPath and one starting with ``/`` as a JSON
    Pointer (``$..*`` is every nested value, ``$[`` an error); a JSON Pointer with ``~`` and ``/``
    escaped (RFC 6901) names exactly one key, whatever its characters (``$.x``, ``a.b``, ``""``)."""
    return quote(json_pointer(name))


def json_pointer(name: str) -> str:
    return "/" + name.replace("~", "~0").replace("/", "~1")


#: The same as json_key, in SQL, for a key held by a column or expression ``{}``.
JSON_KEY_SQL = "('/' || replace(replace({}, '~', '~0'), '/', '~1'))"


def file_list(paths: Sequence[Path]) -> str:
    """A SQL list literal of file paths."""
    return "[" + ", ".join(quote(str(p)) for p in paths) + "]"


def json_events_sql(paths: Sequence[Path]) -> str:
    """SELECT of lake rows (EVENT_COLUMNS) from event log files (not deduplicated)."""
    columns = "{" + ", ".join(f"{quote(k)}: {quote(v)}" for k, v in _JSON_COLUMNS.items()) + "}"
    return f"""
        SELECT
            "messageId" AS message_id,
            "type" AS type,
            coalesce("_hw".event_type, CASE WHEN "type" = 'track' THEN "event" ELSE "type" END) AS event,
            "_hw".tool_id AS tool_id,
            "userId" AS user_id,
            "anonymousId" AS anonymous_id,
            "previousId" AS previous_id,
            hw_actor("userId", "anonymousId") AS actor,
            "timestamp" AS ts,
            "receivedAt" AS received_at,
            "_hw".source AS source,
            coalesce(TRY_CAST("_hw".bot AS BOOLEAN), false) AS bot,
            "properties" AS properties,
            "traits" AS traits,
            "context" AS context
        FROM read_json({file_list(paths)}, format = 'newline_delimited', columns = {columns},
                       maximum_object_size = 1048576)
    """


def parquet_sql(paths: Sequence[Path], columns: str = "*") -> str:
    """SELECT of ``columns`` of lake files. The derived columns of event files (lake/derived.py)
    named in ``columns`` are read as stored where a file has them, and computed from the JSON of the
    rows of files written before them (a LakeQuery reading d_browser, d_os or d_device_type calls
    prepare_derived first: the user agents' descriptions)."""
    plain = f"SELECT {columns} FROM {_read(paths)}"
    derived = wanted(columns) if paths else []
    if not derived:
        return plain
    groups = by_state(paths)
    if not groups["old"] and not groups["mixed"]:
        return plain
    parts = [f"SELECT * FROM {_read(groups['new'])}"] if groups["new"] else []
    parts += [derived_parquet_sql(_read(groups[s]), s, derived) for s in ("mixed", "old") if groups[s]]
    return f"SELECT {columns} FROM ({' UNION ALL BY NAME '.join(parts)})"


def _read(paths: Sequence[Path]) -> str:
    return f"read_parquet({file_list(paths)}, union_by_name = true)"
