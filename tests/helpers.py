"""Test helpers: free ports, a real `headwater serve` subprocess, reading the log back."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
HEADWATER = [sys.executable, "-m", "headwater"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "HEADWATER_DATA_DIR": str(data_dir), **(env or {})}
    return subprocess.run(
        [*HEADWATER, *args], capture_output=True, text=True, env=full_env, check=check, timeout=60
    )


def create_key(data_dir: Path, name: str = "test-source", env: dict[str, str] | None = None) -> str:
    out = cli(data_dir, "keys", "create", name, env=env)
    return out.stdout.strip().splitlines()[-1]


class Server:
    """A real `headwater serve` process on a free port with its own data dir."""

    def __init__(self, data_dir: Path, workers: int = 1, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.workers = workers
        self.env = {
            **os.environ,
            "HEADWATER_DATA_DIR": str(data_dir),
            "HEADWATER_PORT": str(self.port),
            "HEADWATER_WORKERS": str(workers),
            "HEADWATER_WRITER_ID": "t",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr_path = data_dir / f"server-{self.port}.stderr"
        self._stderr_offset = 0  # where this run's stderr starts (a restart appends to the file)

    @property
    def writer_id(self) -> str:
        return self.env["HEADWATER_WRITER_ID"]

    @property
    def writer_ids(self) -> list[str]:
        """The writer id of each worker: ``<id>`` alone, or ``<id>-<n>`` under the supervisor."""
        if self.workers == 1:
            return [self.writer_id]
        return [f"{self.writer_id}-{n}" for n in range(self.workers)]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_token(self) -> str:
        """HEADWATER_ADMIN_TOKEN, else the token a server printed at its first start on this data dir
        (only its hash is kept in the data dir)."""
        if self.env.get("HEADWATER_ADMIN_TOKEN"):
            return self.env["HEADWATER_ADMIN_TOKEN"]
        for path in sorted(self.data_dir.glob("server-*.stderr")):
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("Admin token: "):
                    return line.split(": ", 1)[1].strip()
        raise AssertionError(f"no admin token: none set, none printed in {self.data_dir}")

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def readyz(self, timeout: float = 10) -> httpx.Response:
        """GET /readyz with the admin token: the status and every check (public: the status only)."""
        return httpx.get(self.url + "/readyz", headers=self.admin_headers, timeout=timeout)

    def checks(self, timeout: float = 10) -> dict[str, Any]:
        """The checks of /readyz (with the admin token)."""
        return dict(self.readyz(timeout).json()["checks"])

    def metrics(self, timeout: float = 10) -> str:
        """GET /metrics with the admin token: Prometheus' text."""
        r = httpx.get(self.url + "/metrics", headers=self.admin_headers, timeout=timeout)
        assert r.status_code == 200, r.text
        return r.text

    def start(self, timeout: float = 20.0, wait_ready: bool = True) -> Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._stderr = open(self.stderr_path, "ab")  # noqa: SIM115 - kept open for the process' life
        self._stderr_offset = self._stderr.tell()
        self.proc = subprocess.Popen(
            [*HEADWATER, "serve"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            start_new_session=True,
        )
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.stderr()[-3000:]}")
            try:
                ready = httpx.get(self.url + "/readyz", timeout=1).status_code == 200
                # with several workers, every worker must be up
                if ready and (self.workers == 1 or self._all_workers_up()):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"server not ready after {timeout}s: {self.stderr()[-3000:]}")

    def _all_workers_up(self) -> bool:
        held = self.writer_pids()
        return all(w in held for w in self.writer_ids) and (
            self.stderr(this_run=True).count("startup complete") >= self.workers
        )

    def writer_pids(self) -> dict[str, int]:
        """Writer id -> pid of the process holding that writer's lock now (read from /proc/locks,
        so a lock file left by a dead process does not count and nothing here touches the lock)."""
        by_inode: dict[int, str] = {}
        for path in (self.data_dir / "log").glob(".writer-*.lock"):
            try:
                by_inode[path.stat().st_ino] = path.name[len(".writer-") : -len(".lock")]
            except FileNotFoundError:
                continue
        held: dict[str, int] = {}
        with open("/proc/locks") as fh:
            for line in fh:
                parts = line.split()
                # "1: FLOCK  ADVISORY  WRITE 1234 fe:00:5678 0 EOF" (blocked waiters have "->")
                if len(parts) < 6 or parts[1] != "FLOCK" or parts[3] != "WRITE":
                    continue
                inode = int(parts[5].rsplit(":", 1)[1])
                if inode in by_inode:
                    held[by_inode[inode]] = int(parts[4])
        return held

    def stderr(self, this_run: bool = False) -> str:
        try:
            with open(self.stderr_path, "rb") as fh:
                if this_run:
                    fh.seek(self._stderr_offset)
                return fh.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._stderr.close()
        return self.proc.returncode

    def kill9(self) -> None:
        """SIGKILL the server and every worker (its whole process group) at once."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._stderr.close()
        # The workers die asynchronously: until the last one is gone it still holds its writer
        # lock and the listening socket, and a restart on this data dir would fail.
        deadline = time.monotonic() + 10
        while _live_group_members(self.proc.pid):
            if time.monotonic() > deadline:
                raise TimeoutError(f"processes of group {self.proc.pid} still alive 10 s after SIGKILL")
            time.sleep(0.01)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _live_group_members(pgid: int) -> list[int]:
    """Pids of process group ``pgid`` that have not exited (zombies, which hold nothing, excluded)."""
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            live.append(int(stat.parent.name))
    return live


def read_log(data_dir: Path, kind: str = "events") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted((data_dir / "log").glob(f"{kind}-*.jsonl")):
        with open(path, "rb") as fh:
            for line in fh:
                assert line.endswith(b"\n"), f"torn line in {path}"
                if line.strip():  # a line erased by a deletion (docs/privacy.md) is all spaces
                    out.append(json.loads(line))
    return out


def iter_lines(data_dir: Path, kind: str = "events") -> Iterator[bytes]:
    for path in sorted((data_dir / "log").glob(f"{kind}-*.jsonl")):
        yield from path.read_bytes().splitlines()
