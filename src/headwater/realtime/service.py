"""Wiring of the realtime store into `headwater serve`: the tailer and the query connection."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from headwater.config import Settings
from headwater.log.tailing.service import TailerService
from headwater.realtime.replay import rebuild_realtime
from headwater.realtime.rows import LoggedEvent
from headwater.realtime.target import REALTIME_TAILER, RealtimeTarget
from headwater.stores.sql.ports import RealtimeStore
from headwater.stores.sql.realtime import open_realtime_store

T = TypeVar("T")


def realtime_tailer(settings: Settings) -> TailerService[LoggedEvent]:
    tz = ZoneInfo(settings.timezone)

    def open_target() -> tuple[RealtimeTarget, Callable[[], None]]:
        store = open_realtime_store(settings.effective_database_url)
        # in a cluster the hosts' tailers share the store: dedup and sessions there (docs/scale-out.md)
        target = RealtimeTarget(store, tz, log_dir=None if settings.cluster else settings.log_dir)
        target.shared = settings.cluster
        return target, store.close

    return TailerService(
        REALTIME_TAILER,
        settings.log_dir,
        settings.run_dir,
        open_target,
        LoggedEvent,
        rebuild=rebuild_realtime(settings),
        checkpoint_name=settings.checkpoint_name(REALTIME_TAILER),
    )


class RealtimeQueries:
    """The API's own connection to the realtime store, used by one thread at a time."""

    name = "realtime_queries"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: RealtimeStore | None = None
        self._lock = threading.Lock()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def status(self) -> tuple[bool, dict[str, Any]]:
        return True, {"connected": self._store is not None}

    def _call(self, fn: Callable[[RealtimeStore], T]) -> T:
        with self._lock:
            if self._store is None:
                self._store = open_realtime_store(self.settings.effective_database_url, migrate=False)
            return fn(self._store)

    async def run(self, fn: Callable[[RealtimeStore], T]) -> T:
        return await asyncio.to_thread(self._call, fn)
