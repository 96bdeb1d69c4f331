"""One received hour of the log as a Parquet file in the warehouse's column order, and the rows
the warehouse cannot store.

DuckDB reads the hour's byte ranges (headwater.warehouse.hours) with the lake's own projection of a
log line (the same ``event``, ``tool_id``, ``actor``), keeps the lines received in the hour, one per
messageId, and writes them with the ``events`` columns in table order (the emulator matches Parquet
columns by position), JSON as text: the INSERT into ``events`` parses it. Memory is bounded by
DuckDB's limit, so an hour of a million events is written in seconds within a few hundred MB.

BigQuery's JSON cannot hold a number beyond FLOAT64's range (a ``1e400`` sent by a client): such a
row is set aside with the reason (the exporter records it in the ledger's rejects), never dropped
silently and never failing the hour.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from headwater.lake.sql import LOG_JSON_COLUMNS, connect, quote
from headwater.warehouse.schema import EVENT_COLUMN_NAMES

#: a number of more than 308 digits or with a 3-digit exponent may be out of FLOAT64's range
_SUSPECT = r"[0-9][eE][+]?[0-9]{3}|[0-9]{300}"
_JSON_FIELDS = ("properties", "traits", "context")
#: DuckDB's share of the exporter's memory (it spills beyond): with the process's own ~120 MB (the
#: BigQuery client, DuckDB, pyarrow) a million-event hour stays under 500 MB (bench/bench_warehouse.py)
MEMORY_LIMIT = "200MB"


@dataclass
class HourFile:
    """What an hour's export holds."""

    path: Path | None  # None when the hour has no rows
    rows: int = 0
    first_day: str | None = None
    last_day: str | None = None
    hours: list[str] = field(default_factory=list)  # UTC hours of the rows' timestamps
    rejects: list[tuple[str, str, str]] = field(default_factory=list)  # (id, reason, line)


def _columns_sql() -> str:
    columns = dict(LOG_JSON_COLUMNS, sentAt="TIMESTAMPTZ")
    return "{" + ", ".join(f"{quote(k)}: {quote(v)}" for k, v in columns.items()) + "}"


def _select(source: Path, hour: datetime) -> str:
    lo = hour.strftime("%Y-%m-%d %H:00:00+00")
    hi = (hour + timedelta(hours=1)).strftime("%Y-%m-%d %H:00:00+00")
    return f"""
        SELECT
            "messageId" AS id,
            "type" AS type,
            coalesce("_hw".event_type, CASE WHEN "type" = 'track' THEN "event" ELSE "type" END) AS event_type,
            "_hw".tool_id AS tool_id,
            "userId" AS user_id,
            "anonymousId" AS anonymous_id,
            "previousId" AS previous_id,
            hw_actor("userId", "anonymousId") AS actor,
            CAST(properties AS VARCHAR) AS properties,
            CAST(traits AS VARCHAR) AS traits,
            CAST(context AS VARCHAR) AS context,
            "timestamp" AS timestamp,
            "receivedAt" AS received_at,
            "sentAt" AS sent_at,
            "_hw".source AS source,
            coalesce(TRY_CAST("_hw".bot AS BOOLEAN), false) AS bot
        FROM read_json({quote(str(source))}, format = 'newline_delimited', columns = {_columns_sql()},
                       maximum_object_size = 1048576)
        WHERE "receivedAt" >= TIMESTAMPTZ '{lo}' AND "receivedAt" < TIMESTAMPTZ '{hi}'
          AND "messageId" IS NOT NULL AND "timestamp" IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY "messageId" ORDER BY "receivedAt", "timestamp") = 1
    """


def json_problem(text: str | None, name: str) -> str | None:
    """Why BigQuery's JSON cannot store this value (None: it can)."""
    if not text:
        return None

    def check(value: Any, path: str) -> str | None:
        if isinstance(value, float) and not math.isfinite(value):
            return f"{path}: a number beyond FLOAT64's range, which BigQuery's JSON cannot store"
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 1.7976931348623157e308:
            return f"{path}: an integer beyond FLOAT64's range, which BigQuery's JSON cannot store"
        if isinstance(value, dict):
            for k, v in value.items():
                found = check(v, f"{path}.{k}")
                if found:
                    return found
        if isinstance(value, list):
            for i, v in enumerate(value):
                found = check(v, f"{path}[{i}]")
                if found:
                    return found
        return None

    try:
        return check(json.loads(text), name)
    except (ValueError, RecursionError) as exc:
        return f"{name}: not JSON BigQuery can parse ({exc})"


def write_hour(
    source: Path,
    hour: datetime,
    export_hour: str,
    idmap: Path | None,
    target: Path,
    tmp_dir: Path,
    export_host: str = "",
) -> HourFile:
    """Write the hour's rows (received in ``hour``, from the JSON Lines ``source``) to ``target``."""
    con = connect(tmp_dir, memory_limit=MEMORY_LIMIT, threads=2)
    try:
        if idmap is not None:
            con.execute(
                f"CREATE TEMP VIEW idmap AS SELECT key, user_id FROM read_parquet({quote(str(idmap))})"
            )
        else:
            con.execute("CREATE TEMP TABLE idmap (key VARCHAR, user_id VARCHAR)")
        con.execute(f"CREATE TEMP TABLE hour_rows AS {_select(source, hour)}")
        suspect = " OR ".join(f"regexp_matches(coalesce({c}, ''), '{_SUSPECT}')" for c in _JSON_FIELDS)
        rejects: list[tuple[str, str, str]] = []
        for row in con.execute(
            f"SELECT id, {', '.join(_JSON_FIELDS)} FROM hour_rows WHERE {suspect}"
        ).fetchall():
            reasons = [json_problem(text, name) for name, text in zip(_JSON_FIELDS, row[1:], strict=True)]
            reason = next((r for r in reasons if r), None)
            if reason:
                line = json.dumps(dict(zip(("id", *_JSON_FIELDS), row, strict=True)))
                rejects.append((str(row[0]), reason, line))
        if rejects:
            con.execute("CREATE TEMP TABLE rejected (id VARCHAR)")
            con.executemany("INSERT INTO rejected VALUES (?)", [(r[0],) for r in rejects])
            con.execute("DELETE FROM hour_rows WHERE id IN (SELECT id FROM rejected)")
        count, first, last = con.execute(
            "SELECT count(*), min(CAST(timestamp AS DATE)), max(CAST(timestamp AS DATE)) FROM hour_rows"
        ).fetchone() or (0, None, None)
        out = HourFile(None, int(count), rejects=rejects)
        if not count:
            return out
        out.first_day, out.last_day = str(first), str(last)
        out.hours = [
            r[0].strftime("%Y-%m-%dT%H:00:00Z")
            for r in con.execute(
                "SELECT DISTINCT date_trunc('hour', timestamp) FROM hour_rows ORDER BY 1"
            ).fetchall()
        ]
        columns = []
        for name in EVENT_COLUMN_NAMES:
            if name == "person_id":
                columns.append("coalesce(m.user_id, e.actor) AS person_id")
            elif name == "export_host":
                columns.append(f"{quote(export_host)} AS export_host")
            elif name == "export_hour":
                columns.append(
                    f"TIMESTAMPTZ '{export_hour.replace('T', ' ').replace('Z', '+00')}' AS export_hour"
                )
            else:
                columns.append(f"e.{name}")
        con.execute(
            f"COPY (SELECT {', '.join(columns)} FROM hour_rows e LEFT JOIN idmap m ON m.key = e.actor)"
            f" TO {quote(str(target))} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 100000)"
        )
        out.path = target
        return out
    finally:
        con.close()
