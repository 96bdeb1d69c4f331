"""With several workers, tailers and schedules run in one background process.

Workers answer HTTP and stand by for the tailers' locks (fail-over); the background process,
started first, holds them. Under a saturating load the tailers come first, then the workers, then
the background process's jobs (headwater.ops.priority).
"""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.helpers import Server, create_key


@pytest.fixture
def two_workers(tmp_path: Path, servers: ServerFactory) -> Server:
    return servers(tmp_path / "data", workers=2).start(timeout=60)


def _server_pids(srv: Server, role: str) -> list[int]:
    """The live processes of the server's group started for ``role`` (background, http-0 ...)."""
    assert srv.proc is not None
    group = os.getpgid(srv.proc.pid)
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(fields[2]) != group or fields[0] == "Z" or b"headwater.process.worker" not in argv:
            continue
        if argv[argv.index(b"headwater.process.worker") + 1].decode().startswith(role):
            found.append(int(pid))
    return found


def _background_pid(srv: Server) -> int:
    pids = _server_pids(srv, "background")
    return pids[0] if len(pids) == 1 else 0


def _thread_niceness(pid: int) -> list[int]:
    """The niceness of each thread of a process (on Linux it belongs to each thread)."""
    nice = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            nice.append(int(Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()[16]))
        except OSError:  # the thread ended
            continue
    return nice


def _wait_for(predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_background_process_runs_tailers_and_schedules(two_workers: Server) -> None:
    srv = two_workers
    token = srv.admin_token
    auth = {"Authorization": f"Bearer {token}"}
    checks = srv.checks()
    assert checks["tailer_realtime"]["role"] == "standby"  # workers only stand by
    assert checks["live"]["role"] == "standby"
    assert "etl_scheduler" not in checks  # schedules run in the background process only
    bg = _background_pid(srv)
    assert bg > 0, "no background process"

    key = create_key(srv.data_dir, "bg")
    batch = [
        {"type": "track", "event": "Saved", "userId": f"u{i}", "properties": {"tool_id": "doc"}}
        for i in range(50)
    ]
    assert (
        httpx.post(srv.url + "/v1/batch", json={"batch": batch}, headers={"X-Write-Key": key}).json()[
            "accepted"
        ]
        == 50
    )
    today = datetime.now(UTC).date().isoformat()

    def counted() -> bool:
        body = httpx.get(f"{srv.url}/api/v1/realtime/daily?date={today}", headers=auth).json()
        return any(r.get("tool_id") == "doc" and r.get("count") == 50 for r in body.get("rows", []))

    _wait_for(counted)

    # a worker's /readyz shows the lag of the tailer running in the background process
    def reported() -> bool:
        rt = srv.checks()["tailer_realtime"]
        return rt.get("active_pid") == bg and rt["applied_events"] >= 50 and rt["lag_events"] == 0

    _wait_for(reported)
    rt = srv.checks()["tailer_realtime"]
    assert rt["role"] == "standby" and rt["status_age_seconds"] < 5 and "lag_seconds" in rt

    # the background process dies: the supervisor restarts it, collection never stops
    os.kill(bg, signal.SIGKILL)
    assert (
        httpx.post(srv.url + "/v1/batch", json={"batch": batch[:5]}, headers={"X-Write-Key": key}).json()[
            "accepted"
        ]
        == 5
    )
    _wait_for(lambda: _background_pid(srv) not in (0, bg))

    def counted_again() -> bool:
        body = httpx.get(f"{srv.url}/api/v1/realtime/daily?date={today}", headers=auth).json()
        return any(r.get("tool_id") == "doc" and r.get("count") == 55 for r in body.get("rows", []))

    _wait_for(counted_again, timeout=30)

    # whoever took the tailer over (the new background process or a worker), /readyz follows it
    def followed() -> bool:
        rt = srv.checks()["tailer_realtime"]
        if rt["role"] == "active":
            return True
        pid = rt.get("active_pid")
        return pid is not None and pid != bg and Path(f"/proc/{pid}").exists()

    _wait_for(followed)


def test_tailers_come_first_then_collection_then_the_jobs(two_workers: Server) -> None:
    srv = two_workers
    bg = _background_pid(srv)
    workers = _server_pids(srv, "http-")
    assert bg > 0 and len(workers) == 2
    for pid in workers:  # every thread of a worker: HTTP, the log writer's fsync
        assert set(_thread_niceness(pid)) == {10}, f"worker {pid}: {_thread_niceness(pid)}"
    # the background process: its main thread and the tailer threads at 0, job threads at 15 (the
    # jobs' executor starts threads as the services' start-up calls need them)
    _wait_for(lambda: 15 in _thread_niceness(bg))
    assert set(_thread_niceness(bg)) == {0, 15}
    assert len([n for n in _thread_niceness(bg) if n == 0]) >= 4  # main + realtime, live, audiences


def test_worker_niceness_zero_puts_collection_first(tmp_path: Path, servers: ServerFactory) -> None:
    srv = servers(tmp_path / "data", workers=2, env={"HEADWATER_WORKER_NICE": "0"}).start(timeout=60)
    for pid in _server_pids(srv, "http-"):
        assert set(_thread_niceness(pid)) == {0}
