"""The export's DuckDB: the log not loaded yet (today's) deduplicated as the metrics do it, and the
identity map, with a small memory budget.

The metrics' LakeQuery holds every column of the pending events in a temp table (properties, context
...); an export only needs to know which messages to keep, so this reads three columns of the
pending log: each messageId's first received copy (``arg_min`` over (receivedAt, timestamp), an
aggregate that spills to disk beyond the budget, not a window), minus the messages the lake holds
already for the dates it touches, a day on each side: the same rows as LakeQuery's ``pending``.
The identity map (for ``--user``) is the lake's plus the links of the pending log, as the metrics
resolve people.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Self

from headwater.lake.layout import Lake, LakeError, complete_lines, pending_days
from headwater.lake.rollups.identity import links_sql, load_identity_map, read_links
from headwater.lake.sql import file_list, parquet_sql, quote, spilling_connection
from headwater.log.files import list_log_files

_COLUMNS = {
    "messageId": "VARCHAR",
    "timestamp": "TIMESTAMPTZ",
    "receivedAt": "TIMESTAMPTZ",
    "type": "VARCHAR",
    "userId": "VARCHAR",
    "anonymousId": "VARCHAR",
    "previousId": "VARCHAR",
}


class ExportView:
    """Use as a context manager: ``con`` has ``pending(message_id, ts)`` (and ``idmap`` after
    :meth:`load_identity`)."""

    def __init__(self, data_dir: Path, memory_limit: str) -> None:
        self.lake = Lake(data_dir / "lake")
        self.log_dir = data_dir / "log"
        self._tmp = self.lake.tmp_dir / f"export-{os.getpid()}-{id(self)}"
        self.con: Any = spilling_connection(data_dir, memory_limit)
        try:
            self.paths = self._pending_paths()
            self._load_pending()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _pending_paths(self) -> list[Path]:
        """The unloaded part of each log file (the part a manifest does not cover), whole lines only."""
        days = set(pending_days(self.lake, self.log_dir))
        paths = [lf.path for lf in list_log_files(self.log_dir, "events") if lf.day in days]
        loaded: dict[str, int] = {}
        for day in days:
            manifest = self.lake.read_manifest(day)
            if manifest is not None:
                loaded.update({str(k): int(v) for k, v in manifest.get("files", {}).items()})
        return complete_lines(paths, self._tmp, loaded)[0]

    def _json(self, columns: str) -> str:
        listed = "{" + ", ".join(f"{quote(k)}: {quote(v)}" for k, v in _COLUMNS.items()) + "}"
        return (
            f"SELECT {columns} FROM read_json({file_list(self.paths)}, format = 'newline_delimited',"
            f" columns = {listed}, maximum_object_size = 1048576)"
        )

    def _load_pending(self) -> None:
        if not self.paths:
            self.con.execute("CREATE TEMP TABLE pending (message_id VARCHAR, ts TIMESTAMPTZ)")
            return
        rows = self._json('"messageId" AS message_id, "timestamp" AS ts, "receivedAt" AS received_at')
        self.sql(
            f"""CREATE TEMP TABLE pending AS
                SELECT message_id, arg_min(ts, (received_at, ts)) AS ts FROM ({rows})
                WHERE message_id IS NOT NULL AND ts IS NOT NULL GROUP BY message_id"""
        )
        found = self.sql("SELECT CAST(min(ts) AS DATE), CAST(max(ts) AS DATE) FROM pending")
        if not found or found[0][0] is None:
            return
        first, last = found[0]
        lake_files = self.lake.event_files(first - timedelta(days=1), last + timedelta(days=1))
        if lake_files:
            self.sql(
                "DELETE FROM pending WHERE message_id IN"
                f" (SELECT message_id FROM ({parquet_sql(lake_files, 'message_id')}))"
            )

    def load_identity(self) -> None:
        """``idmap(key, user_id)``: the lake's identity map and the links of the pending log."""
        extra = []
        try:
            if self.paths:
                rows = self._json(
                    '"type" AS type, "userId" AS user_id, "anonymousId" AS anonymous_id,'
                    ' "previousId" AS previous_id, "timestamp" AS ts'
                )
                extra = read_links(self.con, links_sql(f"SELECT * FROM ({rows}) WHERE ts IS NOT NULL"))
            load_identity_map(self.con, self.lake, extra)
        except Exception as exc:
            raise _explained(exc) from exc

    def sql(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a query; a damaged lake file becomes a LakeError naming it."""
        try:
            return list(self.con.execute(query, params).fetchall())
        except Exception as exc:
            raise _explained(exc) from exc

    def batches(self, query: str, rows: int, params: list[Any] | None = None) -> Iterator[Any]:
        """The result of a query as Arrow record batches of ``rows``, read as they are consumed."""
        try:
            yield from self.con.sql(query, params=params or None).to_arrow_reader(rows)
        except Exception as exc:
            raise _explained(exc) from exc


def _explained(exc: Exception) -> Exception:
    """A DuckDB error (a damaged or vanished lake file) as a LakeError with DuckDB's words."""
    if type(exc).__module__.lstrip("_").startswith("duckdb"):
        return LakeError(f"the export could not read the lake: {str(exc).splitlines()[0][:300]}")
    return exc
