"""The hourly export, exactly once: each received hour of the log replaces its own rows.

For one hour H: the hour's lines go to Parquet (headwater.warehouse.rows); the ledger marks H
``loading`` and widens the dates its rows were ever written under; a load job puts the file into a
staging table (WRITE_TRUNCATE); then one multi-statement transaction deletes the rows exported
earlier with H (``export_hour = H`` on those dates: partitions pruned), inserts the staged rows and
rewrites ``hourly_stats`` for every hour of event time H touched, before and after; only after its
commit is H ``done``. A crash at any point leaves H ``loading`` or ``done``: exported again, the
hour replaces itself, so a row is never added twice. Job ids are deterministic (hour and attempt)
and labelled, but correctness never rests on them. The same id resent in another hour is a second
row of ``events``; everything that counts reads one row per id (``events_deduped``, hourly_stats).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from headwater.config import Settings
from headwater.log.files import LogKind
from headwater.log.lock import FileLock
from headwater.stores.sql.warehouse_ledger import WarehouseLedger
from headwater.stores.warehouse.ports import Warehouse, WarehouseError
from headwater.warehouse import schema
from headwater.warehouse.hours import (
    copy_ranges,
    floor_hour,
    hour_ranges,
    hour_text,
    hours_with_data,
    ledger_kind,
    parse_hour,
)

log = logging.getLogger("headwater.warehouse")

EVENTS: LogKind = "events"
DECISIONS: LogKind = "decisions"


class ExportBusyError(RuntimeError):
    """Another process is exporting right now."""


@dataclass
class SyncReport:
    hours: int = 0
    rows: int = 0
    rejected: int = 0
    seconds: float = 0.0
    identities: int = 0
    decisions: int = 0
    exported: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "hours": self.hours,
            "rows": self.rows,
            "rejected": self.rejected,
            "identities": self.identities,
            "decisions": self.decisions,
            "seconds": round(self.seconds, 3),
            "exported": self.exported,
        }


def _labels(kind: str, hour: datetime) -> dict[str, str]:
    return {"headwater": "export", "table": kind, "hour": hour.strftime("%Y%m%d%H")}


class Exporter:
    """Exports the log of ``settings.data_dir`` to the warehouse; one at a time per data folder."""

    def __init__(
        self, settings: Settings, warehouse: Warehouse, ledger: WarehouseLedger | None = None
    ) -> None:
        self.settings = settings
        self.warehouse = warehouse
        self.ledger = ledger or WarehouseLedger(settings.effective_database_url)
        self._own_ledger = ledger is None
        self._prepared = False
        #: in a cluster each host exports its own log: its rows carry its name, its ledger rows too
        self.host = settings.host_in_cluster
        self.events_kind = ledger_kind(self.host, EVENTS)
        self.decisions_kind = ledger_kind(self.host, DECISIONS)

    def close(self) -> None:
        if self._own_ledger:
            self.ledger.close()

    # -- tables -----------------------------------------------------------------------------------

    def init(self, location: str | None = None) -> bool:
        """Create the dataset (if missing), every table and view; True when the dataset was created."""
        created = self.warehouse.ensure_dataset(location)
        self._prepared = False
        self.prepare()
        return created

    def prepare(self) -> None:
        """Check the dataset and bring the tables up to date (once per exporter)."""
        if self._prepared:
            return
        self.warehouse.check()
        for spec in (
            schema.EVENTS_SPEC,
            schema.EVENTS_STAGE_SPEC,
            schema.HOURLY_STATS_SPEC,
            schema.IDENTITIES_SPEC,
            schema.DECISIONS_SPEC,
            schema.DECISIONS_STAGE_SPEC,
        ):
            self.warehouse.ensure_table(spec)
        events = self.warehouse.table(schema.EVENTS)
        self.warehouse.ensure_view(schema.EVENTS_DEDUPED, schema.events_deduped_sql(events))
        self._prepared = True

    # -- what is due ------------------------------------------------------------------------------

    def due(
        self, include_current: bool = False, now: datetime | None = None, kind: LogKind = EVENTS
    ) -> list[datetime]:
        """Hours of the log not exported yet (closed ones; with include_current, up to now's hour)."""
        now = now or datetime.now(UTC)
        limit = floor_hour(now) + timedelta(hours=1) if include_current else self._closed_limit(now)
        done = self.ledger.done_hours(ledger_kind(self.host, kind))
        return [
            h for h in hours_with_data(self.settings.log_dir, kind) if h < limit and hour_text(h) not in done
        ]

    def _closed_limit(self, now: datetime) -> datetime:
        """The first hour not closed yet: an hour is closed grace seconds after its end."""
        return floor_hour(now - timedelta(seconds=self.settings.warehouse_grace_seconds))

    # -- the export -------------------------------------------------------------------------------

    def sync(
        self,
        include_current: bool = False,
        hours: list[datetime] | None = None,
        progress: Callable[[int, int], None] | None = None,
        now: datetime | None = None,
    ) -> SyncReport:
        """Export every due hour (or ``hours``) and the identity map; returns when all is loaded."""
        lock = FileLock(self.settings.run_dir / "warehouse-export.lock")
        if not lock.try_acquire():
            raise ExportBusyError(
                f"another process (pid {lock.holder()}) is exporting to the warehouse now: wait for it,"
                " or see `headwater warehouse status`"
            )
        try:
            return self._sync(include_current, hours, progress, now or datetime.now(UTC))
        finally:
            lock.release()

    def _sync(
        self,
        include_current: bool,
        hours: list[datetime] | None,
        progress: Callable[[int, int], None] | None,
        now: datetime,
    ) -> SyncReport:
        started = time.monotonic()
        self.prepare()
        todo = self.due(include_current, now) if hours is None else sorted(hours)
        report = SyncReport()
        tmp = Path(tempfile.mkdtemp(prefix="warehouse-", dir=self._tmp_root()))
        try:
            idmap = tmp / "identities.parquet"
            report.identities = self._export_identities(idmap, tmp)
            closed = self._closed_limit(now)
            for i, hour in enumerate(todo):
                if progress:
                    progress(i, len(todo))
                done = self.export_hour(hour, idmap if idmap.exists() else None, tmp, final=hour < closed)
                report.hours += 1
                report.rows += done["rows"]
                report.rejected += done["rejected"]
                if done["rows"] or done["rejected"]:
                    report.exported.append(done)
            for hour in self.due(include_current, now, DECISIONS) if hours is None else sorted(hours):
                done = self.export_decisions_hour(hour, tmp, final=hour < closed)
                report.decisions += done["rows"]
            if progress:
                progress(len(todo), len(todo))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        report.seconds = time.monotonic() - started
        return report

    def _tmp_root(self) -> Path:
        root = self.settings.run_dir / "warehouse-tmp"
        root.mkdir(parents=True, exist_ok=True)
        return root

    def _export_identities(self, target: Path, tmp: Path) -> int:
        """The identity map as the lake resolves it now (lake map + links of the log not loaded yet),
        replacing the ``identities`` table."""
        from headwater.warehouse.identities import write_identity_map

        count = write_identity_map(self.settings.data_dir, target, tmp)
        if count == 0 and not self._had_identities():
            return 0
        self.warehouse.load_parquet(
            schema.IDENTITIES,
            target,
            job_id=f"hw_identities_{datetime.now(UTC):%Y%m%d%H%M%S}",
            labels={"headwater": "export", "table": "identities"},
            replace=True,
        )
        return count

    def _had_identities(self) -> bool:
        rows = self.warehouse.query(
            f"SELECT count(*) AS n FROM {self.warehouse.table(schema.IDENTITIES)}"
        ).rows
        return bool(rows and rows[0]["n"])

    def export_hour(
        self, hour: datetime, idmap: Path | None, tmp: Path, final: bool = True
    ) -> dict[str, Any]:
        """Export one received hour (replacing what it exported before)."""
        from headwater.warehouse.rows import HourFile, write_hour

        key = hour_text(hour)
        t0 = time.monotonic()
        source = tmp / f"hour-{hour:%Y%m%d%H}.jsonl"
        ranges = list(hour_ranges(self.settings.log_dir, hour))
        out = HourFile(None)  # no line near the hour: nothing to read
        if ranges:
            copy_ranges(ranges, source)
            target = tmp / f"hour-{hour:%Y%m%d%H}.parquet"
            out = write_hour(source, hour, key, idmap, target, tmp, self.host)
            source.unlink(missing_ok=True)
        result: dict[str, Any] = {"hour": key, "rows": out.rows, "rejected": len(out.rejects)}
        result["prepare_s"] = round(time.monotonic() - t0, 3)
        previous = self.ledger.get(self.events_kind, key)
        if out.rows == 0 and (previous is None or previous.first_day is None):
            # nothing now, nothing ever: no need to touch the warehouse
            self.ledger.begin(self.events_kind, key, None, None)
            self.ledger.reject(self.events_kind, key, out.rejects)
            self.ledger.done(self.events_kind, key, 0, len(out.rejects), "done" if final else "partial")
            return result
        days = self.ledger.begin(self.events_kind, key, out.first_day, out.last_day)
        assert days is not None
        attempt = previous.attempts + 1 if previous else 1
        try:
            t1 = time.monotonic()
            if out.path is not None:
                self.warehouse.load_parquet(
                    schema.EVENTS_STAGE,
                    out.path,
                    job_id=f"hw_events_{hour:%Y%m%d%H}_{attempt}_load",
                    labels=_labels(EVENTS, hour),
                    replace=True,
                )
            t2 = time.monotonic()
            self._apply(hour, days, out.hours, staged=out.path is not None, attempt=attempt)
            result["load_s"], result["apply_s"] = round(t2 - t1, 3), round(time.monotonic() - t2, 3)
        except WarehouseError as exc:
            self.ledger.failed(self.events_kind, key, str(exc))
            raise
        self.ledger.reject(self.events_kind, key, out.rejects)
        self.ledger.done(self.events_kind, key, out.rows, len(out.rejects), "done" if final else "partial")
        if out.path is not None:
            out.path.unlink(missing_ok=True)
        return result

    def _apply(
        self, hour: datetime, days: tuple[str, str], new_hours: list[str], staged: bool, attempt: int
    ) -> None:
        """The transaction that replaces the hour's rows and the hourly_stats it touches."""
        wh = self.warehouse
        events, stage = wh.table(schema.EVENTS), wh.table(schema.EVENTS_STAGE)
        stats, identities = wh.table(schema.HOURLY_STATS), wh.table(schema.IDENTITIES)
        key = hour_text(hour)
        at = f"TIMESTAMP '{key.replace('T', ' ').replace('Z', '')}'"
        in_days = f"DATE(timestamp) BETWEEN DATE '{days[0]}' AND DATE '{days[1]}'"
        # the event hours the earlier export of this hour wrote into (their stats change too)
        old = wh.query(
            f"SELECT DISTINCT TIMESTAMP_TRUNC(timestamp, HOUR) AS h FROM {events}"
            f" WHERE export_hour = {at} AND {self._mine()} AND {in_days}"
        ).rows
        touched = sorted({*new_hours, *(r["h"].strftime("%Y-%m-%dT%H:00:00Z") for r in old)})
        columns = ", ".join(schema.EVENT_COLUMN_NAMES)
        parsed = ", ".join(
            f"PARSE_JSON({c}, wide_number_mode => 'round')" if c in ("properties", "traits", "context") else c
            for c in schema.EVENT_COLUMN_NAMES
        )
        statements = [
            "BEGIN TRANSACTION",
            f"DELETE FROM {events} WHERE export_hour = {at} AND {self._mine()} AND {in_days}",
        ]
        if staged:
            statements.append(f"INSERT INTO {events} ({columns}) SELECT {parsed} FROM {stage}")
        if touched:
            stat_days = (min(min(touched)[:10], days[0]), max(max(touched)[:10], days[1]))
            listed = ", ".join(f"TIMESTAMP '{h.replace('T', ' ').replace('Z', '')}'" for h in touched)
            deduped = f"({schema.deduped_range_sql(events, stat_days)})"
            statements.append(
                f"DELETE FROM {stats} WHERE hour IN ({listed})"
                f" AND DATE(hour) BETWEEN DATE '{stat_days[0]}' AND DATE '{stat_days[1]}'"
            )
            statements.append(
                f"INSERT INTO {stats} (hour, tool_id, event_type, unique_users, total_events) "
                + schema.hourly_stats_sql(
                    deduped, identities, [h.replace("T", " ").replace("Z", "") for h in touched], stat_days
                )
            )
        statements.append("COMMIT TRANSACTION")
        wh.run_script(
            ";\n".join(statements) + ";",
            job_id=f"hw_events_{hour:%Y%m%d%H}_{attempt}_apply",
            labels=_labels(EVENTS, hour),
        )

    def _mine(self) -> str:
        """The rows this host's exports wrote (rows of an older version have no host: one host's)."""
        return f"COALESCE(export_host, '') = '{self.host}'"

    def export_decisions_hour(self, hour: datetime, tmp: Path, final: bool = True) -> dict[str, Any]:
        """Export one hour of the OpenRTB decision log into openrtb_decisions (replacing it)."""
        from headwater.warehouse.decisions import write_decisions_hour
        from headwater.warehouse.rows import HourFile

        key = hour_text(hour)
        source = tmp / f"decisions-{hour:%Y%m%d%H}.jsonl"
        ranges = list(hour_ranges(self.settings.log_dir, hour, DECISIONS, "timestamp"))
        out = HourFile(None)
        if ranges:
            copy_ranges(ranges, source)
            target = tmp / f"decisions-{hour:%Y%m%d%H}.parquet"
            out = write_decisions_hour(source, hour, key, target, tmp, self.host)
            source.unlink(missing_ok=True)
        previous = self.ledger.get(self.decisions_kind, key)
        state = "done" if final else "partial"
        if out.rows == 0 and (previous is None or previous.first_day is None):
            self.ledger.begin(self.decisions_kind, key, None, None)
            self.ledger.done(self.decisions_kind, key, 0, 0, state)
            return {"hour": key, "rows": 0}
        days = self.ledger.begin(self.decisions_kind, key, out.first_day, out.last_day)
        assert days is not None
        attempt = previous.attempts + 1 if previous else 1
        wh = self.warehouse
        table, stage = wh.table(schema.DECISIONS), wh.table(schema.DECISIONS_STAGE)
        at = f"TIMESTAMP '{key.replace('T', ' ').replace('Z', '')}'"
        statements = [
            "BEGIN TRANSACTION",
            f"DELETE FROM {table} WHERE export_hour = {at} AND {self._mine()}"
            f" AND DATE(timestamp) BETWEEN DATE '{days[0]}' AND DATE '{days[1]}'",
        ]
        columns = ", ".join(c.name for c in schema.DECISIONS_COLUMNS)
        try:
            if out.path is not None:
                wh.load_parquet(
                    schema.DECISIONS_STAGE,
                    out.path,
                    job_id=f"hw_decisions_{hour:%Y%m%d%H}_{attempt}_load",
                    labels=_labels(DECISIONS, hour),
                    replace=True,
                )
                statements.append(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage}")
            statements.append("COMMIT TRANSACTION")
            wh.run_script(
                ";\n".join(statements) + ";",
                job_id=f"hw_decisions_{hour:%Y%m%d%H}_{attempt}_apply",
                labels=_labels(DECISIONS, hour),
            )
        except WarehouseError as exc:
            self.ledger.failed(self.decisions_kind, key, str(exc))
            raise
        self.ledger.done(self.decisions_kind, key, out.rows, 0, state)
        if out.path is not None:
            out.path.unlink(missing_ok=True)
        return {"hour": key, "rows": out.rows}

    # -- re-exports and status --------------------------------------------------------------------

    def backfill(
        self, first: date, last: date, progress: Callable[[int, int], None] | None = None
    ) -> SyncReport:
        """Export every hour of UTC days first..last again (replacing what they exported)."""
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
        now = datetime.now(UTC)
        limit = min(end, floor_hour(now) + timedelta(hours=1))
        hours = []
        h = start
        while h < limit:
            hours.append(h)
            h += timedelta(hours=1)
        return self.sync(hours=hours, progress=progress)

    def status(self, now: datetime | None = None) -> dict[str, Any]:
        from headwater.warehouse.status import export_status

        return export_status(self, now or datetime.now(UTC))


def hours_of(texts: list[str]) -> list[datetime]:
    return [parse_hour(t) for t in texts]
