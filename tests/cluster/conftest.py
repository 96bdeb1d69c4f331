from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.object_stores import StoreServer, gcs_server


@pytest.fixture(scope="module")
def gcs() -> Iterator[StoreServer]:
    with gcs_server() as server:
        yield server
