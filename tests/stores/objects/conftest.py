from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.object_stores import SERVERS, StoreServer


@pytest.fixture(scope="module", params=sorted(SERVERS))
def store_server(request: pytest.FixtureRequest) -> Iterator[StoreServer]:
    with SERVERS[request.param]() as server:
        yield server
