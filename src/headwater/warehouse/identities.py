"""The identity map the warehouse joins on: the lake's map plus the links in the log not loaded
into the lake yet, resolved by the same rules (headwater.events.identity) as a lake query does.

Only the six fields a link needs are read from the pending log (DuckDB skips the rest of each
line), and only the bytes appended since the last sync: the links found before are kept in
``run/warehouse-links.json`` with how far each file was read (a file that shrank, rewritten by a
deletion, makes the whole cache start again).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from headwater.atomic_file import write_atomic
from headwater.events.identity import Link
from headwater.lake.layout import Lake, complete_lines, pending_days
from headwater.lake.rollups.identity import links_sql, load_identity_map, read_links
from headwater.lake.sql import connect, file_list, quote
from headwater.log.files import list_log_files

_LINK_COLUMNS = {
    "messageId": "VARCHAR",
    "type": "VARCHAR",
    "userId": "VARCHAR",
    "anonymousId": "VARCHAR",
    "previousId": "VARCHAR",
    "timestamp": "TIMESTAMPTZ",
}


def write_identity_map(data_dir: Path, target: Path, tmp_dir: Path) -> int:
    """Write ``(key, user_id)`` of every resolved id to ``target`` (Parquet); returns the count."""
    lake = Lake(data_dir / "lake")
    log_dir = data_dir / "log"
    con = connect(tmp_dir, memory_limit="300MB")
    try:
        days = set(pending_days(lake, log_dir))
        paths = [lf.path for lf in list_log_files(log_dir, "events") if lf.day in days]
        loaded: dict[str, int] = {}
        for day in days:
            manifest = lake.read_manifest(day)
            if manifest is not None:
                loaded.update({str(k): int(v) for k, v in manifest.get("files", {}).items()})
        cache_path = data_dir / "run" / "warehouse-links.json"
        cache = _read_cache(cache_path, paths)
        starts = {name: max(loaded.get(name, 0), at) for name, at in cache["files"].items()}
        starts.update({name: at for name, at in loaded.items() if name not in starts})
        paths, ends = complete_lines(paths, tmp_dir / "pending", starts)
        extra: list[Link] = []
        if paths:
            columns = "{" + ", ".join(f"{quote(k)}: {quote(v)}" for k, v in _LINK_COLUMNS.items()) + "}"
            events = f"""
                SELECT "type" AS type, "userId" AS user_id, "anonymousId" AS anonymous_id,
                       "previousId" AS previous_id, "timestamp" AS ts
                FROM read_json({file_list(paths)}, format = 'newline_delimited', columns = {columns},
                               maximum_object_size = 1048576)
                WHERE "timestamp" IS NOT NULL AND "messageId" IS NOT NULL
                  AND "userId" IS NOT NULL AND ("anonymousId" IS NOT NULL OR "previousId" IS NOT NULL)
            """
            extra = read_links(con, links_sql(events))
        extra = _merge([Link(*row) for row in cache["links"]], extra)
        write_atomic(
            cache_path,
            json.dumps({"files": ends, "links": [[x.ts, x.source, x.user] for x in extra]}).encode(),
        )
        load_identity_map(con, lake, extra)
        count = int(con.execute("SELECT count(*) FROM idmap").fetchone()[0])
        con.execute(f"COPY (SELECT key, user_id FROM idmap) TO {quote(str(target))} (FORMAT parquet)")
        return count
    finally:
        con.close()


def _read_cache(path: Path, files: list[Path]) -> dict[str, Any]:
    """The links found so far and where each file was read to; empty when a file shrank."""
    try:
        cache: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"files": {}, "links": []}
    sizes = {f.name: f.stat().st_size for f in files if f.exists()}
    if any(sizes.get(name, 0) < at for name, at in cache.get("files", {}).items() if name in sizes):
        return {"files": {}, "links": []}
    return {
        "files": {k: int(v) for k, v in cache.get("files", {}).items() if k in sizes},
        "links": cache.get("links", []),
    }


def _merge(old: list[Link], new: list[Link]) -> list[Link]:
    """Each (source, user) pair once, with its earliest time."""
    first: dict[tuple[str, str], str] = {}
    for link in (*old, *new):
        key = (link.source, link.user)
        if key not in first or link.ts < first[key]:
            first[key] = link.ts
    return [Link(ts, source, user) for (source, user), ts in sorted(first.items())]
