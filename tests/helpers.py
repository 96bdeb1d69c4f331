"""Test helpers: free ports, a real `headwater serve` subprocess, reading the log back."""

from __future__ import annotations

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

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0, wait_ready: bool = True) -> Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._stderr = open(self.stderr_path, "ab")  # noqa: SIM115 - kept open for the process' life
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
        locks = list((self.data_dir / "log").glob(".writer-t-*.lock"))
        return len(locks) >= self.workers and self.stderr().count("startup complete") >= self.workers

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
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
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._stderr.close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def read_log(data_dir: Path, kind: str = "events") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted((data_dir / "log").glob(f"{kind}-*.jsonl")):
        with open(path, "rb") as fh:
            for line in fh:
                assert line.endswith(b"\n"), f"torn line in {path}"
                out.append(json.loads(line))
    return out


def iter_lines(data_dir: Path, kind: str = "events") -> Iterator[bytes]:
    for path in sorted((data_dir / "log").glob(f"{kind}-*.jsonl")):
        yield from path.read_bytes().splitlines()
