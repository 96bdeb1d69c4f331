"""Real Redis and Redis Cluster for tests: private redis-server processes on free loopback ports.

No mocks: the live store's contract suite and fault tests run against these. A missing
redis-server fails the test with the package to install.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.helpers import free_port

INSTALL_HINT = "redis-server is not installed: apt-get install redis-server (it provides redis-cli too)"


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_port() -> int:
    """A free port P <= 55535 whose cluster bus port P + 10000 is free too."""
    for _ in range(200):
        port = random.randint(20_000, 45_000)
        if port_is_free(port) and port_is_free(port + 10_000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def require_redis_server() -> str:
    path = shutil.which("redis-server")
    if path is None:
        pytest.fail(INSTALL_HINT)
    return path


def reachable(host: str, port: int) -> bool:
    try:
        return bool(redis.Redis(host=host, port=port, socket_connect_timeout=0.2).ping())
    except redis.RedisError:
        return False


class RedisServer:
    """One private redis-server (no persistence: a restart comes back empty)."""

    def __init__(
        self, workdir: Path, port: int | None = None, args: tuple[str, ...] = (), host: str = "127.0.0.1"
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.args = args
        self.host = host
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        binary = require_redis_server()
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / f"redis-{self.port}.log", "ab")  # noqa: SIM115 - the server's lifetime
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                self.host,
                "--protected-mode",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                *self.args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not reachable(self.host, self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"redis-server on port {self.port} did not start (see {self.workdir})")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def client(self) -> redis.Redis:
        return redis.Redis(host=self.host, port=self.port, decode_responses=True)


class RedisClusterNodes:
    """A 3-master Redis Cluster on loopback (no replicas), as in the field notes."""

    def __init__(self, workdir: Path, full_coverage: bool = True, host: str = "127.0.0.1") -> None:
        self.workdir = workdir
        self.host = host
        coverage = "yes" if full_coverage else "no"
        self.nodes: list[RedisServer] = []
        for _ in range(3):
            port = free_cluster_port()
            node_dir = workdir / f"node-{port}"
            args = (
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                f"nodes-{port}.conf",
                "--cluster-node-timeout",
                "1000",
                "--cluster-require-full-coverage",
                coverage,
            )
            self.nodes.append(RedisServer(node_dir, port, args, host))

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"{self.host}:{n.port}" for n in self.nodes)

    def start(self) -> RedisClusterNodes:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> RedisClusterNodes:
        for node in self.nodes:
            node.start()
        cli = shutil.which("redis-cli")
        if cli is None:
            pytest.fail(INSTALL_HINT)
        out = subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *[f"{self.host}:{n.port}" for n in self.nodes],
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if out.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {out.stdout}{out.stderr}")
        deadline = time.monotonic() + 20
        while not all(self._state_ok(n) for n in self.nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("the test cluster did not reach cluster_state:ok")
            time.sleep(0.05)
        return self

    @staticmethod
    def _state_ok(node: RedisServer) -> bool:
        info = str(node.client().execute_command("CLUSTER", "INFO"))  # type: ignore[no-untyped-call]
        return "cluster_state:ok" in info

    def node_of(self, key: str) -> RedisServer:
        """The master serving ``key``'s slot."""
        slot = int(self.nodes[0].client().execute_command("CLUSTER", "KEYSLOT", key))  # type: ignore[no-untyped-call]
        for start, end, master, *_ in self.nodes[0].client().execute_command("CLUSTER", "SLOTS"):  # type: ignore[no-untyped-call]
            if start <= slot <= end:
                port = int(master[1])
                return next(n for n in self.nodes if n.port == port)
        raise LookupError(f"no master serves slot {slot}")

    def stop(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.stop()


def unique_namespace() -> str:
    return "t" + uuid.uuid4().hex[:12]


def drop_namespace(url: str, namespace: str) -> None:
    """Delete every key of a test namespace (counters, sticky buckets, memberships)."""
    from headwater.stores.live.namespace import split_namespace

    plain, _ = split_namespace(url)
    client = redis.Redis.from_url(plain)
    try:
        for pattern in (f"{{{namespace}}}:*", f"{namespace}:*"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            for key in keys:
                client.delete(key)
    finally:
        client.close()


def counters_at(url: str, options: Any = None) -> Any:
    """The Counters port of the live store at ``url`` (a backend of its own: memory:// is fresh)."""
    from headwater.stores.live import open_live
    from headwater.stores.live.ports import StoreOptions

    return open_live(url).counters(options or StoreOptions())


def wait_until(predicate: object, timeout: float = 10.0, interval: float = 0.05) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        time.sleep(interval)


@pytest.fixture(scope="session")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """redis:// of a reachable Redis: 127.0.0.1:6379 when one answers, else a private server."""
    if reachable("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/0"
        return
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(params=["memory", "redis"])
def live_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each live store a server can run on: memory://, and a namespace of the shared Redis
    (dropped after the test). Import it with ``shared_redis`` into a test module to use it."""
    if request.param == "memory":
        yield "memory://"
        return
    namespace = unique_namespace()
    url = f"{request.getfixturevalue('shared_redis')}?namespace={namespace}"
    try:
        yield url
    finally:
        drop_namespace(url, namespace)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterNodes]:
    cluster = RedisClusterNodes(tmp_path_factory.mktemp("cluster")).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture()
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test alone, to stop, kill and restart."""
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()
