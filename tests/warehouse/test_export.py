"""The hourly export against the BigQuery emulator and the official client: every closed hour
exactly once, whatever is retried, resent or exported again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from headwater.config import Settings
from headwater.stores.warehouse import open_warehouse
from headwater.stores.warehouse.ports import Warehouse
from headwater.warehouse.export import Exporter
from tests.batch.logdata import ev, write_log

NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)


def settings(data_dir: Path, url: str) -> Settings:
    return Settings(data_dir=data_dir, warehouse_url=url)


@pytest.fixture
def exporter(tmp_path: Path, warehouse_url: str) -> Iterator[Exporter]:
    wh = open_warehouse(warehouse_url)
    out = Exporter(settings(tmp_path, warehouse_url), wh)
    out.init()
    yield out
    out.close()
    wh.close()


def rows(wh: Warehouse, sql: str) -> list[dict[str, Any]]:
    return wh.query(
        sql.format(
            events=wh.table("events"), stats=wh.table("hourly_stats"), deduped=wh.table("events_deduped")
        )
    ).rows


def count(wh: Warehouse, table: str = "events") -> int:
    return int(wh.query(f"SELECT count(*) AS n FROM {wh.table(table)}").rows[0]["n"])


def at(hour: int, minute: int = 0, day: int = 20) -> str:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_every_closed_hour_once_and_hourly_stats_exact(exporter: Exporter, tmp_path: Path) -> None:
    events = [
        ev(at(h, 6 * i), user=f"u{i % 3}", tool="export" if i % 2 else None)
        for h in (9, 10, 11, 12)
        for i in range(10)
    ]
    write_log(tmp_path, events)
    report = exporter.sync(now=NOW)
    # 12:xx is open (grace 120 s after 13:00): 9, 10 and 11 are exported
    assert report.rows == 30
    wh = exporter.warehouse
    assert count(wh) == 30
    assert exporter.sync(now=NOW).rows == 0  # a second sync adds nothing
    assert count(wh) == 30
    stats = rows(wh, "SELECT hour, tool_id, unique_users, total_events FROM {stats} ORDER BY 1, 2")
    # per hour: i odd (1,3,5,7,9: users u1,u0,u2,u1,u0) use "export"; i even (u0,u2,u1,u0,u2) none
    assert [(r["hour"].hour, r["tool_id"], r["unique_users"], r["total_events"]) for r in stats] == [
        (h, tool, 3, 5) for h in (9, 10, 11) for tool in (None, "export")
    ]
    # the open hour on request, and once it closes it is exported again (not twice)
    assert exporter.sync(include_current=True, now=NOW).rows == 10
    assert count(wh) == 40
    later = NOW + timedelta(hours=1)
    assert exporter.sync(now=later).rows == 10
    assert count(wh) == 40
    assert rows(wh, "SELECT id FROM {events} GROUP BY id HAVING count(*) > 1") == []


def test_late_events_and_resent_duplicates_never_count_twice(exporter: Exporter, tmp_path: Path) -> None:
    wh = exporter.warehouse
    first = [ev(at(9, i), user=f"u{i}", mid=f"a{i}") for i in range(5)]
    write_log(tmp_path, first)
    assert exporter.sync(now=NOW.replace(hour=10, minute=3)).rows == 5
    # received at 10:xx: two late events of 9:xx, and a client's retry of a0 and a1 (same messageId)
    late = [
        ev(at(9, 30), user="u9", mid="late1", received=at(10, 5)),
        ev(at(9, 31), user="u0", mid="late2", received=at(10, 6)),
    ]
    resent = [ev(at(9, i), user=f"u{i}", mid=f"a{i}", received=at(10, 7 + i)) for i in range(2)]
    write_log(tmp_path, late + resent)
    assert exporter.sync(now=NOW).rows == 4
    assert count(wh) == 9  # the retries are rows of their own received hour ...
    assert count(wh, "events_deduped") == 7  # ... and one row per id for everything that counts
    stats = rows(wh, "SELECT hour, unique_users, total_events FROM {stats}")
    assert [(r["hour"].hour, r["unique_users"], r["total_events"]) for r in stats] == [(9, 6, 7)]
    # the 10:xx hour exported again (a backfill) changes nothing
    exporter.backfill(NOW.date(), NOW.date())
    assert (count(wh), count(wh, "events_deduped")) == (9, 7)
    stats = rows(wh, "SELECT hour, unique_users, total_events FROM {stats}")
    assert [(r["hour"].hour, r["unique_users"], r["total_events"]) for r in stats] == [(9, 6, 7)]


def test_an_hour_exported_again_after_the_log_lost_lines_replaces_its_rows(
    exporter: Exporter, tmp_path: Path
) -> None:
    """A deletion (the privacy issue) rewrites the log without a person's lines, then the hours are
    exported again: the person's rows and counts are gone from the warehouse."""
    wh = exporter.warehouse
    write_log(tmp_path, [ev(at(9, i), user="gone" if i % 2 else "kept", mid=f"d{i}") for i in range(6)])
    write_log(tmp_path, [ev(at(9, 40), user="gone", mid="d9", received=at(10, 1))])
    exporter.sync(now=NOW)
    exporter.sync(now=NOW)
    assert count(wh) == 7
    path = next((tmp_path / "log").glob("events-*.jsonl"))
    path.write_text(
        "".join(line for line in path.read_text().splitlines(keepends=True) if '"gone"' not in line)
    )
    exporter.backfill(NOW.date(), NOW.date())
    assert rows(wh, "SELECT DISTINCT user_id FROM {events}") == [{"user_id": "kept"}]
    stats = rows(wh, "SELECT hour, unique_users, total_events FROM {stats}")
    assert [(r["hour"].hour, r["unique_users"], r["total_events"]) for r in stats] == [(9, 1, 3)]


def test_values_bigquery_cannot_store_are_set_aside_with_the_reason(
    exporter: Exporter, tmp_path: Path
) -> None:
    wh = exporter.warehouse
    good = [
        ev(at(9, i), user="u1", props={"n": 1.5, "big": 123456789012345678901234567890}) for i in range(3)
    ]
    path = tmp_path / "log"
    write_log(tmp_path, good)
    with open(next(path.glob("events-*.jsonl")), "a") as fh:
        fh.write(
            '{"type":"track","event":"Huge","messageId":"bad1","userId":"u2","properties":{"x":{"y":[1e400]}},'
            f'"timestamp":"{at(9, 10)}","receivedAt":"{at(9, 10)}","context":{{}},"_hw":{{"source":"t"}}}}\n'
        )
    report = exporter.sync(now=NOW)
    assert (report.rows, report.rejected) == (3, 1)
    assert count(wh) == 3
    status = exporter.status(now=NOW)
    assert status["rows_rejected"] == 1
    [reject] = status["rejects"]
    assert (
        reject["id"] == "bad1" and "properties.x.y[0]" in reject["reason"] and "FLOAT64" in reject["reason"]
    )
    # the wide integer is kept (rounded, as BigQuery's JSON does with wide_number_mode round)
    assert rows(wh, "SELECT JSON_VALUE(properties, '$.n') AS n FROM {events} LIMIT 1") == [{"n": "1.5"}]


def test_identities_resolve_every_anonymous_id_to_its_person(exporter: Exporter, tmp_path: Path) -> None:
    wh = exporter.warehouse
    write_log(
        tmp_path,
        [
            ev(at(9, 1), anon="a1", event="Viewed"),
            ev(at(9, 2), anon="a1", user="alice", type="identify"),
            ev(at(9, 3), user="alice", event="Bought"),
            ev(at(9, 4), anon="a2", event="Viewed"),
        ],
    )
    assert exporter.sync(now=NOW).identities == 1
    assert rows(wh, f"SELECT key, user_id FROM {wh.table('identities')}") == [
        {"key": "anon:a1", "user_id": "alice"}
    ]
    persons = rows(wh, "SELECT actor, person_id FROM {events} ORDER BY timestamp")
    assert [(r["actor"], r["person_id"]) for r in persons] == [
        ("anon:a1", "alice"),
        ("alice", "alice"),
        ("alice", "alice"),
        ("anon:a2", "anon:a2"),
    ]
    stats = rows(wh, "SELECT unique_users, total_events FROM {stats} ORDER BY total_events")
    assert sum(r["total_events"] for r in stats) == 4
    # a link received later (read from where the last sync stopped) joins the map at the next sync
    write_log(tmp_path, [ev(at(10, 1), anon="a2", user="bob", type="identify")])
    assert exporter.sync(now=NOW).identities == 2
    got = rows(wh, f"SELECT key, user_id FROM {wh.table('identities')} ORDER BY key")
    assert got == [{"key": "anon:a1", "user_id": "alice"}, {"key": "anon:a2", "user_id": "bob"}]
    # a log rewritten shorter (a deletion) makes the links be read again from the start
    path = next((tmp_path / "log").glob("events-*.jsonl"))
    path.write_text("".join(line for line in path.read_text().splitlines(keepends=True) if "bob" not in line))
    assert exporter.sync(now=NOW).identities == 1


def test_openrtb_decisions_are_exported_the_same_way(exporter: Exporter, tmp_path: Path) -> None:
    wh = exporter.warehouse
    log_dir = tmp_path / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(6):
        stamp = datetime(2026, 11, 20, 9 + i // 3, 10 * i, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        found = i % 2 == 0
        lines.append(
            json.dumps(
                {
                    "id": f"r{i}:w:1",
                    "request_id": f"r{i}",
                    "timestamp": stamp,
                    "user_found": found,
                    "segments": "782,hw-loyal" if found else "",
                    "segment_count": 2 if found else 0,
                    "consent": "denied" if i == 5 else "allowed",
                    "reason": "gdpr_no_consent" if i == 5 else "enriched",
                    "latency_us": 40 + i,
                    "writer": "w",
                }
            )
        )
    (log_dir / "events-20261120.w.jsonl").write_text("")
    (log_dir / "decisions-20261120.w.jsonl").write_text(
        "\n".join([*lines, lines[0]]) + "\n"
    )  # one line twice
    assert exporter.sync(now=NOW).decisions == 6
    assert exporter.sync(now=NOW).decisions == 0
    exporter.backfill(NOW.date(), NOW.date())
    table = wh.table("openrtb_decisions")
    got = wh.query(
        f"SELECT request_id, user_found, segment_count, consent, reason, latency_us FROM {table} ORDER BY 1"
    ).rows
    assert len(got) == 6
    assert got[0] == {
        "request_id": "r0",
        "user_found": True,
        "segment_count": 2,
        "consent": "allowed",
        "reason": "enriched",
        "latency_us": 40,
    }
    assert got[5]["consent"] == "denied" and got[5]["reason"] == "gdpr_no_consent"
