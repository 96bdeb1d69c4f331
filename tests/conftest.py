from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import Server, create_key
from tests.redis_services import RedisServer

ServerFactory = Callable[..., Server]


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hw")


@pytest.fixture(scope="module")
def server(module_dir: Path) -> Iterator[Server]:
    """One real server per test module (embedded storage, 1 worker, fsync always)."""
    srv = Server(module_dir / "data", env={"HEADWATER_BODY_TIMEOUT_SECONDS": "3"})
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def write_key(server: Server) -> str:
    return create_key(server.data_dir, "module-source")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Several workers need a shared live store (memory:// is refused): a private redis-server."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def servers(redis_url: str) -> Iterator[ServerFactory]:
    """Servers made by a test; every one is stopped at the end, even when the test fails.

    A server with several workers gets the module's private Redis as its live store.
    """
    made: list[Server] = []

    def make(data_dir: Path, workers: int = 1, env: dict[str, str] | None = None) -> Server:
        if workers > 1:
            env = {"HEADWATER_REDIS_URL": redis_url, **(env or {})}
        srv = Server(data_dir, workers=workers, env=env)
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.stop()


from tests.services import pg_admin_url, pg_url, private_pg  # noqa: E402, F401
