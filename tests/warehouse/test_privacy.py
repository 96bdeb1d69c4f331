"""A person out of the warehouse (issue 17), against the BigQuery emulator and the official client:
their events and identity rows deleted by DML, their hours of hourly_stats recomputed so the other
people's unique counts are exact, and a second run deleting nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from headwater.config import Settings
from headwater.privacy.warehouse_erase import erase_from_warehouse
from headwater.stores.warehouse import open_warehouse
from headwater.warehouse.export import Exporter
from tests.batch.logdata import ev, write_log

NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)


@pytest.fixture
def exporter(tmp_path: Path, warehouse_url: str) -> Iterator[Exporter]:
    wh = open_warehouse(warehouse_url)
    out = Exporter(Settings(data_dir=tmp_path, warehouse_url=warehouse_url), wh)
    out.init()
    yield out
    out.close()
    wh.close()


def at(hour: int, minute: int = 0) -> str:
    return datetime(2026, 11, 20, hour, minute, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_deleting_a_person_from_the_warehouse(exporter: Exporter, tmp_path: Path, warehouse_url: str) -> None:
    events = [
        ev(at(9, 1), anon="wh-device", event="Opened"),
        ev(at(9, 2), user="wh-gone", anon="wh-device", type="identify"),
        ev(at(10, 5), user="wh-gone", event="Opened"),
        ev(at(9, 3), user="wh-kept", event="Opened"),
        ev(at(10, 4), user="wh-kept", event="Opened"),
        ev(at(11, 4), user="wh-kept", event="Opened"),
    ]
    write_log(tmp_path, sorted(events, key=lambda e: e["receivedAt"]))  # a log is in received order
    assert exporter.sync(now=NOW).rows == 6
    wh = exporter.warehouse

    def stats() -> list[tuple[int, int, int]]:
        rows = wh.query(
            f"SELECT hour, sum(unique_users) AS u, sum(total_events) AS n FROM {wh.table('hourly_stats')}"
            " GROUP BY hour ORDER BY hour"
        ).rows
        return [(r["hour"].hour, int(r["u"]), int(r["n"])) for r in rows]

    assert stats() == [(9, 3, 3), (10, 2, 2), (11, 1, 1)]
    report = erase_from_warehouse(warehouse_url, ["wh-gone", "wh-device"])
    assert report == {"events": 3, "identities": report["identities"], "hours_recomputed": 2}, report
    assert report["identities"] >= 1
    left = wh.query(f"SELECT user_id, anonymous_id FROM {wh.table('events')}").rows
    assert {(r["user_id"], r["anonymous_id"]) for r in left} == {("wh-kept", None)}
    ids = wh.query(f"SELECT key, user_id FROM {wh.table('identities')}").rows
    assert all("wh-gone" not in (r["key"], r["user_id"]) and r["key"] != "anon:wh-device" for r in ids)
    assert stats() == [(9, 1, 1), (10, 1, 1), (11, 1, 1)]  # the other person's counts, exact
    again = erase_from_warehouse(warehouse_url, ["wh-gone", "wh-device"])
    assert again == {"events": 0, "identities": 0, "hours_recomputed": 0}
