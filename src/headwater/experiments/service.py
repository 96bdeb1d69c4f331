"""Experiments inside `headwater serve`: the definitions cache, the live store handle and the assigner.

Definitions are read from the realtime store at start and every second after (a thread), so a
change made through the CLI or another worker is served within a second; a write through this
worker's admin API refreshes at once. The live store is called with short timeouts; when it fails,
assignment answers 503 for a second (a breaker) instead of serving unsticky, unlogged variations.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from headwater.config import Settings
from headwater.experiments.live_sticky import LiveStickyBucketStore, StickyRestoring
from headwater.experiments.model import Experiment
from headwater.experiments.serving import Assigner, ExposureSink, Served, Visitor
from headwater.experiments.sticky_restore import StickyRestorer
from headwater.experiments.validation import ExperimentInvalid, parse_experiment
from headwater.stores.live.ports import LiveBackend, LiveUnavailableError, StoreOptions
from headwater.stores.sql.experiments import ExperimentCatalog

log = logging.getLogger("headwater.experiments")

LIVE_OPTIONS = StoreOptions(connect_timeout=0.1, socket_timeout=0.1)
RESTORE_OPTIONS = StoreOptions(connect_timeout=2.0, socket_timeout=30.0)
#: a server start waits this long for a sticky-bucket restore (then it goes on in the background)
RESTORE_WAIT_SECONDS = 30.0
REFRESH_SECONDS = 1.0
BREAKER_SECONDS = 1.0
STICKY_TTL_SECONDS = 400 * 86400  # a user's assignments outlive any experiment, not forever


class ExperimentsService:
    name = "experiments"

    def __init__(self, settings: Settings, live: LiveBackend) -> None:
        self.settings = settings
        self.catalog = ExperimentCatalog(settings.effective_database_url)
        self.live = live.sticky_buckets(LIVE_OPTIONS)
        self.assigner = Assigner(LiveStickyBucketStore(self.live, STICKY_TTL_SECONDS))
        # its own connection: a restore's writes take longer than the request path's timeouts
        self.restorer = StickyRestorer(
            settings.data_dir,
            live.sticky_buckets(RESTORE_OPTIONS),
            STICKY_TTL_SECONDS,
            database_url=settings.effective_database_url,
        )
        self.definitions: dict[str, Experiment] = {}
        self.invalid: dict[str, str] = {}
        self.last_error: str | None = None
        self._down_until = 0.0
        self._task: asyncio.Task[None] | None = None

    def load(self) -> None:
        definitions: dict[str, Experiment] = {}
        invalid: dict[str, str] = {}
        for stored in self.catalog.all():
            try:
                definitions[stored.key] = parse_experiment(stored.definition)
            except ExperimentInvalid as exc:  # written by an older version: never served, reported
                invalid[stored.key] = str(exc)
        self.definitions, self.invalid = definitions, invalid

    async def refresh(self) -> None:
        try:
            await asyncio.to_thread(self.load)
        except Exception as exc:  # the store being down keeps the last good copy
            log.warning("experiment definitions not refreshed, serving the last copy: %s", exc)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            await self.refresh()

    async def start(self) -> None:
        await asyncio.to_thread(self.load)
        self._task = asyncio.get_running_loop().create_task(self._loop())
        try:
            await self.restorer.ensure(RESTORE_WAIT_SECONDS)
        except LiveUnavailableError as exc:  # the store is down: the first assignment tries again
            self.last_error = str(exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.restorer.stop()
        await self.live.aclose()
        self.live.close()
        self.restorer.buckets.close()
        await asyncio.to_thread(self.catalog.close)

    def status(self) -> tuple[bool, dict[str, Any]]:
        details: dict[str, Any] = {"experiments": len(self.definitions), "store": self.live.url}
        details["sticky_restore"] = self.restorer.status()
        if self.invalid:
            details["invalid"] = self.invalid
        if self.last_error:
            details["live_store_error"] = self.last_error
        return True, details

    def running(self) -> list[Experiment]:
        return [e for e in self.definitions.values() if e.status.value == "running"]

    async def assign(
        self, experiments: list[Experiment], visitor: Visitor, sink: ExposureSink
    ) -> list[Served]:
        if time.monotonic() < self._down_until:
            raise LiveUnavailableError(self.last_error or f"live store {self.live.url} unavailable")
        try:
            served = await self.assigner.assign(experiments, visitor, sink)
        except StickyRestoring:
            self.restorer.trigger()  # the store lost documents (restarted empty, a master lost)
            raise
        except LiveUnavailableError as exc:
            self.last_error = str(exc)
            self._down_until = time.monotonic() + BREAKER_SECONDS
            raise
        self.last_error = None
        return served
