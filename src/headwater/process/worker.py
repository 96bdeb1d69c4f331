"""One server process: an HTTP worker (role "http" or "all") or the background process.

Started as ``python -m headwater.process.worker NAME --plan-fd N`` by the supervisor (or exec'd
by ``headwater serve`` itself with one worker). The plan arrives on a pipe, never on the command
line or in the environment, because it carries the settings and their secrets: a JSON object with

- ``settings``: the pickled :class:`~headwater.config.Settings` (base64), ``overrides`` applied to it;
- ``sock_fd``: the listening socket, inherited (HTTP roles);
- ``ready_fd``: a pipe to write one byte to once started (the background process);
- ``parent_pid``: die with this process (PR_SET_PDEATHSIG), 0 for none.

Exit code 3 means "could not start": the supervisor does not restart such a process.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import ctypes
import logging
import os
import pickle
import signal
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from headwater.process.supervisor import START_FAILED, read_plan

log = logging.getLogger("headwater.process")


def plan_settings(plan: dict[str, Any]) -> Any:
    settings = pickle.loads(base64.b64decode(plan["settings"]))
    overrides = plan.get("overrides") or {}
    return settings.model_copy(update=overrides) if overrides else settings


def die_with_parent(parent_pid: int) -> None:
    if not parent_pid:
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux: the supervisor's own shutdown still stops its processes
        return
    if os.getppid() != parent_pid:  # the supervisor died before prctl took effect
        os._exit(1)


def uvicorn_config(settings: Any) -> Any:
    import uvicorn

    from headwater.http.app import create_app
    from headwater.http.protocol import protocol_class

    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=protocol_class(settings),  # httptools, with head, header and per-address limits
        ws="none",  # no WebSocket route: an upgrade is an ordinary request
        lifespan="on",
        access_log=settings.access_log,
        log_config=None,
        limit_concurrency=settings.limit_concurrency,
        timeout_graceful_shutdown=10,
        server_header=False,
    )


def run_http(settings: Any, sock: socket.socket) -> int:
    import uvicorn

    if settings.role == "http":  # a background process runs the tailers: they come first
        from headwater.ops.priority import nice_this_thread

        nice_this_thread(settings.worker_nice)  # inherited by the threads started after

    server = uvicorn.Server(uvicorn_config(settings))
    server.run(sockets=[sock])
    return 0 if server.started else START_FAILED


def run_background(settings: Any, ready_fd: int | None) -> int:
    """Tailers and schedules, no HTTP. The tailer threads keep the process's priority, above the
    workers'; the jobs run below both (headwater.ops.priority)."""
    try:
        asyncio.run(_background(settings, ready_fd))
    except Exception:
        log.exception("the background process could not start")
        return START_FAILED
    return 0


async def _background(settings: Any, ready_fd: int | None) -> None:
    from headwater.ops.priority import nice_this_thread
    from headwater.wiring import start_runtime

    # the jobs (ETL, audience recompute, experiment results ...) run in the default executor
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(
            thread_name_prefix="background-job",
            initializer=nice_this_thread,
            initargs=(settings.background_nice,),
        )
    )
    rt = await start_runtime(settings)
    if ready_fd is not None:
        os.write(ready_fd, b"1")
        os.close(ready_fd)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        await stop.wait()
    finally:
        await rt.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m headwater.process.worker", description=__doc__)
    ap.add_argument("name", help="a label for ps: http-0, background ...")
    ap.add_argument("--plan-fd", type=int, required=True)
    args = ap.parse_args(argv)
    plan = read_plan(args.plan_fd)
    die_with_parent(int(plan.get("parent_pid") or 0))
    settings = plan_settings(plan)
    from headwater.ops.logs import configure_logging

    configure_logging(settings.log_level)
    if settings.role == "background":
        return run_background(settings, plan.get("ready_fd"))
    sock = socket.socket(fileno=int(plan["sock_fd"]))
    return run_http(settings, sock)


if __name__ == "__main__":
    sys.exit(main())
