"""The nightly scheduler applies the retention policies (issue 17): the real EtlScheduler's pass
over a data directory loads the days, then the raw log's retention and the lake's, the
quarantine's and per-event retention remove what is past them, each removal in the audit file."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from headwater.batch.archive import archive_month
from headwater.batch.etl import run_daily
from headwater.batch.scheduler import EtlScheduler
from headwater.config import Settings
from headwater.lake.layout import Lake
from tests.batch.logdata import ev, write_log
from tests.privacy.test_retention import parquet_rows


def test_the_nightly_pass_applies_every_retention_policy(tmp_path: Path) -> None:
    data = tmp_path / "data"
    today = datetime.now(UTC).date()
    old = (today - timedelta(days=120)).replace(day=10)  # months back: past every policy
    mid, recent = today - timedelta(days=20), today - timedelta(days=1)
    events = []
    for day in (old, mid, recent):
        stamp = f"{day:%Y-%m-%d}T10:00:00.000Z"
        events += [
            ev(stamp, user="u1", event="Opened"),
            ev(stamp, user="u2", event="Page Viewed"),
        ]
    write_log(data, events)
    run_daily(data, old, "UTC")  # the old month loaded and archived: its raw log may go
    archive_month(data, old.year, old.month)
    for day in (old, recent):
        (data / "log" / f"quarantine-{day:%Y%m%d}.t.jsonl").write_text('{"reason": "bad", "code": "x"}\n')
    settings = Settings(
        data_dir=data,
        raw_retention_days=30,
        lake_retention_months=2,
        quarantine_retention_days=30,
        event_retention_days={"Page Viewed": 7},
    )
    scheduler = EtlScheduler(settings)
    assert scheduler.run_once(), scheduler.last_error
    assert scheduler.loaded_days == 2  # mid and recent: the old day was loaded already
    log_dir = data / "log"
    assert not (log_dir / f"events-{old:%Y%m%d}.t.jsonl").exists()  # raw-log retention
    assert (log_dir / f"events-{mid:%Y%m%d}.t.jsonl").exists()
    assert not (log_dir / f"quarantine-{old:%Y%m%d}.t.jsonl").exists()  # quarantine retention
    assert (log_dir / f"quarantine-{recent:%Y%m%d}.t.jsonl").exists()
    lake = Lake(data / "lake")
    assert lake.archived_months() == []  # lake retention: the old month went whole
    assert old not in lake.event_dates()
    events_files = lake.event_files()
    assert parquet_rows(events_files) == 3  # mid's Opened, recent's two
    assert parquet_rows(events_files, "event = 'Page Viewed'") == 1  # per-event retention
    people = sorted((data / "lake" / "event_people").glob("*.parquet"))
    assert f"recv={old:%Y%m%d}.parquet" not in [p.name for p in people]
    assert parquet_rows(people, "event = 'Page Viewed'") == 1
    audit = [
        json.loads(line)["retention"] for line in (data / "audit" / "privacy.jsonl").read_text().splitlines()
    ]
    assert audit[0] == {"raw_log_files": [f"events-{old:%Y%m%d}.t.jsonl"]}
    lake_record = audit[1]
    assert lake_record["quarantine_files"] == [f"quarantine-{old:%Y%m%d}.t.jsonl"]
    assert any(f"month={old:%Y-%m}" in name for name in lake_record["lake_files"])
    assert lake_record["event_rows"] == {"Page Viewed": 1}
    assert lake_record["event_people_rows"] == {"Page Viewed": 1}
    assert len(audit) == 2
    assert scheduler.run_once()  # the next night: nothing past its time, nothing written
    assert len((data / "audit" / "privacy.jsonl").read_text().splitlines()) == 2


def test_months_of_the_nightly_fixture_are_past_the_lake_policy() -> None:
    """The fixture's old day is always more than two whole months back, whatever today is."""
    from headwater.privacy.retention import months_back

    for today in (date(2026, 1, 1), date(2026, 3, 31), date(2026, 12, 31)):
        old = (today - timedelta(days=120)).replace(day=10)
        assert old < months_back(today, 2)
