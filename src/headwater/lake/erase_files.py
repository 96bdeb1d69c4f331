"""Rewriting one Parquet file of the lake without a person's rows (or, for a per-event retention,
an event's older rows), so that a kill at any moment
leaves either the old file or the new one, never a part (headwater.lake.erase).

A file is written to ``.<name>.erase.tmp`` beside it, fsynced, renamed over the original, and the
directory fsynced: the rename is the only change a reader can see. The temporary file's name is
fixed, so a run killed midway leaves at most one per file, which the next run removes first.

Each file is rewritten by the library that wrote it (``created_by`` in its footer), with the same
compression, so the new file is the old one minus some rows: DuckDB's files keep their column types
(JSON included), order and row-group size; pyarrow's (the session rollup, the identity map) keep
their row groups one for one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from headwater.lake.sql import file_list, quote

TMP_SUFFIX = ".erase.tmp"
#: What a person's name is replaced by in a file that keeps the row (actors.parquet: the dense ids
#: must stay in place). Empty is a junk id (headwater.events.identity): no event ever makes it a
#: name, so it can never be matched, joined, or taken by a new person; and it is never NULL, which
#: would turn the ``name NOT IN (SELECT name ...)`` of the metrics into "no new name at all".
TOMBSTONE = ""


@dataclass(frozen=True, slots=True)
class Match:
    """The rows of a person in one kind of file: a row matches when one of ``columns`` holds one of
    its values (texts, or unsigned 64-bit integers for the hash and aid columns)."""

    columns: dict[str, frozenset[Any]]

    def sql(self) -> str:
        """A condition that is true or false, never NULL (a NULL id matches nothing)."""
        parts = []
        for column, values in self.columns.items():
            if values:
                listed = ", ".join(_literal(v) for v in sorted(values))
                parts.append(f"coalesce({_ident(column)} IN ({listed}), false)")
        return " OR ".join(parts) if parts else "false"

    def mask(self, table: Any) -> Any:
        """The matching rows of a pyarrow table, as a boolean array without nulls."""
        import pyarrow as pa
        import pyarrow.compute as pc

        found = pa.array([False] * table.num_rows, pa.bool_())
        for column, values in self.columns.items():
            if values and column in table.column_names:
                col = table.column(column)
                hit = pc.is_in(col, value_set=pa.array(sorted(values), col.type))
                found = pc.or_(found, pc.fill_null(hit, False))
        return found

    @property
    def empty(self) -> bool:
        return not any(self.columns.values())


@dataclass(frozen=True, slots=True)
class OlderEvents:
    """The rows of event ``name`` timed before midnight UTC of ``cutoff`` (a per-event retention,
    headwater.privacy.retention), in files with ``event`` and ``ts`` columns."""

    name: str
    cutoff: date

    def sql(self) -> str:
        stamp = f"TIMESTAMPTZ '{self.cutoff.isoformat()} 00:00:00+00'"
        return f"coalesce(event = {quote(self.name)} AND ts < {stamp}, false)"

    def mask(self, table: Any) -> Any:
        import pyarrow as pa
        import pyarrow.compute as pc

        moment = datetime(self.cutoff.year, self.cutoff.month, self.cutoff.day, tzinfo=UTC)
        ts = table.column("ts")
        hit = pc.and_(
            pc.equal(table.column("event"), pa.scalar(self.name, table.schema.field("event").type)),
            pc.less(ts, pa.scalar(moment, ts.type)),
        )
        return pc.fill_null(hit, False)

    @property
    def empty(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of lake file, how the person's rows are found in it, and how it was written.

    ``tombstone`` names a column whose value is replaced by TOMBSTONE in matching rows instead of
    dropping them. ``keep_mtime``: the rewritten file keeps its modification time, because readers
    compare it with its derived files' (a rollup older than its user-day rollup, or map_ids older
    than the map, is taken as stale: headwater.lake.scope, lake.people)."""

    name: str
    files: list[Path]
    match: Match | OlderEvents
    zstd_level: int | None = None
    row_group_size: int | None = None
    tombstone: str | None = None
    keep_mtime: bool = False


def read_sql(paths: Collection[Path], extra: str = "") -> str:
    """``read_parquet`` of lake files as they are: no hive columns (``date=``, ``month=`` folders
    would add one), columns by name across files."""
    return f"read_parquet({file_list(sorted(paths))}, hive_partitioning = false, union_by_name = true{extra})"


def row_group_rows(path: Path) -> int | None:
    """Rows of a Parquet file's first row group (its writer's row group size, or all its rows):
    what a rewrite of it passes as ROW_GROUP_SIZE to keep its layout. None without row groups."""
    import pyarrow.parquet as pq

    meta = pq.read_metadata(path)
    if not meta.num_row_groups:
        return None
    return int(meta.row_group(0).num_rows) or None


def scan(con: Any, kind: Kind) -> dict[Path, int]:
    """Rows of the person per file of a kind, by one query over all its files (DuckDB reads only the
    matched columns and skips row groups its statistics rule out)."""
    if not kind.files or kind.match.empty:
        return {}
    rows = con.execute(
        f"SELECT filename, count(*) FROM {read_sql(kind.files, ', filename = true')}"
        f" WHERE {kind.match.sql()} GROUP BY filename"
    ).fetchall()
    return {Path(str(name)): int(n) for name, n in rows}


def remove_strays(root: Path) -> list[Path]:
    """Temporaries left by a killed run, of an erase (``.*.erase.tmp``) or of the ETL or the archive
    (``.*.tmp`` beside their files, ``.tmp/etl-*`` stage folders): their originals are intact, and
    they may hold the person's rows. Call under the ETL's lock, which those writers hold too. The
    rest of ``.tmp`` (metric queries' copies, DuckDB's spill files) belongs to running readers."""
    if not root.is_dir():
        return []
    strays = [p for p in root.rglob(".*.tmp") if p.is_file() and p.relative_to(root).parts[0] != ".tmp"]
    for path in strays:
        path.unlink(missing_ok=True)
    stage = root / ".tmp"
    if stage.is_dir():
        for folder in stage.glob("etl-*"):
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
                strays.append(folder)
    return strays


def temp_of(path: Path) -> Path:
    return path.with_name(f".{path.name}{TMP_SUFFIX}")


def rewrite(con: Any, kind: Kind, path: Path) -> None:
    """Replace ``path`` by a copy without the person's rows (or with their names tombstoned)."""
    import pyarrow.parquet as pq

    tmp = temp_of(path)
    meta = pq.read_metadata(path)
    codec = _codec(meta)
    if str(meta.created_by or "").startswith("parquet-cpp-arrow"):
        _rewrite_arrow(kind, path, tmp, codec)
    else:
        _rewrite_duckdb(con, kind, path, tmp, codec)
    if kind.keep_mtime:
        st = path.stat()
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    fsync_file(tmp)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _rewrite_duckdb(con: Any, kind: Kind, path: Path, tmp: Path, codec: str) -> None:
    """The copy keeps the file's layout: its rows in their order, row groups of its size (the
    daily files' actor order and small row groups, the archives' time order)."""
    cond = kind.match.sql()
    source = f"read_parquet({quote(str(path))}, hive_partitioning = false, file_row_number = true)"
    if kind.tombstone is not None:
        column = _ident(kind.tombstone)
        replace = f"CASE WHEN {cond} THEN {quote(TOMBSTONE)} ELSE {column} END AS {column}"
        select = f"SELECT * EXCLUDE (file_row_number) REPLACE ({replace}) FROM {source}"
    else:
        select = f"SELECT * EXCLUDE (file_row_number) FROM {source} WHERE NOT ({cond})"
    options = [f"FORMAT parquet, COMPRESSION {codec}"]
    if kind.zstd_level is not None and codec == "zstd":
        options.append(f"COMPRESSION_LEVEL {int(kind.zstd_level)}")
    size = kind.row_group_size or row_group_rows(path)
    if size:
        options.append(f"ROW_GROUP_SIZE {int(size)}")
    con.execute(f"COPY ({select} ORDER BY file_row_number) TO {quote(str(tmp))} ({', '.join(options)})")


def _rewrite_arrow(kind: Kind, path: Path, tmp: Path, codec: str) -> None:
    """Row group by row group, so the new file has the old one's row groups, each less the rows."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    options: dict[str, Any] = {"compression": codec}
    if kind.zstd_level is not None and codec == "zstd":
        options["compression_level"] = kind.zstd_level
    with pq.ParquetFile(path) as source, pq.ParquetWriter(tmp, source.schema_arrow, **options) as writer:
        for i in range(source.num_row_groups):
            table = source.read_row_group(i)
            hit = kind.match.mask(table)
            if kind.tombstone is not None:
                at = table.schema.get_field_index(kind.tombstone)
                col = table.column(at)
                table = table.set_column(
                    at, table.field(at), pc.if_else(hit, pa.scalar(TOMBSTONE, col.type), col)
                )
            else:
                table = table.filter(pc.invert(hit))
            if table.num_rows:
                writer.write_table(table)


def _codec(meta: Any) -> str:
    """The compression of a file's columns, as DuckDB and pyarrow name it (zstd when it has none)."""
    known = {"ZSTD", "SNAPPY", "GZIP", "BROTLI", "UNCOMPRESSED", "LZ4_RAW"}
    if meta.num_row_groups and meta.num_columns:
        name = str(meta.row_group(0).column(0).compression).upper()
        if name in known:
            return name.lower()
    return "zstd"


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_all(paths: Iterable[Path]) -> None:
    """Files written by another helper (without fsync), then their folders."""
    folders = set()
    for path in paths:
        if path.exists():
            fsync_file(path)
            folders.add(path.parent)
    for folder in sorted(folders):
        fsync_dir(folder)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: Any) -> str:
    if isinstance(value, int):
        return f"{value}::UBIGINT" if value > 2**63 - 1 else str(value)
    return quote(str(value))
