"""A cluster's hosts export their own logs into one warehouse (docs/scale-out.md): the rows of an
hour carry the host they came from, each host's ledger is its own, and a host exporting an hour
again replaces its own rows of that hour only; hourly_stats count every host's events once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from headwater.config import Settings
from headwater.stores.warehouse import open_warehouse
from headwater.warehouse.export import Exporter
from tests.batch.logdata import ev, write_log
from tests.warehouse.test_export import NOW, at, count, rows


def _host(root: Path, name: str, warehouse_url: str, pg_url: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        data_dir=root / name,
        writer_id=name,
        cluster=True,
        warehouse_url=warehouse_url,
        database_url=pg_url,
        object_store_url="gs://hw-cluster/hw",
    )


def test_two_hosts_export_the_same_hour_without_replacing_each_other(
    tmp_path: Path, warehouse_url: str, pg_url: str
) -> None:
    a, b = (_host(tmp_path, n, warehouse_url, pg_url) for n in ("host-a", "host-b"))
    write_log(a.data_dir, [ev(at(10, i), user=f"u{i % 4}", mid=f"a{i}") for i in range(12)], writer="host-a")
    write_log(b.data_dir, [ev(at(10, i), user=f"u{i % 4}", mid=f"b{i}") for i in range(8)], writer="host-b")
    # a retry the client sent to both hosts: two rows, one event (events_deduped, hourly_stats)
    write_log(b.data_dir, [ev(at(10, 30), user="u1", mid="a3")], writer="host-b")
    wh = open_warehouse(warehouse_url)
    exporters = [Exporter(s, wh) for s in (a, b)]
    try:
        exporters[0].init()
        assert [e.sync(now=NOW).rows for e in exporters] == [12, 9]
        assert count(wh) == 21
        by_host = rows(wh, "SELECT export_host AS h, count(*) AS n FROM {events} GROUP BY 1 ORDER BY 1")
        assert [(r["h"], r["n"]) for r in by_host] == [("host-a", 12), ("host-b", 9)]
        stats = rows(wh, "SELECT sum(total_events) AS n, max(unique_users) AS u FROM {stats}")
        assert (stats[0]["n"], stats[0]["u"]) == (20, 4)
        # host a exports its hour again (a backfill): its 12 rows are replaced, b's stay
        hour = datetime(2026, 11, 20, 10, tzinfo=UTC)
        assert exporters[0].sync(hours=[hour], now=NOW).rows == 12
        assert count(wh) == 21
        status = exporters[1].status(NOW)  # each host's status counts its own hours
        assert (status["hours_with_rows"], status["rows_loaded"]) == (1, 9)
        ledger = {r.kind for r in exporters[0].ledger.rows()}
        assert {"events@host-a", "events@host-b"} <= ledger and "events" not in ledger
    finally:
        for e in exporters:
            e.close()
        wh.close()
