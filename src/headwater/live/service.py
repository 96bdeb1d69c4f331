"""Wiring of the live layer into `headwater serve`: the "live" tailer and the API's store handle.

The tailer runs in one process (flock, headwater.log.tailing.service) with patient timeouts, and
the hourly rollup to the realtime store next to it. The API of every worker reads through
:class:`LiveQueries` on its event loop (redis.asyncio, no thread per request), with short
timeouts and a breaker, so a down Redis costs a request at most ~100 ms; after a connection error
a breaker answers 503 at once for a second (a merely slow answer fails only its own request).

Each worker keeps every answer (the encoded JSON) for up to CACHE_SECONDS and computes a missing
one once however many requests wait for it, so the store sees about one query per endpoint and
worker per second at any request rate: live numbers are at most a second old (docs/live.md).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Hashable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from headwater.config import Settings
from headwater.live.buckets import LIVE_TAILER, RETENTION_S, names_within
from headwater.live.fold import LiveEvent
from headwater.live.rollup import HourlyRollup
from headwater.log.tailing.rebuild import Rebuild, RebuildResult
from headwater.log.tailing.service import TailerService
from headwater.log.tailing.tailer import Tailer
from headwater.stores.live.ports import (
    Counters,
    LiveBackend,
    LiveTimeoutError,
    LiveUnavailableError,
    StoreOptions,
)
from headwater.stores.registry import backend_for
from headwater.stores.sql.hourly import HourlyStatsStore
from headwater.stores.sql.realtime import open_realtime_store
from headwater.urls import mask_url

if TYPE_CHECKING:  # the target (numpy) is imported only where the tailer runs
    from headwater.live.target import LiveTarget

log = logging.getLogger("headwater.live")
T = TypeVar("T")

API_OPTIONS = StoreOptions(connect_timeout=0.05, socket_timeout=0.08)
API_DEADLINE = 0.07  # seconds: the whole call
BREAKER_SECONDS = 1.0
CACHE_SECONDS = 1.0  # how stale a live answer may be: each worker computes each one once per second
CACHE_MAX_ENTRIES = 512  # answers kept at most (hourly?hour= can name any hour); expired ones go first
TAILER_OPTIONS = StoreOptions(connect_timeout=2.0, socket_timeout=30.0)
ROLLUP_MAX_LAG_SECONDS = 30.0  # the rollup copies an hour only while the tailer is this close to the log


class LiveQueries:
    """The API's handle on the live store: bounded latency, and a breaker while it is down."""

    def __init__(self, store: Counters, cache_seconds: float = CACHE_SECONDS) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self.last_error: str | None = None
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._answers: dict[Hashable, tuple[float, bytes]] = {}  # key -> (expires, encoded answer)
        self._pending: dict[Hashable, asyncio.Future[bytes]] = {}

    async def cached(
        self, key: Hashable, fn: Callable[[Counters], Awaitable[T]], encode: Callable[[T], bytes]
    ) -> bytes:
        """``encode(await self.run(fn))``, reused for cache_seconds; concurrent misses share one call.

        Errors are never cached: every request that waited on a failed call raises its error."""
        now = time.monotonic()
        hit = self._answers.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            body = encode(await self.run(fn))
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" report when nobody else waited
            raise
        finally:
            del self._pending[key]
        future.set_result(body)
        if len(self._answers) >= CACHE_MAX_ENTRIES:
            self._answers = {k: v for k, v in self._answers.items() if v[0] > now}
            if len(self._answers) >= CACHE_MAX_ENTRIES:
                self._answers.clear()
        if self.cache_seconds > 0:
            self._answers[key] = (time.monotonic() + self.cache_seconds, body)
        return body

    def unavailable(self, message: str) -> None:
        with self._lock:
            self.last_error = message
            self._down_until = time.monotonic() + BREAKER_SECONDS

    async def run(self, fn: Callable[[Counters], Awaitable[T]]) -> T:
        """Await ``fn(store)`` (the store's async reads, on this event loop) within API_DEADLINE;
        LiveUnavailableError otherwise."""
        if time.monotonic() < self._down_until:
            raise LiveUnavailableError(self.last_error or f"live store {self.store.url} unavailable")
        try:
            result = await asyncio.wait_for(fn(self.store), API_DEADLINE)
        except TimeoutError:  # slow, not down: this request fails, the next ones still try
            message = f"live store {self.store.url} did not answer within {int(API_DEADLINE * 1000)} ms"
            self.last_error = message
            raise LiveUnavailableError(message) from None
        except LiveTimeoutError as exc:  # slow too (a read or connect timeout): no breaker
            self.last_error = str(exc)
            raise
        except LiveUnavailableError as exc:
            self.unavailable(str(exc))
            raise
        self.last_error = None
        return result


def check_workers(settings: Settings) -> None:
    """An in-process live store (memory://) cannot be shared: several workers would each count a
    part of the log."""
    if settings.workers > 1 and not backend_for(settings.redis_url, "live").shared_by_workers:
        raise RuntimeError(
            f"the live store {mask_url(settings.redis_url)} is in-process and works with one worker only, "
            f"but workers = {settings.workers}: configure Redis (HEADWATER_REDIS_URL=redis://host:6379/0 "
            "or redis+cluster://host:port,...) or run with --workers 1"
        )


class LiveService:
    """A service: the live tailer, its hourly rollup, and the API's LiveQueries."""

    name = "live"

    def __init__(self, settings: Settings, live: LiveBackend) -> None:
        check_workers(settings)
        self.settings = settings
        self.backend = live  # the process's own (memory:// lives only here): privacy requests use it
        self.queries = LiveQueries(live.counters(API_OPTIONS))
        tz = ZoneInfo(settings.timezone)

        self._target: LiveTarget | None = None

        def open_target() -> tuple[LiveTarget, Callable[[], None]]:
            store = live.counters(TAILER_OPTIONS)
            store.ping()
            from headwater.live.target import LiveTarget  # numpy: only where the tailer runs

            links = open_realtime_store(settings.effective_database_url)  # identity links, read only
            target = self._target = LiveTarget(store, settings.log_dir, tz, lookup=links.identities)

            def close() -> None:
                target.close()  # the commit in flight first
                store.close()
                links.close()

            return target, close

        self.tailer = TailerService(
            LIVE_TAILER,
            settings.log_dir,
            settings.run_dir,
            open_target,
            LiveEvent,
            rebuild=rebuild_live(settings, live),
            checkpoint_name=settings.checkpoint_name(LIVE_TAILER),
        )
        self.rollup = HourlyRollup(
            live.counters(TAILER_OPTIONS),
            lambda: HourlyStatsStore(settings.effective_database_url),
            self._ready_epoch,
        )
        self._rollup_stop = threading.Event()
        self._rollup_thread: threading.Thread | None = None

    def _ready_epoch(self) -> str | None:
        """The live tailer's epoch while this process runs it and it is caught up, else None."""
        tailer, target = self.tailer.tailer, self._target
        if self.tailer.role != "active" or tailer is None or target is None:
            return None
        st = tailer.status
        if st.state == "caught_up" or (st.state == "running" and st.lag_seconds < ROLLUP_MAX_LAG_SECONDS):
            return target.epoch
        return None

    async def start(self) -> None:
        try:
            await asyncio.to_thread(self.queries.store.ping)
        except LiveUnavailableError as exc:
            log.warning("%s; ingestion goes on and the live counters catch up when it answers", exc)
            self.queries.last_error = str(exc)
        await self.tailer.start()
        self._rollup_thread = threading.Thread(
            target=self.rollup.run, args=(self._rollup_stop,), name="live_hourly_rollup", daemon=True
        )
        self._rollup_thread.start()

    async def stop(self) -> None:
        self._rollup_stop.set()
        await self.tailer.stop()
        if self._rollup_thread is not None:
            await asyncio.to_thread(self._rollup_thread.join, 30)
        self.rollup.close()
        self.rollup.live.close()
        await self.queries.store.aclose()
        self.queries.store.close()

    def status(self) -> tuple[bool, dict[str, Any]]:
        """Always ready: a down live store must not stop the collector taking events."""
        _, details = self.tailer.status()
        details["store"] = self.queries.store.url
        if self.queries.last_error:
            details["store_error"] = self.queries.last_error
        details["hourly_rollup"] = {
            "hours_written": self.rollup.hours_written,
            "last_hour": None if self.rollup.last_hour is None else f"{self.rollup.last_hour:%Y-%m-%dT%H}",
            "last_error": self.rollup.last_error,
        }
        return True, details


def rebuild_live(settings: Settings, live: LiveBackend) -> Rebuild:
    """Rebuild beside, then swap: fold the log (the retention window: older buckets have expired)
    into a new state while the store keeps answering with its numbers, then replace them all and
    the checkpoint in one atomic step (Counters.replace). Called with the live tailer's lock held."""
    tz = ZoneInfo(settings.timezone)

    def rebuild(
        from_day: date | None, stop: threading.Event, on_step: Callable[[Tailer[Any]], None] | None
    ) -> RebuildResult:
        from headwater.collector.suppression import SuppressedIds, suppression_list
        from headwater.collector.unsuppressed import Unsuppressed
        from headwater.live.target import BesideTarget, rebuild_offsets

        now = datetime.now(UTC)
        links = open_realtime_store(settings.effective_database_url)
        store = live.counters(TAILER_OPTIONS)
        try:
            beside = BesideTarget(rebuild_offsets(settings.log_dir, now), tz, links.identities, now)
            target = Unsuppressed(beside, SuppressedIds(*suppression_list(settings.effective_database_url)))
            tailer = Tailer(LIVE_TAILER, settings.log_dir, target, LiveEvent, on_step=on_step)
            tailer.run(stop, until_caught_up=True, max_backoff=1.0, max_failures=10)
            if stop.is_set() or tailer.checkpoint is None:
                raise RuntimeError("the live rebuild was stopped before the end of the log: nothing replaced")
            forget = names_within(now, tz, RETENTION_S // 3600 + 24)
            store.replace(LIVE_TAILER, secrets.token_hex(8), tailer.checkpoint, beside.total, forget)
        finally:
            store.close()
            links.close()
        st = tailer.status
        return RebuildResult(st.applied_events - target.skipped, st.rejected_lines, target.skipped)

    return rebuild
