"""Running the server: check, bind, then exec the process that serves.

``headwater serve`` runs in a process full of CLI libraries (typer, rich, the stores it checked).
Once the checks a user can get wrong have passed (writer locks, the address to listen on), it binds
the socket and replaces itself (exec) with a lean process, so none of that stays in memory:

- one worker: ``headwater.process.worker`` serving HTTP and running the tailers and schedules;
- several workers: ``headwater.process.supervisor``, which starts the background process and the
  HTTP workers (each its own log writer ``<writer_id>-<n>``), restarts any that dies and takes them
  down with it.

The plan (settings included, secrets and all) goes through a pipe, never argv or the environment.
"""

from __future__ import annotations

import base64
import os
import pickle
import shutil
import socket
import sys
from typing import Any

from headwater.config import Settings
from headwater.process.supervisor import plan_pipe


def _check_writers_free(settings: Settings, writer_ids: list[str]) -> None:
    """Fail fast, with the lock's own message, when another process writes as one of our writers.

    Each process takes its lock for good at start; this check only turns the common mistake (a
    second server on the same data dir) into one clear line instead of a worker's traceback.
    """
    from headwater.log.lock import WriterLock

    for writer_id in writer_ids:
        lock = WriterLock(settings.log_dir, writer_id)
        lock.acquire()  # WriterBusyError names the writer and what to do
        lock.release()


def bind(settings: Settings) -> socket.socket:
    """The listening socket; OSError (address in use, not available) is the caller's to report."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((settings.host, settings.port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


#: glibc gives each thread that allocates an arena of its own, which keeps what it freed; under the
#: GIL they gain nothing, and two arenas cut the background process's peak by ~10 MB. A value the
#: user set wins.
MALLOC_ARENAS = "2"


def exec_plan(module: str, name: str, plan: dict[str, Any]) -> None:
    """Replace this process with ``python -m module name --plan-fd N`` (returns only on failure)."""
    os.environ.setdefault("MALLOC_ARENA_MAX", MALLOC_ARENAS)  # read by glibc at start: inherited
    fd = plan_pipe(plan)
    os.set_inheritable(fd, True)  # kept across exec
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", module, name, "--plan-fd", str(fd)])


def serve(settings: Settings) -> int:
    """Check, bind and exec; raises WriterBusyError or OSError (binding) before anything starts."""
    pickled = base64.b64encode(pickle.dumps(settings)).decode()
    if settings.workers == 1:
        _check_writers_free(settings, [settings.writer_id])
        sock = bind(settings)
        plan = {"settings": pickled, "sock_fd": sock.fileno(), "parent_pid": 0}
        exec_plan("headwater.process.worker", "all", plan)
        return 1
    bg_id = f"{settings.writer_id}-bg"
    writer_ids = [f"{settings.writer_id}-{i}" for i in range(settings.workers)]
    _check_writers_free(settings, [*writer_ids, bg_id] if settings.background_process else writer_ids)
    prom_dir = settings.run_dir / "prometheus"
    shutil.rmtree(prom_dir, ignore_errors=True)
    prom_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(prom_dir)
    sock = bind(settings)
    plan = {
        "settings": pickled,
        "sock_fd": sock.fileno(),
        "prom_dir": str(prom_dir),
        "workers": settings.workers,
        "background": settings.background_process,
        "writer_id": settings.writer_id,
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
    }
    exec_plan("headwater.process.supervisor", "supervisor", plan)
    return 1
