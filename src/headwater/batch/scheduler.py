"""The `headwater serve` background service that runs the daily ETL shortly after midnight in the
project time zone, and catches up on every complete received day not loaded yet at start.

Only one worker runs it (worker 0, or the single worker); the ETL also takes a file lock on the
lake, so a cron job or a CLI run at the same moment waits instead of colliding.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from headwater.batch.archive import apply_retention
from headwater.batch.etl import days_to_load, run_daily
from headwater.batch.holds import not_exported, retention_holds
from headwater.batch.schedule import ETL_AT, seconds_until
from headwater.cluster.turn import TURN_SECONDS, take_turn
from headwater.config import Settings
from headwater.shipping.parts import seconds_to_next_part

log = logging.getLogger("headwater.batch")

RETRY_SECONDS = 3600.0


class EtlScheduler:
    name = "etl_scheduler"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._task: asyncio.Task[None] | None = None
        self.last_run: str | None = None
        self.last_error: str | None = None
        self.loaded_days = 0
        self.cluster: dict[str, Any] | None = None  # the last cluster turn (docs/scale-out.md)
        #: what the host says of itself at each cluster turn besides its files (the tailers' lag)
        self.host_info: Callable[[], dict[str, Any]] | None = None
        self.upgrade_hint: str | None = None  # the lake has files written before the derived columns

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="etl-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def status(self) -> tuple[bool, dict[str, Any]]:
        # The ETL failing never makes the collector unready: it reports, and retries.
        return True, {
            "last_run": self.last_run,
            "last_error": self.last_error,
            "loaded_days": self.loaded_days,
            **({"lake_upgrade": self.upgrade_hint} if self.upgrade_hint else {}),
            **({"cluster": self.cluster} if self.settings.cluster else {}),
        }

    async def _loop(self) -> None:
        while True:
            if self.settings.cluster:  # every few minutes, on every host (docs/scale-out.md)
                await asyncio.to_thread(self.run_cluster_turn)
                await asyncio.sleep(TURN_SECONDS)
                continue
            ok = await asyncio.to_thread(self.run_once)
            due = time.monotonic() + (self.seconds_to_next_run() if ok else RETRY_SECONDS)
            # with an object store, today's files are shipped hour by hour in between
            shipping = bool(self.settings.object_store_url)
            while shipping and (wait := seconds_to_next_part()) < due - time.monotonic():
                await asyncio.sleep(wait)
                await asyncio.to_thread(self._ship)
            await asyncio.sleep(max(0.0, due - time.monotonic()))

    def run_cluster_turn(self) -> bool:
        """A cluster host's turn: ship, then run the pipeline under its lease or pull the lake; the
        retention of its own raw log after."""
        settings = self.settings
        now = datetime.now(UTC)
        try:
            report = take_turn(settings, now, self.host_info)
        except Exception as exc:
            self.last_error = f"cluster: {exc}"
            log.exception("cluster turn failed")
            return False
        self.cluster = report.as_dict()
        errors = dict(report.errors)
        if report.pipeline is not None:
            self.loaded_days += len(report.pipeline["loaded"])
            if not self._refresh_cohorts():
                errors["cohorts"] = self.last_error or ""
        try:
            apply_retention(
                settings.data_dir, settings.raw_retention_days, now.date(), retention_holds(settings)
            )
        except Exception as exc:
            errors["retention"] = str(exc)
            log.exception("raw log retention failed")
        self.last_run = now.isoformat()
        self.last_error = "; ".join(f"{k}: {v}" for k, v in sorted(errors.items())) or None
        return not errors

    def seconds_to_next_run(self, now: datetime | None = None) -> float:
        return seconds_until(ETL_AT, self.settings.timezone, now)

    def run_once(self) -> bool:
        """Load every complete received day not in the lake; then apply raw-log retention."""
        settings = self.settings
        today = datetime.now(UTC).date()
        ok = True
        for day in days_to_load(settings.data_dir, today):
            try:
                result = run_daily(settings.data_dir, day, settings.timezone)
            except Exception as exc:  # reported in /readyz and the log, retried later
                ok = False
                self.last_error = f"{day}: {exc}"
                log.exception("daily ETL of %s failed", day)
                continue
            self.loaded_days += 1
            log.info("daily ETL loaded %s", day, extra=result.as_dict())
        if settings.object_store_url:  # log shipping, before retention reads what it shipped
            ok = self._ship() and ok
        self._hint_upgrade()
        ok = self._refresh_cohorts() and ok
        keep = settings.raw_retention_days
        try:
            deleted = apply_retention(settings.data_dir, keep, today, retention_holds(settings))
            if deleted:
                log.info("retention deleted %d raw log files", len(deleted))
        except Exception as exc:
            ok = False
            self.last_error = f"retention: {exc}"
            log.exception("raw log retention failed")
        try:  # the lake's, the quarantine's and per-event retention (docs/privacy.md)
            from headwater.privacy.retention import apply_privacy_retention

            removed = apply_privacy_retention(settings, today)
            if removed:
                log.info("retention removed %s", ", ".join(sorted(removed)), extra=removed)
        except Exception as exc:
            ok = False
            self.last_error = f"privacy retention: {exc}"
            log.exception("retention of the lake or the quarantine failed")
        self.last_run = datetime.now(UTC).isoformat()
        if ok:
            self.last_error = None
        return ok

    def _hint_upgrade(self) -> None:
        """Say once per server, and in /readyz, when the lake has files written before the derived
        columns: `headwater etl upgrade` is the user's to run (a rewrite of the lake is not sprung
        on them: docs/insights.md, "Upgrading a lake")."""
        from headwater.lake.layout import Lake
        from headwater.lake.upgrade import upgrade_hint

        try:
            hint = upgrade_hint(Lake(self.settings.data_dir / "lake"))
        except Exception:  # only advice: a lake it cannot read is the ETL's to report
            return
        if hint is not None and hint != self.upgrade_hint:
            log.warning(hint)
        self.upgrade_hint = hint

    def _refresh_cohorts(self) -> bool:
        """The cohorts in use, computed again over the night's lake (docs/insights.md, Cohorts)."""
        from headwater.insights.cohorts import refresh_used

        try:
            done = refresh_used(self.settings.data_dir, self.settings.effective_database_url)
        except Exception as exc:  # reported in /readyz and the log; an insight computes them meanwhile
            self.last_error = f"cohorts: {exc}"
            log.exception("cohort members not refreshed")
            return False
        if done:
            log.info("cohort members refreshed: %s", ", ".join(sorted(done)))
        return True

    def _ship(self) -> bool:
        """Ship closed log segments to object storage (docs/scale-out.md); errors are retried later."""
        from headwater.shipping.service import ship

        try:
            report = ship(self.settings, datetime.now(UTC), still_needed=not_exported(self.settings))
        except Exception as exc:
            self.last_error = f"shipping: {exc}"
            log.exception("log shipping failed")
            return False
        log.info("shipped %d log files, deleted %d", len(report.uploaded), len(report.deleted))
        if report.errors:
            self.last_error = "shipping: " + "; ".join(f"{k}: {v}" for k, v in sorted(report.errors.items()))
        return not report.errors


__all__ = ["EtlScheduler", "not_exported"]
