"""Wiring of audiences into `headwater serve`: the "audiences" tailer, the enrichment lookup, and
the nightly recomputation (worker 0 only, after the daily ETL), which also records sizes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from headwater.audiences.definitions import Definitions
from headwater.audiences.lookup import LiveAudienceLookup, open_reader
from headwater.audiences.metrics import NIGHTLY_DRIFT
from headwater.audiences.nightly import compute, reconcile, report
from headwater.audiences.state import AudienceState, open_state
from headwater.audiences.tailer import AUDIENCES_TAILER, AudienceEvent, AudienceTarget
from headwater.batch.schedule import AUDIENCES_AT, seconds_until
from headwater.config import Settings
from headwater.live.service import API_OPTIONS, TAILER_OPTIONS
from headwater.log.tailing.service import TailerService
from headwater.stores.live import LiveUnavailableError, open_live_store
from headwater.stores.sql.audiences import AudienceCatalog

if TYPE_CHECKING:
    from headwater.server.app import Runtime

log = logging.getLogger("headwater.audiences")


def recompute_now(
    settings: Settings, state: AudienceState, definitions: Definitions, dry_run: bool = False
) -> dict[str, Any]:
    """Recompute every audience exactly, reconcile the live store, report the drift."""
    compiled = definitions.refresh(force=True).compiled
    result = compute(settings.data_dir, compiled)
    drift = reconcile(state, compiled, result, definitions.catalog, dry_run)
    if not dry_run:
        for aid, d in drift.items():
            NIGHTLY_DRIFT.labels(aid, "missing").inc(len(d.missing))
            NIGHTLY_DRIFT.labels(aid, "extra").inc(len(d.extra))
    return report(result, drift, dry_run)


class AudienceService:
    name = "audiences"

    def __init__(self, settings: Settings, nightly: bool) -> None:
        self.settings = settings
        self.catalog = AudienceCatalog(settings.effective_database_url)
        self.definitions = Definitions(self.catalog)
        self.state = open_state(open_live_store(settings.redis_url, API_OPTIONS))
        self.reader = open_reader(self.state)
        self.lookup = LiveAudienceLookup(self.reader, self.definitions)
        self.nightly = nightly
        self.last_report: dict[str, Any] | None = None
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None
        url = settings.redis_url

        def open_target() -> tuple[AudienceTarget, Callable[[], None]]:
            store = open_live_store(url, TAILER_OPTIONS)
            store.ping()
            return AudienceTarget(open_state(store), self.definitions), store.close

        self.tailer = TailerService(
            AUDIENCES_TAILER, settings.log_dir, settings.run_dir, open_target, AudienceEvent
        )

    async def start(self) -> None:
        await self.tailer.start()
        if self.nightly:
            self._task = asyncio.create_task(self._loop(), name="audiences-nightly")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.tailer.stop()
        await self.reader.close()
        self.catalog.close()

    def status(self) -> tuple[bool, dict[str, Any]]:
        _, details = self.tailer.status()
        details["nightly_last_error"] = self.last_error
        if self.definitions.last_error:
            details["catalog_error"] = self.definitions.last_error
        return True, details

    def seconds_to_next_run(self, now: datetime | None = None) -> float:
        return seconds_until(AUDIENCES_AT, self.settings.timezone, now)

    async def lookup_size(self, audience_id: str) -> int:
        """The live member count (LiveUnavailableError when the store does not answer in 100 ms)."""
        store = self.state.store
        try:
            return await asyncio.wait_for(asyncio.to_thread(store.audience_size, audience_id), 0.1)
        except TimeoutError:
            raise LiveUnavailableError(f"live store {store.url} did not answer within 100 ms") from None

    async def recompute(self, dry_run: bool = False) -> dict[str, Any]:
        result = await asyncio.to_thread(recompute_now, self.settings, self.state, self.definitions, dry_run)
        if not dry_run:
            self.last_report = result
        return result

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.seconds_to_next_run())
            try:
                result = await self.recompute()
                self.last_error = None
                log.info("nightly audience recompute: drift %s", result["drift"], extra=result["seconds"])
            except Exception as exc:  # reported in /readyz, retried next night
                self.last_error = str(exc)
                log.exception("nightly audience recompute failed")


def audiences_factory(rt: Runtime) -> AudienceService:
    settings = rt.settings
    first = settings.runs_schedules
    return AudienceService(settings, nightly=first)


def find_service(services: list[Any]) -> AudienceService | None:
    return next((s for s in services if isinstance(s, AudienceService)), None)
