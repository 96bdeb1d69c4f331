"""The supervisor of ``headwater serve --workers N``: a lean process that only watches the others.

``headwater serve`` checks everything a user can get wrong (settings, database URL, writer locks,
the address to listen on), binds the socket, then exec's this module with the plan on a pipe: the
CLI's libraries (typer, rich, pydantic, the stores) are gone from memory, and what is left is a
small interpreter that starts the processes and restarts any that dies:

- the background process (tailers, schedules; nice 10), started first so it wins the tailers'
  locks, with writer id ``<id>-bg``;
- N HTTP workers sharing the socket, each its own log writer ``<id>-<n>``.

Each process is ``python -m headwater.process.worker`` (see there for its plan). They die with the
supervisor (PR_SET_PDEATHSIG) and stop with it on SIGTERM / SIGINT. A process that exits with
code 3 could not start: the supervisor stops everything rather than loop. Only the standard
library is imported here; the plan's settings travel pickled and are opened by the processes.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import select
import signal
import subprocess
import sys
import time
from typing import Any

log = logging.getLogger("headwater.process")

#: Exit code of a process that could not start (restarting it would only loop).
START_FAILED = 3
#: Gauge files of prometheus_client's multiprocess mode that belong to live processes only.
_LIVE_GAUGES = ("liveall", "livesum", "livemax", "livemin", "livemostrecent")


def forget_metrics(prom_dir: str, pid: int | None) -> None:
    """Drop a dead process's live gauges from the aggregate (its counters keep counting).

    What ``prometheus_client.multiprocess.mark_process_dead`` does, without importing it here.
    """
    if pid is None:
        return
    for mode in _LIVE_GAUGES:
        for path in glob.glob(os.path.join(prom_dir, f"gauge_{mode}_{pid}.db")):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)


#: A plan must fit a pipe's buffer (64 KiB): it is written before the reader runs. Settings
#: pickle to a few KiB.
MAX_PLAN_BYTES = 60_000


def plan_pipe(plan: dict[str, Any]) -> int:
    """The read end of a pipe holding ``plan`` as JSON, closed for writing (the reader gets EOF)."""
    data = json.dumps(plan).encode()
    if len(data) > MAX_PLAN_BYTES:
        raise RuntimeError("the server plan is too large to hand over")
    r, w = os.pipe()
    try:
        os.write(w, data)
    finally:
        os.close(w)
    return r


def read_plan(fd: int) -> dict[str, Any]:
    """What plan_pipe wrote, read to the end (the fd is closed)."""
    with os.fdopen(fd, "rb") as fh:
        plan: dict[str, Any] = json.loads(fh.read())
    return plan


class Supervisor:
    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.sock_fd: int = plan["sock_fd"]
        self.prom_dir: str = plan["prom_dir"]
        self.stopping = False

    def spawn(
        self, name: str, overrides: dict[str, Any], ready_w: int | None = None
    ) -> subprocess.Popen[bytes]:
        child = {
            "settings": self.plan["settings"],
            "overrides": overrides,
            "parent_pid": os.getpid(),
            "sock_fd": self.sock_fd,
            "ready_fd": ready_w,
        }
        plan_r = plan_pipe(child)
        try:
            fds = [plan_r, self.sock_fd] + ([ready_w] if ready_w is not None else [])
            proc = subprocess.Popen(
                [sys.executable, "-m", "headwater.process.worker", name, "--plan-fd", str(plan_r)],
                pass_fds=fds,
            )
        finally:
            os.close(plan_r)
        return proc

    def spawn_background(self) -> subprocess.Popen[bytes]:
        ready_r, ready_w = os.pipe()
        overrides = {"writer_id": f"{self.plan['writer_id']}-bg", "role": "background"}
        try:
            proc = self.spawn("background", overrides, ready_w)
        finally:
            os.close(ready_w)
        # started first, it wins the tailers' locks; workers stand by for them (fail-over)
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                readable, _, _ = select.select([ready_r], [], [], 0.1)
                if readable:
                    break
        finally:
            os.close(ready_r)
        return proc

    def spawn_worker(self, index: int) -> subprocess.Popen[bytes]:
        role = "http" if self.plan["background"] else "all"
        overrides = {"writer_id": f"{self.plan['writer_id']}-{index}", "role": role}
        return self.spawn(f"http-{index}", overrides)

    def stop(self, signum: int, frame: Any) -> None:
        self.stopping = True

    def run(self) -> int:
        background = self.spawn_background() if self.plan["background"] else None
        if background is not None and background.poll() is not None:
            log.error("the background process could not start; stopping")
            return 1
        workers = {i: self.spawn_worker(i) for i in range(self.plan["workers"])}
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        log.info("supervising %d workers on %s:%d", len(workers), self.plan["host"], self.plan["port"])
        failures = 0
        while not self.stopping:
            time.sleep(0.2)
            for i, proc in list(workers.items()):
                code = proc.poll()
                if code is None or self.stopping:
                    continue
                forget_metrics(self.prom_dir, proc.pid)
                if code == START_FAILED:  # failed at start: restarting would only loop
                    log.error("worker %d could not start; stopping", i)
                    self.stopping = True
                    failures += 1
                    break
                log.warning("worker %d exited with %s; restarting it", i, code)
                workers[i] = self.spawn_worker(i)
            if background is not None and background.poll() is not None and not self.stopping:
                forget_metrics(self.prom_dir, background.pid)
                log.warning("the background process exited with %s; restarting it", background.returncode)
                background = self.spawn_background()
        everyone = [*workers.values(), *([background] if background is not None else [])]
        for proc in everyone:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 15
        for proc in everyone:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        os.close(self.sock_fd)
        return 1 if failures else 0


def main() -> int:
    plan = read_plan(int(sys.argv[sys.argv.index("--plan-fd") + 1]))
    from headwater.ops.logs import configure_logging

    configure_logging(plan["log_level"])
    return Supervisor(plan).run()


if __name__ == "__main__":
    sys.exit(main())
