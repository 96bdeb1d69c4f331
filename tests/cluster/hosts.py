"""The hosts of a multi-host test or benchmark (docs/scale-out.md): `headwater serve` in a network
namespace each, and the services they share (PostgreSQL, a 3-master Redis Cluster, a GCS
emulator) on the address of the bridge the namespaces are plugged into."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.cluster.netns import Network
from tests.helpers import HEADWATER
from tests.object_stores import gcs_server
from tests.redis_services import RedisClusterNodes
from tests.services import PgInstance

TOKEN = "hw-admin-cluster-test-token-0123456789"
FAKETIME_LIBS = [
    Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"),
    Path("/usr/lib/faketime/libfaketime.so.1"),
]


def faketime(days: int, offset: str | None = None) -> dict[str, str]:
    """The environment of a process whose clock is ``days`` later (or ``offset``: libfaketime's
    "+65m", "+2h" ...)."""
    lib = next((p for p in FAKETIME_LIBS if p.exists()), None)
    if lib is None:
        pytest.fail("this test moves the clock of a process with libfaketime: apt-get install faketime")
    return {"LD_PRELOAD": str(lib), "FAKETIME": offset or f"+{days}d", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


SHM = Path("/dev/shm")


def clean_faketime_shm(since: float) -> int:
    """Remove the shared memory and semaphores libfaketime left in /dev/shm for processes that are
    gone (a process killed with kill -9 never removes its own) and that were made after ``since``."""
    removed = 0
    for path in [*SHM.glob("faketime_shm_*"), *SHM.glob("sem.faketime_sem_*")]:
        pid = path.name.rsplit("_", 1)[-1]
        try:
            if path.stat().st_mtime < since or (pid.isdigit() and Path(f"/proc/{pid}").exists()):
                continue
            path.unlink()
            removed += 1
        except FileNotFoundError:
            continue
    return removed


class Host:
    """`headwater serve` in host i's namespace, on its own address and data directory."""

    def __init__(self, net: Network, i: int, root: Path, env: dict[str, str]) -> None:
        self.net, self.i = net, i
        self.name = f"host-{'abc'[i]}"
        self.data = root / self.name
        self.url = f"http://{net.address(i)}:8000"
        self.env = {
            **env,
            "HEADWATER_DATA_DIR": str(self.data),
            "HEADWATER_WRITER_ID": self.name,
            "HEADWATER_HOST": net.address(i),
            "HEADWATER_PORT": "8000",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        with open(self.data / "server.stderr", "ab") as log:
            self.proc = subprocess.Popen(
                [*self.net.exec_prefix(self.i), *HEADWATER, "serve"],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, (self.data / "server.stderr").read_text()[-3000:]
            time.sleep(0.2)
        raise AssertionError(
            f"{self.name} did not start: {(self.data / 'server.stderr').read_text()[-3000:]}"
        )

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def checks(self) -> dict[str, Any]:
        r = httpx.get(self.url + "/readyz", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        out: dict[str, Any] = r.json()["checks"]
        return out

    def _turn_command(self, offset: str | None = None) -> tuple[list[str], dict[str, str]]:
        return [*self.net.exec_prefix(self.i), *HEADWATER, "cluster", "turn", "--json"], {
            **self.env,
            **faketime(1, offset),
        }

    def turn(self, offset: str | None = None) -> dict[str, Any]:
        """The host's turn a day later (the day is closed), or ``offset`` later: its report."""
        cmd, env = self._turn_command(offset)
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode in (0, 1), out.stderr[-3000:]
        report: dict[str, Any] = json.loads(out.stdout)
        return report

    def start_turn(self) -> subprocess.Popen[bytes]:
        cmd, env = self._turn_command()
        return subprocess.Popen(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )


@contextmanager
def services(gateway: str, root: Path) -> Iterator[dict[str, str]]:
    with ExitStack() as stack:
        pg = PgInstance(host=gateway)
        pg.start()
        stack.callback(pg.destroy)
        with psycopg.connect(pg.admin_url, autocommit=True) as conn:
            conn.execute(b"CREATE DATABASE headwater")
        redis = RedisClusterNodes(root / "redis", host=gateway).start()
        stack.callback(redis.stop)
        gcs = stack.enter_context(gcs_server(host=gateway))
        os.environ.update(gcs.env)
        stack.callback(lambda: [os.environ.pop(k, None) for k in gcs.env])
        gcs.client().create_bucket(bucket_or_name="hw-cluster")
        yield {
            "HEADWATER_CLUSTER": "1",
            "HEADWATER_DATABASE_URL": pg.url("headwater"),
            "HEADWATER_REDIS_URL": redis.url,
            "HEADWATER_OBJECT_STORE_URL": "gs://hw-cluster/hw",
            "HEADWATER_ADMIN_TOKEN": TOKEN,
            "HEADWATER_CLUSTER_LEASE_SECONDS": "4",
            **gcs.env,
        }
