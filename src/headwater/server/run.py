"""Running the server: one worker in this process, or N workers under a small supervisor.

Each worker is its own log writer (``<writer_id>-<n>``), so workers never share a file. The
supervisor binds the socket once, hands it to the workers, restarts a worker that dies, and takes
its workers down with it (they also get SIGKILL if the supervisor itself is killed).
"""

from __future__ import annotations

import asyncio
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


def _background(settings: Settings, parent_pid: int, ready: Any) -> None:
    """The process of tailers and schedules: no HTTP, lower CPU priority than collection."""
    _die_with_parent(parent_pid)
    os.nice(settings.background_nice)
    from headwater.ops.logs import configure_logging

    configure_logging(settings.log_level)
    try:
        asyncio.run(_run_background(settings, ready))
    except Exception:
        log.exception("the background process could not start")
        sys.exit(3)
    sys.exit(0)


async def _run_background(settings: Settings, ready: Any) -> None:
    from headwater.server.app import start_runtime, stop_runtime

    rt = await start_runtime(settings)
    ready.set()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        await stop.wait()
    finally:
        await stop_runtime(rt)


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
    bg_id = f"{settings.writer_id}-bg"
    writer_ids = [f"{settings.writer_id}-{i}" for i in range(settings.workers)]
    _check_writers_free(settings, [*writer_ids, bg_id] if settings.background_process else writer_ids)
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

    http_role = "http" if settings.background_process else "all"

    def spawn_background() -> Any:
        bg_settings = settings.model_copy(update={"writer_id": bg_id, "role": "background"})
        ready = ctx.Event()
        proc = ctx.Process(
            target=_background, args=(bg_settings, os.getpid(), ready), name="headwater-background"
        )
        proc.start()
        # started first, it wins the tailers' locks; workers stand by for them (fail-over)
        deadline = time.monotonic() + 60
        while not ready.wait(0.1):
            if not proc.is_alive() or time.monotonic() > deadline:
                break
        return proc

    background = spawn_background() if settings.background_process else None
    if background is not None and not background.is_alive():
        log.error("the background process could not start; stopping")
        sock.close()
        return 1

    def spawn(index: int) -> Any:
        worker_settings = settings.model_copy(
            update={"writer_id": f"{settings.writer_id}-{index}", "role": http_role}
        )
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
        if background is not None and not background.is_alive() and not stopping:
            _forget_metrics(background.pid)
            log.warning("the background process exited with %s; restarting it", background.exitcode)
            background = spawn_background()
    everyone = [*procs.values(), *([background] if background is not None else [])]
    for proc in everyone:
        if proc.is_alive():
            proc.terminate()
    for proc in everyone:
        proc.join(15)
        if proc.is_alive():
            proc.kill()
    sock.close()
    return 1 if failures else 0
