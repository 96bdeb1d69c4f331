"""A metric query that spills beyond its memory limit writes under the data folder, not in the
caller's working directory."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from headwater.lake.params import make_range
from headwater.lake.scope import Scope


def test_spill_goes_under_the_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    data = tmp_path / "data"
    day = date(2026, 11, 1).isoformat()
    with Scope(data, make_range(day, day, "UTC", "UTC"), memory_limit="64MB") as scope:
        query = "SELECT count(*) FROM (SELECT md5(range::VARCHAR) AS b FROM range(4000000) ORDER BY b)"
        assert scope.con.execute(query).fetchone()[0] == 4_000_000
        spilled = data / "run" / "duckdb-spill"
        assert spilled.is_dir()
    assert os.listdir(cwd) == []
