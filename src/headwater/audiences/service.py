"""Audiences inside `headwater serve`: the "audiences" tailer, the enrichment's lookup and its
definitions snapshot (refreshed in a task of its own, never on the request path), and the nightly
recomputation (one process per deployment, after the daily ETL), which also records sizes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from headwater.audiences.definitions import Definitions
from headwater.audiences.lookup import LiveAudienceLookup
from headwater.audiences.metrics import NIGHTLY_DRIFT
from headwater.audiences.nightly import compute, reconcile, report
from headwater.audiences.state import AudienceState
from headwater.audiences.tailer import AUDIENCES_TAILER, AudienceEvent, AudienceTarget
from headwater.batch.schedule import AUDIENCES_AT, seconds_until
from headwater.config import Settings
from headwater.live.service import API_OPTIONS, TAILER_OPTIONS
from headwater.log.tailing.rebuild import Rebuild, RebuildResult
from headwater.log.tailing.service import TailerService
from headwater.log.tailing.tailer import Tailer
from headwater.stores.live.ports import LiveBackend, LiveUnavailableError, StoreOptions
from headwater.stores.sql.audiences import AudienceCatalog

log = logging.getLogger("headwater.audiences")

#: the enrichment's lookup: a bidder's budget is milliseconds (its own timeout bounds the call)
LOOKUP_OPTIONS = StoreOptions(connect_timeout=0.05, socket_timeout=0.1)
#: how often the definitions, settings and keys the enrichment serves are re-read (under
#: Definitions' own second: ``current()`` then never reads the database on the request path)
REFRESH_SECONDS = 0.5


#: the lease of the nightly recompute in a cluster: one host at a time runs it (docs/scale-out.md)
NIGHTLY_JOB = "audiences-nightly"


def recompute_now(
    settings: Settings,
    state: AudienceState,
    definitions: Definitions,
    dry_run: bool = False,
    every_host: bool | None = None,
) -> dict[str, Any]:
    """Recompute every audience exactly, reconcile the live store, report the drift. ``every_host``
    (a cluster's hosts, by default when HEADWATER_CLUSTER is set): the lake's stamps merged with
    those the other hosts' tailers keep in the shared live store (nightly.with_live_stamps)."""
    every_host = settings.cluster if every_host is None else every_host
    compiled = definitions.refresh(force=True).compiled
    result = compute(settings.data_dir, compiled)
    drift = reconcile(state, compiled, result, definitions.catalog, dry_run, every_host)
    if not dry_run:
        for aid, d in drift.items():
            NIGHTLY_DRIFT.labels(aid, "missing").inc(len(d.missing))
            NIGHTLY_DRIFT.labels(aid, "extra").inc(len(d.extra))
    return {**report(result, drift, dry_run), "every_host": every_host}


class AudienceService:
    name = "audiences"

    def __init__(self, settings: Settings, live: LiveBackend, nightly: bool) -> None:
        self.settings = settings
        self.catalog = AudienceCatalog(settings.effective_database_url)
        self.definitions = Definitions(self.catalog)
        self.state = AudienceState.open(live, API_OPTIONS)
        self.lookup = LiveAudienceLookup(live.membership(LOOKUP_OPTIONS), self.definitions)
        self.nightly = nightly
        self.last_report: dict[str, Any] | None = None
        self.last_error: str | None = None
        self._tasks: list[asyncio.Task[None]] = []

        def open_target() -> tuple[AudienceTarget, Callable[[], None]]:
            checkpoints = live.counters(TAILER_OPTIONS)
            checkpoints.ping()
            state = AudienceState.open(live, TAILER_OPTIONS)

            def close() -> None:
                checkpoints.close()
                state.close()

            return AudienceTarget(state, checkpoints, self.definitions), close

        self.tailer = TailerService(
            AUDIENCES_TAILER,
            settings.log_dir,
            settings.run_dir,
            open_target,
            AudienceEvent,
            rebuild=rebuild_audiences(settings, live, self.definitions),
            checkpoint_name=settings.checkpoint_name(AUDIENCES_TAILER),
        )

    async def start(self) -> None:
        await self.tailer.start()
        self._tasks.append(asyncio.create_task(self._refresh_loop(), name="audiences-refresh"))
        if self.nightly:
            self._tasks.append(asyncio.create_task(self._nightly_loop(), name="audiences-nightly"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.tailer.stop()
        await self.lookup.membership.aclose()
        self.lookup.membership.close()
        self.state.close()
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
        membership = self.state.membership
        try:
            return await asyncio.wait_for(asyncio.to_thread(membership.audience_size, audience_id), 0.1)
        except TimeoutError:
            raise LiveUnavailableError(f"live store {membership.url} did not answer within 100 ms") from None

    async def recompute(self, dry_run: bool = False) -> dict[str, Any]:
        result = await asyncio.to_thread(recompute_now, self.settings, self.state, self.definitions, dry_run)
        if not dry_run:
            self.last_report = result
        return result

    async def _refresh_loop(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.definitions.refresh)
            except Exception as exc:  # refresh() keeps the last snapshot itself; never end the loop
                log.warning("enrichment settings not refreshed: %s", exc)
            await asyncio.sleep(REFRESH_SECONDS)

    def _recompute_held(self) -> dict[str, Any] | None:
        """The cluster's nightly run: under its lease (None: another host runs it now)."""
        from headwater.cluster.jobs import job_lease

        with job_lease(self.settings, NIGHTLY_JOB) as held:
            if held is None:
                return None
            result = recompute_now(self.settings, self.state, self.definitions)
            self.last_report = result
            return result

    async def _nightly_loop(self) -> None:
        while True:
            await asyncio.sleep(self.seconds_to_next_run())
            try:
                if self.settings.cluster:  # every host wakes; the one that takes the lease runs it
                    held = await asyncio.to_thread(self._recompute_held)
                    if held is None:
                        log.info("nightly audience recompute: another host runs it")
                        continue
                    result = held
                else:
                    result = await self.recompute()
                self.last_error = None
                log.info("nightly audience recompute: drift %s", result["drift"], extra=result["seconds"])
            except Exception as exc:  # reported in /readyz, retried next night
                self.last_error = str(exc)
                log.exception("nightly audience recompute failed")


def rebuild_audiences(settings: Settings, live: LiveBackend, definitions: Definitions) -> Rebuild:
    """Forget every membership, stamp and id mapping and the audiences tailer's checkpoint, then
    apply the log again; called with the audiences tailer's lock held."""

    def rebuild(
        from_day: date | None, stop: threading.Event, on_step: Callable[[Tailer[Any]], None] | None
    ) -> RebuildResult:
        from headwater.collector.suppression import SuppressedIds, suppression_list
        from headwater.collector.unsuppressed import Unsuppressed

        checkpoints = live.counters(TAILER_OPTIONS)
        state = AudienceState.open(live, TAILER_OPTIONS)
        try:
            state.membership.reset()
            state.ids.reset()
            checkpoints.forget_checkpoint(AUDIENCES_TAILER)
            suppressed = SuppressedIds(*suppression_list(settings.effective_database_url))
            target = Unsuppressed(AudienceTarget(state, checkpoints, definitions), suppressed)
            tailer = Tailer(AUDIENCES_TAILER, settings.log_dir, target, AudienceEvent, on_step=on_step)
            tailer.run(stop, until_caught_up=True, max_backoff=1.0, max_failures=10)
        finally:
            checkpoints.close()
            state.close()
        st = tailer.status
        return RebuildResult(st.applied_events - target.skipped, st.rejected_lines, target.skipped)

    return rebuild
