"""Running the server: one worker in this process, or N workers under a small supervisor.

Each worker is its own log writer (``<writer_id>-<n>``), so workers never share a file. The
supervisor binds the socket once, hands it to the workers, restarts a worker that dies, and takes
its workers down with it (they also get SIGKILL if the supervisor itself is killed).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import time
from typing import Any

from headwater.config import Settings

log = logging.getLogger("headwater.server")


def _uvicorn_config(settings: Settings) -> Any:
    import uvicorn

    from headwater.server.app import create_app

    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=settings.access_log,
        log_config=None,
        limit_concurrency=settings.limit_concurrency,
        timeout_keep_alive=10,
        timeout_graceful_shutdown=10,
        server_header=False,
    )


def _die_with_parent(parent_pid: int) -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux: the supervisor's own shutdown still stops the workers
        return
    if os.getppid() != parent_pid:  # the supervisor died before prctl took effect
        os._exit(1)


def _check_writers_free(settings: Settings, writer_ids: list[str]) -> None:
    """Fail fast, with the lock's own message, when another process writes as one of our writers.

    Each worker takes its lock for good at start; this check only turns the common mistake (a
    second server on the same data dir) into one clear line instead of a worker's traceback.
    """
    from headwater.log.lock import WriterLock

    for writer_id in writer_ids:
        lock = WriterLock(settings.log_dir, writer_id)
        lock.acquire()  # WriterBusyError names the writer and what to do
        lock.release()


def _worker(settings: Settings, sock: socket.socket, parent_pid: int) -> None:
    _die_with_parent(parent_pid)
    import uvicorn

    from headwater.ops.logs import configure_logging

    configure_logging(settings.log_level)
    server = uvicorn.Server(_uvicorn_config(settings))
    server.run(sockets=[sock])
    sys.exit(0 if server.started else 3)


def serve(settings: Settings) -> int:
    """Run until stopped; raises WriterBusyError when a writer id of ours is already in use."""
    if settings.workers == 1:
        _check_writers_free(settings, [settings.writer_id])
        import uvicorn

        server = uvicorn.Server(_uvicorn_config(settings))
        server.run()
        return 0 if server.started else 3
    return _supervise(settings)


def _forget_metrics(pid: int | None) -> None:
    """Drop a dead worker's live gauges from the aggregate (its counters keep counting)."""
    if pid is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def _supervise(settings: Settings) -> int:
    _check_writers_free(settings, [f"{settings.writer_id}-{i}" for i in range(settings.workers)])
    prom_dir = settings.run_dir / "prometheus"
    shutil.rmtree(prom_dir, ignore_errors=True)
    prom_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(prom_dir)

    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    ctx = multiprocessing.get_context("spawn")

    def spawn(index: int) -> Any:
        worker_settings = settings.model_copy(update={"writer_id": f"{settings.writer_id}-{index}"})
        proc = ctx.Process(
            target=_worker, args=(worker_settings, sock, os.getpid()), name=f"headwater-worker-{index}"
        )
        proc.start()
        return proc

    procs = {i: spawn(i) for i in range(settings.workers)}
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("supervising %d workers on %s:%d", settings.workers, settings.host, settings.port)
    failures = 0
    while not stopping:
        time.sleep(0.2)
        for i, proc in list(procs.items()):
            if not proc.is_alive() and not stopping:
                code = proc.exitcode
                _forget_metrics(proc.pid)
                if code == 3:  # failed at start: restarting would only loop
                    log.error("worker %d could not start; stopping", i)
                    stopping = True
                    failures += 1
                    break
                log.warning("worker %d exited with %s; restarting it", i, code)
                procs[i] = spawn(i)
    for proc in procs.values():
        if proc.is_alive():
            proc.terminate()
    for proc in procs.values():
        proc.join(15)
        if proc.is_alive():
            proc.kill()
    sock.close()
    return 1 if failures else 0
