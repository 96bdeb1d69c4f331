"""Compute the dashboard's default view ahead of the first load, in the background.

The queries mirror the page's defaults (static/js/pages/overview.js and the panels): the 30 days up to
today in the project time zone, the previous 30 days for the headline's changes, the `plan`
trait and the sign-up funnel; and the results of the running experiments. They are computed:

- when the server starts (:class:`DashboardWarmup`, a service of the background process, or of the
  one process of a single-worker server), so the first visitor of a fresh server finds them
  cached: the answers go to the shared cache on disk (shared_cache.py), read by every worker;
- after each ETL run (the lake's manifests changed), and at midnight (the default range moved);
- while the dashboard is in use (opened in the last IN_USE_SECONDS) whenever the cached answers
  went stale because the log grew (at most once per STALE_SECONDS);
- when someone opens the login form or the page, if not cached yet.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.dashboard.caches import caches_for
from headwater.dashboard.defaults import (
    BOARD_PRESET_DAYS,
    DEFAULT_DAYS,
    FUNNEL_STEPS,
    FUNNEL_WINDOW_DAYS,
    PREFERENCE_TRAIT,
)
from headwater.dashboard.metric_batch import MetricCache, Query, groups, run_group
from headwater.dashboard.shared_cache import state_text
from headwater.lake.params import today_in
from headwater.ops.priority import nice_this_thread

if TYPE_CHECKING:
    from headwater.config import Settings

#: A warm-up that takes longer is stopped (the page computes what is missing).
CHILD_TIMEOUT_SECONDS = 600.0

log = logging.getLogger("headwater.dashboard")


POLL_SECONDS = 2.0
RETRY_SECONDS = 60.0  # after a failed warm-up
IN_USE_SECONDS = 1800.0

_warming: set[Path] = set()
_lock = threading.Lock()


def _visit_file(run_dir: Path) -> Path:
    return run_dir / "dashboard-visited"


def note_visit(run_dir: Path) -> None:
    """The login form or the page was opened: keep the default view fresh for a while (a file's
    time, so that the warm-up sees visits to any worker of the server)."""
    path = _visit_file(run_dir)
    try:
        path.touch()
    except FileNotFoundError:
        run_dir.mkdir(parents=True, exist_ok=True)
        path.touch()


def in_use(run_dir: Path) -> bool:
    try:
        return time.time() - _visit_file(run_dir).stat().st_mtime < IN_USE_SECONDS
    except FileNotFoundError:
        return False


def retention_period(days: int) -> str:
    return "day" if days <= 31 else "week" if days <= 186 else "month"


def default_queries(tz: str) -> list[Query]:
    end = today_in(tz)  # the page's default range ends today (static/js/pages/overview.js)
    start = end - timedelta(days=DEFAULT_DAYS - 1)
    prev_end = start - timedelta(days=1)
    prev_start = start - timedelta(days=DEFAULT_DAYS)
    s, e, ps, pe = (d.isoformat() for d in (start, end, prev_start, prev_end))
    return [
        Query("stickiness", s, e, tz),
        Query("stickiness", pe, pe, tz),
        Query("wau", pe, e, tz),
        Query("sessions", ps, e, tz),
        Query("lifecycle", ps, e, tz),
        Query("features", s, e, tz),
        Query("preferences", s, e, tz, (("trait", PREFERENCE_TRAIT),)),
        Query("retention", s, e, tz, (("period", retention_period(DEFAULT_DAYS)),)),
        Query(
            "funnel", s, e, tz, (("steps", ",".join(FUNNEL_STEPS)), ("window_days", str(FUNNEL_WINDOW_DAYS)))
        ),
        Query("late_events", s, e, tz),  # the data-health panel
    ]


def _warm(data_dir: Path, tz: str) -> None:
    try:
        cache = caches_for(data_dir, tz).metrics
        parts = groups(default_queries(tz))
        with ThreadPoolExecutor(len(parts), thread_name_prefix="dashboard-warmup") as pool:
            list(pool.map(lambda part: run_group(cache, part), parts))
    except Exception:  # a warm-up is an optimisation: the page computes what is missing
        log.exception("dashboard warm-up failed")
    finally:
        with _lock:
            _warming.discard(data_dir)


def warm_default_view(data_dir: Path, tz: str) -> None:
    """Start computing the default view unless it is being computed already."""
    with _lock:
        if data_dir in _warming:
            return
        _warming.add(data_dir)
    threading.Thread(target=_warm, args=(data_dir, tz), name="dashboard-warmup", daemon=True).start()


class DashboardWarmup:
    """A service keeping the default view computed: one per server, in the background process when
    there is one (the HTTP workers read its answers from the shared cache on disk and never load
    DuckDB for it), else in the one process that serves HTTP."""

    name = "dashboard_warmup"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0
        self.last_seconds: float | None = None
        self.last_reason: str | None = None
        self.last_error: str | None = None
        self._uncomputable: set[Query] = set()
        # the one-process server computes in a thread (its process serves the page anyway and
        # keeps the answers in memory); the background process in a child that exits after
        self.in_process = settings.role == "all"

    async def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="dashboard-warmup", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 30)

    def status(self) -> tuple[bool, dict[str, Any]]:
        cache = caches_for(self.settings.data_dir, self.settings.timezone).metrics
        details = {
            "cache_hits": cache.hits,
            "cache_misses": cache.misses,  # queries computed, by the warm-up or for a visitor
            "runs": self.runs,
            "last_seconds": self.last_seconds,
            "last_reason": self.last_reason,
            "last_error": self.last_error,
        }
        return True, details  # an optimisation: never holds readiness back

    def warm_once(self, reason: str) -> None:
        """Compute the default view in a child process (see compute_default_view)."""
        started = time.monotonic()
        try:
            if self.in_process:
                compute_default_view(self.settings)
            else:
                self._run_child()
            self.last_error = None
        except Exception as exc:  # an optimisation: the page computes what is missing
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("dashboard warm-up failed: %s", self.last_error)
        self.runs += 1
        self.last_seconds = round(time.monotonic() - started, 3)
        self.last_reason = reason
        log.info("dashboard default view computed", extra={"seconds": self.last_seconds, "reason": reason})

    def _run_child(self) -> None:
        data = pickle.dumps(self.settings)
        done = subprocess.run(
            [sys.executable, "-m", "headwater.dashboard.warmup"],
            input=data,
            capture_output=True,
            timeout=CHILD_TIMEOUT_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"warm-up process exited with {done.returncode}: {tail[0]}")

    def due(self, cache: MetricCache, lake: Any) -> str | None:
        """Why the default view should be computed now, or None."""
        signature = cache.signature()
        if signature[0] != lake:
            return "lake changed"
        states = {q: cache.state(q, signature) for q in default_queries(self.settings.timezone)}
        missing = {q for q, state in states.items() if state == "missing"}
        # (a query answered by an error is not cached: not retried until the data or day change)
        if missing - self._uncomputable:
            return "new day"  # the default range moved at midnight (or an entry was evicted)
        if "stale" in states.values() and in_use(self.settings.run_dir):
            return "log grew"
        return None

    def _loop(self) -> None:
        nice_this_thread(self.settings.background_nice)  # and the child it starts: behind collection
        cache = caches_for(self.settings.data_dir, self.settings.timezone).metrics
        lake = cache.signature()[0]
        self.warm_once("start")
        self._uncomputable = set()
        while not self._stop.wait(RETRY_SECONDS if self.last_error else POLL_SECONDS):
            try:
                reason = self.due(cache, lake)
                if reason is not None:
                    lake = cache.signature()[0]
                    self.warm_once(reason)
                    signature = cache.signature()
                    self._uncomputable = {
                        q
                        for q in default_queries(self.settings.timezone)
                        if cache.state(q, signature) == "missing"
                    }
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("dashboard warm-up loop: %s", self.last_error)


def compute_default_view(settings: Settings) -> None:
    """The default view's metrics and the running experiments' results, into the caches (memory
    and the shared cache on disk)."""
    from headwater.stores.sql.experiments import ExperimentCatalog

    data_dir, tz = settings.data_dir, settings.timezone
    caches = caches_for(data_dir, tz)
    cache = caches.metrics
    catalog = ExperimentCatalog(settings.effective_database_url)
    try:
        keys = [s.key for s in catalog.all() if s.status == "running"]
        results = caches.results
        jobs: list[Any] = [lambda part=part: run_group(cache, part) for part in groups(default_queries(tz))]
        jobs += [lambda key=key: results.results(catalog, key) for key in keys]
        jobs += pinned_insights(settings, caches)
        with ThreadPoolExecutor(min(4, len(jobs)), thread_name_prefix="dashboard-warmup") as pool:
            list(pool.map(lambda job: job(), jobs))
    finally:
        catalog.close()


def board_ranges(tz: str) -> list[tuple[str, str]]:
    """(start, end) of each of a dashboard's range presets today, as board.js asks them."""
    today = today_in(tz)
    return [((today - timedelta(days=days - 1)).isoformat(), today.isoformat()) for days in BOARD_PRESET_DAYS]


def pinned_insights(settings: Settings, caches: Any) -> list[Callable[[], Any]]:
    """The saved insights pinned to a dashboard, over their own ranges, then over the dashboard's
    range presets (the queries a click on "7 d", "30 d" or "90 d" sends: insight_answers.py)."""
    from headwater.insights.saved import run_saved, with_range
    from headwater.stores.sql.saved import SavedCatalog

    with SavedCatalog(settings.effective_database_url) as saved:
        pinned = {tile.insight for board in saved.dashboards() for tile in board.tiles}
        insights = [i for i in saved.insights() if i.id in pinned]
    data_dir, tz = settings.data_dir, settings.timezone
    queries = [(i.kind, i.query) for i in insights]
    for start, end in board_ranges(tz):
        queries += [(i.kind, with_range(i.query, start, end, None)) for i in insights]
    unique = {state_text({"kind": kind, "query": query}): (kind, query) for kind, query in queries}

    def job(kind: str, query: dict[str, Any]) -> Callable[[], Any]:
        def run() -> Any:
            try:
                return caches.insights.answer(kind, query, lambda: run_saved(data_dir, tz, kind, query))
            except Exception as exc:  # a query refused now (4xx): the tile says why when asked
                log.info("saved insight not warmed: %s", exc)
                return None

        return run

    return [job(kind, query) for kind, query in unique.values()]


def main() -> int:
    """``python -m headwater.dashboard.warmup`` with the pickled Settings on stdin: the background
    process's warm-up, in a process of its own so that DuckDB and numpy, and the memory of the
    queries, are given back when it ends instead of staying in the long-lived process."""
    settings = pickle.loads(sys.stdin.buffer.read())  # from our own parent
    from headwater.ops.logs import configure_logging

    configure_logging(settings.log_level)
    compute_default_view(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
