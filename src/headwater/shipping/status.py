"""``headwater ship status``: what is shipped, what waits and why, and the lag."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from headwater.batch.holds import Hold
from headwater.config import Settings
from headwater.log.files import list_log_files
from headwater.shipping.manifest import KINDS, Manifest
from headwater.shipping.rules import closes_at, is_closed, keep_reason
from headwater.stores.objects.ports import ObjectStore, ObjectStoreError


def shipping_status(
    settings: Settings, store: ObjectStore, now: datetime | None = None, still_needed: Hold | None = None
) -> dict[str, Any]:
    """Every local log file with its state (open, waiting, shipped) and why; the files shipped and
    gone from this disk; the lag: how long the oldest closed file not shipped has been closed."""
    now = now or datetime.now(UTC)
    out: dict[str, Any] = {"store": store.display, "now": now.isoformat(), "error": None}
    try:
        entries = Manifest(store, settings).load().entries
    except ObjectStoreError as exc:
        out["error"] = str(exc)
        entries = {}
    files: list[dict[str, Any]] = []
    oldest_waiting: datetime | None = None
    local = set()
    for kind in KINDS:
        for lf in list_log_files(settings.log_dir, kind):
            local.add(lf.name)
            try:
                size = lf.path.stat().st_size
            except FileNotFoundError:
                continue
            row: dict[str, Any] = {"name": lf.name, "kind": kind, "day": lf.day.isoformat(), "bytes": size}
            entry = entries.get(lf.name)
            if not is_closed(lf.day, now):
                row.update(state="open", why=f"closes at {closes_at(lf.day):%Y-%m-%dT%H:%M}Z")
            elif entry is None or not entry.matches(lf):
                row.update(
                    state="waiting", why="not shipped yet" if entry is None else "changed since shipped"
                )
                closed = closes_at(lf.day)
                oldest_waiting = closed if oldest_waiting is None else min(oldest_waiting, closed)
            else:
                why = keep_reason(settings, kind, lf.day, now, still_needed)
                row.update(state="shipped", why=f"kept: {why}" if why else "deleted at the next run")
            files.append(row)
    gone = [e for e in entries.values() if e.name not in local]
    out["files"] = files
    out["shipped_elsewhere"] = {
        "files": len(gone),
        "bytes": sum(e.size for e in gone),
        "hosts": sorted({e.host for e in gone}),
    }
    out["shipped"] = sum(1 for f in files if f["state"] == "shipped")
    out["waiting"] = sum(1 for f in files if f["state"] == "waiting")
    out["open"] = sum(1 for f in files if f["state"] == "open")
    out["oldest_waiting"] = oldest_waiting.isoformat() if oldest_waiting else None
    out["lag_seconds"] = round((now - oldest_waiting).total_seconds()) if oldest_waiting else 0
    return out
