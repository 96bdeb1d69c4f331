"""Running a tailer in the background: one process per tailer name, metrics, status.

Whichever process first takes the exclusive flock ``<run_dir>/tailer-<name>.lock`` runs the
tailer: one worker of ``headwater serve --workers N``, or a separate ``headwater tail NAME``. The
others stay on standby and retry the lock every few seconds, so when the active process dies
(even by kill -9, which releases the flock) another takes over from the committed checkpoint.
The tailer runs in its own thread: its store calls are blocking and must not stall the event loop.

The active process also writes the tailer's status to ``<run_dir>/tailer-<name>.status.json``
(at most once a second, atomically), so a standby process's /readyz shows the real lag of the
tailer wherever it runs (with several workers, in the background process).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic

from prometheus_client import Counter, Gauge

from headwater.atomic_file import write_atomic
from headwater.log.lock import FileLock
from headwater.log.tailing.batch import R, TailTarget
from headwater.log.tailing.rebuild import Rebuild, RebuildWatch, pending_rebuild, rebuild_done
from headwater.log.tailing.tailer import Tailer
from headwater.log.tailing.turns import BatchTurns

log = logging.getLogger("headwater.tailer")

LAG_EVENTS = Gauge(
    "headwater_tailer_lag_events",
    "Events in the log not yet applied (estimated from the average line size)",
    ["tailer"],
    multiprocess_mode="livemax",
)
LAG_SECONDS = Gauge(
    "headwater_tailer_lag_seconds",
    "Age of the oldest log line not yet applied (0 when caught up)",
    ["tailer"],
    multiprocess_mode="livemax",
)
LAG_BYTES = Gauge(
    "headwater_tailer_lag_bytes", "Log bytes not yet applied", ["tailer"], multiprocess_mode="livemax"
)
APPLIED = Counter("headwater_tailer_events_applied_total", "Log lines applied by a tailer", ["tailer"])
REJECTED = Counter(
    "headwater_tailer_lines_quarantined_total", "Log lines a tailer could not read (kept aside)", ["tailer"]
)
FAILURES = Counter("headwater_tailer_failures_total", "Failed batch applications (retried)", ["tailer"])
HEALTHY = Gauge(
    "headwater_tailer_healthy", "1 when the last batch applied, 0 while retrying", ["tailer"], "livemin"
)


#: The tailers running in this process apply one batch at a time, in turn, and share what they read
#: (see BatchTurns).
TURNS = BatchTurns()
#: Lines per batch of every tailer of a process: the same size, so tailers in step share their reads.
#: Under a saturating load 5,000 cost the same CPU per event as 10,000 and kept the background
#: process near 90-110 MB instead of 131-160 MB; 3,000 made the PostgreSQL tailer fall behind
#: (more round trips per event).
BATCH_LINES = 5_000


class TailerLock(FileLock):
    def __init__(self, run_dir: Path, name: str) -> None:
        super().__init__(run_dir / f"tailer-{name}.lock")


class TailerMetrics:
    """Mirrors a tailer's status into the Prometheus metrics after every step."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._applied = 0
        self._rejected = 0
        self._failures = 0

    def __call__(self, tailer: Tailer[Any]) -> None:
        st = tailer.status
        LAG_EVENTS.labels(self.name).set(st.lag_events)
        LAG_SECONDS.labels(self.name).set(st.lag_seconds)
        LAG_BYTES.labels(self.name).set(st.lag_bytes)
        HEALTHY.labels(self.name).set(0 if st.state == "retrying" else 1)
        APPLIED.labels(self.name).inc(st.applied_events - self._applied)
        REJECTED.labels(self.name).inc(st.rejected_lines - self._rejected)
        if st.failures > self._failures:
            FAILURES.labels(self.name).inc(st.failures - self._failures)
        self._applied, self._rejected, self._failures = st.applied_events, st.rejected_lines, st.failures


class StatusFile:
    """The active tailer's status on disk, for the processes standing by (see module doc)."""

    def __init__(self, run_dir: Path, name: str, every: float = 1.0) -> None:
        self.path = run_dir / f"tailer-{name}.status.json"
        self.every = every
        self._written = 0.0
        self._state = ""

    def __call__(self, tailer: Tailer[Any]) -> None:
        st = tailer.status
        now = time.monotonic()
        if now - self._written < self.every and st.state == self._state:
            return
        self._written, self._state = now, st.state
        data = {**st.as_dict(), "pid": os.getpid(), "written_at": time.time()}
        try:
            write_atomic(self.path, json.dumps(data).encode())
        except OSError as exc:  # a status is a courtesy: never stop the tailer for it
            log.debug("cannot write tailer status %s: %s", self.path, exc)

    def read(self, max_age: float = 30.0) -> dict[str, Any] | None:
        """The last status written by a live process, with its age; None if there is none."""
        try:
            data: dict[str, Any] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        try:
            os.kill(int(data.get("pid", 0)), 0)
        except (ProcessLookupError, ValueError, OverflowError):
            return None
        except PermissionError:
            pass
        age = max(0.0, time.time() - float(data.pop("written_at", 0.0)))
        data["active_pid"] = data.pop("pid", None)
        data["status_age_seconds"] = round(age, 3)
        if age > max_age:
            data["state"] = f"unknown (status not updated for {age:.0f} s)"
        return data


class StepHooks:
    """Several on_step callbacks as one."""

    def __init__(self, *hooks: Callable[[Tailer[Any]], None]) -> None:
        self.hooks = hooks

    def __call__(self, tailer: Tailer[Any]) -> None:
        for hook in self.hooks:
            hook(tailer)


OpenTarget = Callable[[], "tuple[TailTarget[R], Callable[[], None]]"]


class TailerService(Generic[R]):
    """A service (headwater.runtime.Service) running one tailer when this process holds its lock."""

    def __init__(
        self,
        name: str,
        log_dir: Path,
        run_dir: Path,
        open_target: OpenTarget[R],
        record_type: type[R],
        max_lines: int = BATCH_LINES,
        catch_up_lines: int | None = None,
        rebuild: Rebuild | None = None,
        checkpoint_name: str | None = None,
    ) -> None:
        self.name = f"tailer_{name}"
        #: the name its checkpoint is stored under (a cluster's hosts share the stores: one per host)
        self.checkpoint_name = checkpoint_name or name
        self.run_dir = run_dir
        self.rebuild = rebuild
        self.rebuilds = 0
        self.tailer_name = name
        self.log_dir = log_dir
        self.lock = TailerLock(run_dir, name)
        self.status_file = StatusFile(run_dir, name)
        self.open_target = open_target
        self.record_type = record_type
        self.max_lines = max_lines
        self.catch_up_lines = catch_up_lines
        self.tailer: Tailer[R] | None = None
        self.role = "standby"
        self.open_error: str | None = None
        self._stop = threading.Event()
        self._run_stop = threading.Event()  # the current run's: stop() sets it too
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        self._run_stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 30)

    def status(self) -> tuple[bool, dict[str, Any]]:
        """Always ready: a tailer behind or retrying must not stop the collector taking events."""
        details: dict[str, Any] = {"role": self.role}
        if self.tailer is not None:
            details.update(self.tailer.status.as_dict())
        elif self.open_error:
            details["last_error"] = self.open_error
        elif self.role == "standby":  # the tailer runs in another process: its last status
            details.update(self.status_file.read() or {})
        return True, details

    def _main(self) -> None:
        while not self._stop.is_set():
            if self.lock.try_acquire():
                break
            self._stop.wait(2.0)
        else:
            return
        self.role = "active"
        try:
            self._run_active()
        finally:
            self.lock.release()

    def _run_active(self) -> None:
        failures = 0
        while not self._stop.is_set():
            if self.rebuild is not None and pending_rebuild(self.run_dir, self.tailer_name)[0]:
                self._rebuild()
                continue
            try:
                target, close = self.open_target()
            except Exception as exc:  # store unreachable at start: keep trying
                failures += 1
                self.open_error = str(exc)
                if failures == 1 or failures % 20 == 0:
                    log.warning("tailer %s cannot open its store: %s", self.tailer_name, exc)
                self._stop.wait(min(5.0, 0.2 * 2 ** min(failures, 8)))
                continue
            self.open_error = None
            run_stop = threading.Event()  # this run: the service stops, or a rebuild is asked for
            hooks: list[Callable[[Tailer[Any]], None]] = [TailerMetrics(self.tailer_name), self.status_file]
            if self.rebuild is not None:
                hooks.append(RebuildWatch(self.run_dir, self.tailer_name, run_stop))
            self.tailer = Tailer(
                self.checkpoint_name,
                self.log_dir,
                target,
                self.record_type,
                max_lines=self.max_lines,
                on_step=StepHooks(*hooks),
                catch_up_lines=self.catch_up_lines,
                turns=TURNS,
            )
            self._run_stop = run_stop
            if self._stop.is_set():  # stop() came in between: it set the old run's event
                run_stop.set()
            try:
                self.tailer.run(run_stop)
            finally:
                run_stop.set()
                close()
            if self._stop.is_set():
                return

    def _rebuild(self) -> None:
        """Rebuild the store from the log while this process holds the tailer's lock."""
        assert self.rebuild is not None
        _, from_day = pending_rebuild(self.run_dir, self.tailer_name)
        log.info("rebuilding %s from the log", self.tailer_name, extra={"from": str(from_day or "")})
        hooks = StepHooks(TailerMetrics(self.tailer_name), self.status_file)
        try:
            result = self.rebuild(from_day, self._stop, hooks)
        except Exception as exc:  # reported; the request stays and is tried again
            self.open_error = f"rebuild failed: {exc}"
            log.exception("rebuild of %s failed; retrying", self.tailer_name)
            self._stop.wait(5.0)
            return
        self.rebuilds += 1
        rebuild_done(self.run_dir, self.tailer_name, result)
        log.info(
            "rebuilt %s from the log",
            self.tailer_name,
            extra={
                "applied": result.applied_lines,
                "quarantined": result.quarantined,
                "suppressed": result.suppressed,
            },
        )
