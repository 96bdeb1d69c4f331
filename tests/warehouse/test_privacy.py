"""A person out of the warehouse (issue 17), against the BigQuery emulator and the official client:
their events and identity rows deleted by DML, their hours of hourly_stats recomputed so the other
people's unique counts are exact, and a second run deleting nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from headwater.batch.etl import run_daily
from headwater.config import Settings
from headwater.privacy.requests import file_request
from headwater.privacy.runner import DeletionRunner
from headwater.privacy.warehouse_erase import erase_from_warehouse
from headwater.stores.sql.database import open_database
from headwater.stores.sql.webhooks import SqlRegulations
from headwater.stores.warehouse import open_warehouse
from headwater.warehouse.export import Exporter
from tests.batch.logdata import ev, write_log
from tests.bq_services import BqEmulator

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
    assert report == {
        "events": 3,
        "identities": report["identities"],
        "staged": report["staged"],
        "hours_recomputed": 2,
    }, report
    assert report["identities"] >= 1
    left = wh.query(f"SELECT user_id, anonymous_id FROM {wh.table('events')}").rows
    assert {(r["user_id"], r["anonymous_id"]) for r in left} == {("wh-kept", None)}
    ids = wh.query(f"SELECT key, user_id FROM {wh.table('identities')}").rows
    assert all("wh-gone" not in (r["key"], r["user_id"]) and r["key"] != "anon:wh-device" for r in ids)
    assert stats() == [(9, 1, 1), (10, 1, 1), (11, 1, 1)]  # the other person's counts, exact
    again = erase_from_warehouse(warehouse_url, ["wh-gone", "wh-device"])
    assert again == {"events": 0, "identities": 0, "staged": 0, "hours_recomputed": 0}


def test_a_whole_deletion_leaves_no_id_in_any_warehouse_table(
    tmp_path: Path, warehouse_url: str, bq_emulator: BqEmulator
) -> None:
    """The server's path (the deletion runner, a warehouse URL configured) by the device's
    anonymousId; then every table of the dataset, listed by the client, read whole."""
    events = [
        ev(at(9, 1), anon="wh-device", event="Opened", props={"plan": "wh-gone's"}),
        ev(at(9, 2), user="wh-gone", anon="wh-device", type="identify", traits={"email": "g@x.test"}),
        ev(at(10, 5), user="wh-gone", event="Opened"),
        ev(at(10, 6), user="wh-gone2", previous="wh-gone", type="alias"),
        ev(at(9, 3), user="wh-kept", anon="wh-kept-device", type="identify"),
        ev(at(10, 4), user="wh-kept", event="Opened"),
    ]
    write_log(tmp_path, sorted(events, key=lambda e: e["receivedAt"]))
    run_daily(tmp_path, NOW.date(), "UTC")  # the lake's identity map links the device to its user
    settings = Settings(data_dir=tmp_path, warehouse_url=warehouse_url)
    wh = open_warehouse(warehouse_url)
    exporter = Exporter(settings, wh)
    try:
        exporter.init()
        assert exporter.sync(now=NOW).rows == len(events)
    finally:
        exporter.close()
        wh.close()
    person, kept = ["wh-gone", "wh-device", "wh-gone2"], ["wh-kept", "wh-kept-device"]
    dataset = warehouse_url.split("?")[0].rsplit("/", 1)[1]
    assert ids_in_dataset(bq_emulator, dataset, person)  # the scan sees them before
    db = open_database(settings.effective_database_url)
    try:
        rid = file_request(db, "SUPPRESS_WITH_DELETE", {"anonymousId": "wh-device"}, "api")["id"]
        runner = DeletionRunner(settings, db, None)
        assert runner.run_pending() == 1
        shown = SqlRegulations(db).get(rid)
    finally:
        db.close()
    assert shown is not None and shown["status"] == "FINISHED", shown
    assert shown["progress"]["warehouse"]["status"] == "FINISHED", shown["progress"]
    assert shown["progress"]["warehouse"]["events"] == 4, shown["progress"]
    assert set(ids_in_dataset(bq_emulator, dataset, kept)) >= {"events", "identities"}
    found = ids_in_dataset(bq_emulator, dataset, person)  # the export's staging table too
    assert found == {}, found
    assert shown["progress"]["warehouse"]["staged"] > 0, shown["progress"]


def ids_in_dataset(emulator: BqEmulator, dataset: str, ids: list[str]) -> dict[str, list[str]]:
    """{table: [ids found]} over EVERY table (and view) of the dataset, each read whole."""
    client = emulator.client()
    try:
        tables = [t.table_id for t in client.list_tables(f"{emulator.project}.{dataset}")]
        assert {"events", "identities", "hourly_stats"} <= set(tables), tables
        found: dict[str, list[str]] = {}
        for table in tables:
            rows = client.query(f"SELECT * FROM `{emulator.project}.{dataset}.{table}`").result()
            text = repr([dict(row.items()) for row in rows])
            hits = [i for i in ids if i in text]
            if hits:
                found[table] = hits
        return found
    finally:
        client.close()
