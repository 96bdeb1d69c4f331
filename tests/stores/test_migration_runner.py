"""The migration runner applies every version not yet applied, in order, on SQLite and PostgreSQL.

Versions are reserved per feature branch, so a lower number may land after a higher one: the
runner must apply it then (by set, not by max), exactly once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.stores.sql import migrations
from headwater.stores.sql.database import open_database


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_gap_filled_later_is_applied(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "sqlite":
        url, attr = f"sqlite:///{tmp_path / 'm.sqlite3'}", "SQLITE"
    else:
        url, attr = request.getfixturevalue("pg_url"), "POSTGRES"
    module = migrations
    base = list(getattr(module, attr))
    monkeypatch.setattr(module, attr, [*base, (91, "CREATE TABLE t91 (x INTEGER)")])
    store = open_database(url)
    try:
        assert store.schema_version() == 91
        # a lower version lands afterwards (another branch): applied now, once
        monkeypatch.setattr(
            module, attr, [*base, (90, "CREATE TABLE t90 (x INTEGER)"), (91, "CREATE TABLE t91 (x INTEGER)")]
        )
        assert store.upgrade() == [90]
        assert store.upgrade() == []
    finally:
        store.close()
