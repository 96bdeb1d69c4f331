"""`headwater warehouse status` and /readyz's warehouse check: what the export ledger says of the
hours exported, due, failed and rejected (this host's, in a cluster)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from headwater.config import Settings
from headwater.stores.sql.warehouse_ledger import WarehouseLedger
from headwater.stores.warehouse.ports import Warehouse
from headwater.warehouse.hours import has_lines, hour_text


class ExporterState(Protocol):
    """What the status reads of an exporter (headwater.warehouse.export.Exporter)."""

    settings: Settings
    ledger: WarehouseLedger
    warehouse: Warehouse
    events_kind: str

    def due(self, include_current: bool = False, now: datetime | None = None) -> list[datetime]: ...


def export_status(exporter: ExporterState, now: datetime) -> dict[str, Any]:
    rows = exporter.ledger.rows()
    due = [h for h in exporter.due(False, now) if has_lines(exporter.settings.log_dir, h)]
    done = [r for r in rows if r.state in ("done", "partial") and r.kind == exporter.events_kind]
    last_error = next(
        (r.error for r in sorted(rows, key=lambda r: r.started_at, reverse=True) if r.error), None
    )
    oldest_due = min(due) if due else None
    lag = (now - (oldest_due + timedelta(hours=1))).total_seconds() if oldest_due else 0.0
    return {
        "warehouse": exporter.warehouse.display,
        "hours_exported": len(done),
        "hours_with_rows": sum(1 for r in done if r.rows_loaded),
        "open_hour_exported": any(r.state == "partial" for r in done),
        "hours_due": len(due),
        "oldest_due": hour_text(oldest_due) if oldest_due else None,
        "lag_seconds": max(0.0, round(lag, 1)),
        "rows_loaded": sum(r.rows_loaded for r in done),
        "rows_rejected": exporter.ledger.reject_count(),
        "last_error": last_error,
        "ledger": [
            {
                "kind": r.kind,
                "hour": r.hour,
                "state": r.state,
                "rows": r.rows_loaded,
                "rejected": r.rows_rejected,
                "attempts": r.attempts,
                "finished_at": r.finished_at,
                "error": r.error,
            }
            for r in rows
            if r.rows_loaded or r.error or r.state != "done" or r.rows_rejected
        ],
        "rejects": exporter.ledger.rejects(limit=20),
    }
