from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Server, create_key


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


from tests.services import pg_admin_url, pg_url, private_pg  # noqa: E402, F401
