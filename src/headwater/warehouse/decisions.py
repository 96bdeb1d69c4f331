"""One hour of the OpenRTB decision log (``decisions-YYYYMMDD.<writer>.jsonl``) as Parquet in the
``openrtb_decisions`` columns' order, exported like the events' hours (headwater.warehouse.export).

A decision's hour is the hour of its ``timestamp`` (stamped when the enrichment decided, and the
order its writer appends in)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from headwater.decisions.record import COLUMNS
from headwater.lake.sql import connect, quote
from headwater.warehouse.rows import MEMORY_LIMIT, HourFile
from headwater.warehouse.schema import DECISIONS_COLUMNS


def write_decisions_hour(
    source: Path, hour: datetime, export_hour: str, target: Path, tmp_dir: Path, export_host: str = ""
) -> HourFile:
    lo = hour.strftime("%Y-%m-%d %H:00:00+00")
    hi = (hour + timedelta(hours=1)).strftime("%Y-%m-%d %H:00:00+00")
    columns = "{" + ", ".join(f"{quote(k)}: {quote(v)}" for k, v in COLUMNS.items()) + "}"
    at = export_hour.replace("T", " ").replace("Z", "+00")
    computed = {
        "export_hour": f"TIMESTAMPTZ '{at}' AS export_hour",
        "export_host": f"{quote(export_host)} AS export_host",
    }
    select = ", ".join(computed.get(c.name, c.name) for c in DECISIONS_COLUMNS)
    read = f"read_json({quote(str(source))}, format = 'newline_delimited', columns = {columns})"
    con = connect(tmp_dir, memory_limit=MEMORY_LIMIT, threads=2)
    try:
        con.execute(
            f"""CREATE TEMP TABLE hour_rows AS SELECT * FROM {read}
                WHERE "timestamp" >= TIMESTAMPTZ '{lo}' AND "timestamp" < TIMESTAMPTZ '{hi}'
                  AND id IS NOT NULL
                QUALIFY row_number() OVER (PARTITION BY id ORDER BY "timestamp") = 1"""
        )
        count, first, last = con.execute(
            "SELECT count(*), min(CAST(timestamp AS DATE)), max(CAST(timestamp AS DATE)) FROM hour_rows"
        ).fetchone() or (0, None, None)
        out = HourFile(None, int(count))
        if not count:
            return out
        out.first_day, out.last_day = str(first), str(last)
        con.execute(
            f"COPY (SELECT {select} FROM hour_rows) TO {quote(str(target))}"
            " (FORMAT parquet, COMPRESSION zstd)"
        )
        out.path = target
        return out
    finally:
        con.close()
