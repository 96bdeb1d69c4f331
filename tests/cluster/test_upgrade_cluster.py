"""`headwater etl upgrade` in a cluster (docs/insights.md, "Upgrading a lake"): it runs under the
pipeline lease on the last lake pushed and pushes it, so every host pulls the upgraded files (a real
PostgreSQL for the lease, a real GCS emulator for the lake)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headwater.cluster.pipeline import change_lake
from headwater.cluster.turn import take_turn
from headwater.lake.derived import file_state
from headwater.lake.layout import Lake
from tests.cluster.test_pipeline import NOW, _events, _host, _lake_rows
from tests.helpers import cli
from tests.insights.test_derived_columns import strip
from tests.object_stores import StoreServer


def states(host_dir: Path) -> set[str]:
    return {file_state(p) for p in Lake(host_dir / "lake").event_files()}


def test_the_upgrade_changes_the_lake_every_host_pulls(
    gcs: StoreServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_url: str
) -> None:
    bucket = gcs.new_bucket(monkeypatch)
    a, b = (_host(tmp_path, n, bucket, pg_url) for n in ("host-a", "host-b"))
    _events(a, range(0, 10))
    _events(b, range(10, 20))
    take_turn(a, NOW)
    take_turn(b, NOW)  # b loads both hosts' files and pushes
    assert _lake_rows(b) == (20, 20, 20)

    def old() -> None:  # the lake as the code before the derived columns wrote it
        for path in Lake(b.data_dir / "lake").event_files():
            strip(path)

    change_lake(b, old)
    take_turn(a, NOW)  # a pulls
    assert states(a.data_dir) == states(b.data_dir) == {"old"}

    env = {
        "HEADWATER_CLUSTER": "1",
        "HEADWATER_WRITER_ID": a.writer_id,
        "HEADWATER_OBJECT_STORE_URL": bucket,
        "HEADWATER_DATABASE_URL": pg_url,
        **gcs.env,
    }
    dry = json.loads(cli(a.data_dir, "etl", "upgrade", "--dry-run", "--json", env=env).stdout)
    assert dry["files_rewritten"] == 1 and states(a.data_dir) == {"old"}
    done = json.loads(cli(a.data_dir, "etl", "upgrade", "--json", env=env).stdout)
    assert done["files_rewritten"] == 1 and done["rows_computed"] == 20
    assert states(a.data_dir) == {"new"}
    take_turn(b, NOW)  # b pulls the upgraded lake
    assert states(b.data_dir) == {"new"} and _lake_rows(b) == (20, 20, 20)
    again = json.loads(cli(a.data_dir, "etl", "upgrade", "--json", env=env).stdout)
    assert again["files_rewritten"] == 0
