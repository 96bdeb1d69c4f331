"""The realtime store's hourly unique users (``hourly_stats``, ``hourly_rollups``: each complete
UTC hour copied from the live store, kept after the live store has let the hour go) without a
deleted person.

Those rows hold numbers, not people, so they cannot be recomputed from what remains: before the
log and the lake are erased, the deletion notes every (UTC hour of the event's timestamp, tool,
event type) the person had an event in (:func:`plan`, a file under ``run/privacy`` that holds no
id), and once the realtime step runs, each such row's ``unique_users`` and each such hour's drop by
one (:func:`apply`), in one transaction with a marker, so a resumed deletion never subtracts twice.
Event counts stay (they hold no id). A person counted twice in an hour (events as an anonymous
visitor before being identified, in the same hour) is subtracted once: the row keeps one too many.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import msgspec

from headwater.atomic_file import write_atomic
from headwater.events.timestamps import parse_timestamp
from headwater.stores.sql.database import SqlDatabase

Cell = tuple[str, str, str]  # (hour "YYYY-MM-DDTHH:00:00Z", tool_id or "", event_type)


def plan_path(run_dir: Path, regulation_id: str) -> Path:
    return run_dir / "privacy" / f"{regulation_id}.hours.json"


def _hour(text: Any) -> str | None:
    moment = parse_timestamp(text) if isinstance(text, str) else None
    return None if moment is None else f"{moment:%Y-%m-%dT%H}:00:00Z"


def cells_of_log(lines: Iterable[bytes]) -> set[Cell]:
    out: set[Cell] = set()
    for line in lines:
        try:
            event = msgspec.json.decode(line)
        except msgspec.DecodeError:
            continue
        if not isinstance(event, dict):
            continue
        hw = event.get("_hw") or {}
        hour = _hour(event.get("timestamp")) or _hour(event.get("receivedAt"))
        kind = event.get("type")
        name = hw.get("event_type") or (event.get("event") if kind == "track" else kind)
        if hour and name:
            out.add((hour, str(hw.get("tool_id") or ""), str(name)))
    return out


def cells_of_lake(rows: Iterable[dict[str, Any]]) -> set[Cell]:
    out: set[Cell] = set()
    for row in rows:
        hour = _hour(row.get("ts"))
        if hour and row.get("event"):
            out.add((hour, str(row.get("tool_id") or ""), str(row["event"])))
    return out


def plan(run_dir: Path, data_dir: Path, log_dir: Path, regulation_id: str, ids: Collection[str]) -> int:
    """Note the person's hourly cells (log and lake) before they are erased; how many."""
    from headwater.lake.erase import person_events
    from headwater.lake.layout import Lake
    from headwater.log.erase import person_lines

    cells = cells_of_log(line for _, line in person_lines(log_dir, ids))
    cells |= cells_of_lake(person_events(Lake(data_dir / "lake"), ids))
    path = plan_path(run_dir, regulation_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(sorted(cells)).encode())
    return len(cells)


def planned(run_dir: Path, regulation_id: str) -> set[Cell]:
    """The cells the plan noted on this host (none when its file is not here)."""
    try:
        noted = json.loads(plan_path(run_dir, regulation_id).read_text())
    except FileNotFoundError:
        return set()
    return {(str(h), str(t), str(e)) for h, t, e in noted}


def person_cells(log_dir: Path, ids: Collection[str]) -> set[Cell]:
    """The cells of the person's lines in one host's log (a cluster host notes its own: privacy/hosts.py)."""
    from headwater.log.erase import person_lines

    return cells_of_log(line for _, line in person_lines(log_dir, ids))


def apply(db: SqlDatabase, run_dir: Path, regulation_id: str, more: Iterable[Cell] = ()) -> dict[str, int]:
    """Subtract the person from the noted cells and hours (this host's plan, and ``more``: the
    other hosts' in a cluster), once."""
    cells = sorted(planned(run_dir, regulation_id) | {(str(h), str(t), str(e)) for h, t, e in more})
    if not cells:
        return {"rows": 0, "hours": 0}
    marker = f"hourly-done:{regulation_id}"
    rows = hours = 0

    def at(hour: str) -> Any:  # as stores/sql/hourly.py keys the hour: a timestamp where native
        return parse_timestamp(hour) if db.dialect.native_timestamps else hour

    with db.tx() as cur:
        cur.execute(db.q("SELECT 1 FROM privacy_settings WHERE name = {p}"), (marker,))
        if cur.fetchone() is not None:
            return {"rows": 0, "hours": 0}
        for hour, tool, event in cells:
            cur.execute(
                db.q(
                    "UPDATE hourly_stats SET unique_users = unique_users - 1"
                    " WHERE hour = {p} AND tool_id = {p} AND event_type = {p} AND unique_users > 0"
                ),
                (at(hour), tool, event),
            )
            rows += int(cur.rowcount or 0)
        for hour in sorted({c[0] for c in cells}):
            cur.execute(
                db.q(
                    "UPDATE hourly_rollups SET unique_users = unique_users - 1"
                    " WHERE hour = {p} AND unique_users > 0"
                ),
                (at(hour),),
            )
            hours += int(cur.rowcount or 0)
        cur.execute(db.q("INSERT INTO privacy_settings(name, value) VALUES ({p}, 'done')"), (marker,))
    return {"rows": rows, "hours": hours}


def finish(db: SqlDatabase, run_dir: Path, regulation_id: str) -> None:
    """The deletion is over: its plan file and marker go."""
    plan_path(run_dir, regulation_id).unlink(missing_ok=True)
    with db.tx() as cur:
        cur.execute(db.q("DELETE FROM privacy_settings WHERE name = {p}"), (f"hourly-done:{regulation_id}",))
