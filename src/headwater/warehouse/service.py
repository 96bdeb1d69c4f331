"""The server's warehouse export: every closed hour, shortly after it closes, with backoff on errors.

One process per deployment exports (the one that runs the schedules); the others report what it
wrote to ``run/warehouse.status.json``, so /readyz shows the same on every worker. An exporter
that fails never makes the collector unready: collection goes on, the log keeps every event, and the
export catches up from the ledger when the warehouse answers again (no gap, no duplicate).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter, Gauge

from headwater.atomic_file import write_atomic
from headwater.config import Settings

log = logging.getLogger("headwater.warehouse")

LAG = Gauge(
    "headwater_warehouse_lag_seconds",
    "Age of the oldest closed hour not exported yet (0: caught up)",
    multiprocess_mode="max",
)
DUE = Gauge("headwater_warehouse_hours_due", "Closed hours not exported yet", multiprocess_mode="max")
ROWS = Counter("headwater_warehouse_rows_exported_total", "Event rows loaded into the warehouse")
REJECTED = Counter("headwater_warehouse_rows_rejected_total", "Rows the warehouse cannot store, set aside")
ERRORS = Counter("headwater_warehouse_export_errors_total", "Failed export attempts (retried)", ["kind"])

FIRST_RETRY = 30.0
MAX_RETRY = 900.0
MISSING_RETRY = 300.0


def backoff(failures: int) -> float:
    """Seconds before the next attempt after ``failures`` failures in a row: 30 s doubling to 15 min."""
    return float(min(MAX_RETRY, FIRST_RETRY * 2 ** max(0, failures - 1)))


class WarehouseExporter:
    name = "warehouse"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.active = settings.runs_schedules
        self.status_file = settings.run_dir / "warehouse.status.json"
        self._task: asyncio.Task[None] | None = None
        self.failures = 0
        self.state = "starting"
        self.last_error: str | None = None
        self.last_sync: str | None = None
        self.lag_seconds = 0.0
        self.hours_due = 0
        self.rows_exported = 0
        self._said_missing: str | None = None

    async def start(self) -> None:
        if self.active:
            self._task = asyncio.create_task(self._loop(), name="warehouse-export")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _details(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "lag_seconds": self.lag_seconds,
            "hours_due": self.hours_due,
            "last_sync": self.last_sync,
            "last_error": self.last_error,
            "rows_exported": self.rows_exported,
        }

    def status(self) -> tuple[bool, dict[str, Any]]:
        if self.active:
            return True, self._details()
        try:
            return True, json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return True, {"state": "starting"}

    def _publish(self) -> None:
        LAG.set(self.lag_seconds)
        DUE.set(self.hours_due)
        with contextlib.suppress(OSError):
            self.settings.run_dir.mkdir(parents=True, exist_ok=True)
            write_atomic(self.status_file, json.dumps(self._details()).encode())

    async def _loop(self) -> None:
        while True:
            wait = await asyncio.to_thread(self.run_once)
            await asyncio.sleep(wait)

    def seconds_to_next_hour(self, now: datetime | None = None) -> float:
        now = now or datetime.now(UTC)
        nxt = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return max(1.0, (nxt - now).total_seconds() + self.settings.warehouse_grace_seconds + 1)

    def run_once(self) -> float:
        """Export what is due; returns the seconds to wait before the next attempt."""
        from headwater.stores.warehouse import open_warehouse
        from headwater.stores.warehouse.ports import WarehouseMissingError, WarehouseUnreachableError
        from headwater.warehouse.export import ExportBusyError, Exporter

        started = time.monotonic()
        try:
            warehouse = open_warehouse(self.settings.warehouse_url)
        except Exception as exc:
            return self._failed("config", str(exc), MISSING_RETRY)
        exporter = Exporter(self.settings, warehouse)
        try:
            report = exporter.sync()
            status = exporter.status()
        except ExportBusyError:
            return 60.0  # a CLI sync or backfill is at it
        except WarehouseMissingError as exc:
            return self._failed("missing", str(exc), MISSING_RETRY)
        except WarehouseUnreachableError as exc:
            self.failures += 1
            return self._failed("unreachable", str(exc), backoff(self.failures))
        except Exception as exc:  # a job that failed (schema mismatch...): reported, retried later
            self.failures += 1
            log.exception("warehouse export failed")
            return self._failed("failed", str(exc), backoff(self.failures))
        finally:
            exporter.close()
            warehouse.close()
        ROWS.inc(report.rows)
        REJECTED.inc(report.rejected)
        self.failures = 0
        self._said_missing = None
        self.state = "ok"
        self.last_error = None
        self.last_sync = datetime.now(UTC).isoformat()
        self.lag_seconds = status["lag_seconds"]
        self.hours_due = status["hours_due"]
        self.rows_exported += report.rows
        self._publish()
        if report.hours and report.rows:
            log.info(
                "warehouse export: %d hours, %d rows in %.1f s",
                report.hours,
                report.rows,
                time.monotonic() - started,
                extra={"rejected": report.rejected},
            )
        return self.seconds_to_next_hour()

    def _failed(self, state: str, message: str, wait: float) -> float:
        ERRORS.labels(state).inc()
        self.state = state
        self.last_error = message
        if state == "missing" or state == "config":
            if self._said_missing != message:  # one clear line, not one per retry
                log.error("warehouse export paused: %s", message)
                self._said_missing = message
        elif state == "unreachable":
            log.warning("warehouse export: %s; retrying in %.0f s", message, wait)
        self._refresh_lag()
        self._publish()
        return wait

    def _refresh_lag(self) -> None:
        """The lag from the ledger alone (the warehouse may not answer)."""
        from headwater.stores.sql.warehouse_ledger import WarehouseLedger
        from headwater.warehouse.hours import hour_text, hours_with_data, ledger_kind

        try:
            ledger = WarehouseLedger(self.settings.effective_database_url)
        except Exception:
            return
        try:
            done = ledger.done_hours(ledger_kind(self.settings.host_in_cluster, "events"))
        finally:
            ledger.close()
        now = datetime.now(UTC)
        limit = (now - timedelta(seconds=self.settings.warehouse_grace_seconds)).replace(
            minute=0, second=0, microsecond=0
        )
        due = [h for h in hours_with_data(self.settings.log_dir) if h < limit and hour_text(h) not in done]
        self.hours_due = len(due)
        self.lag_seconds = round((now - (min(due) + timedelta(hours=1))).total_seconds(), 1) if due else 0.0
