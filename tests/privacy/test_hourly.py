"""The realtime store's hourly unique users without a deleted person (issue 17): planned from the
log and the lake before they are erased, subtracted once even when the step runs again, on SQLite
and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from headwater.privacy import hourly
from headwater.stores.sql.database import open_database
from headwater.stores.sql.hourly import HourlyRow, HourlyStatsStore
from tests.batch.logdata import ev, write_log

H10 = datetime(2026, 3, 4, 10, tzinfo=UTC)
H11 = datetime(2026, 3, 4, 11, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rt.sqlite3'}"
    else:
        yield request.getfixturevalue("pg_url")


def test_hourly_unique_users_drop_by_the_person_once(tmp_path: Path, url: str) -> None:
    data = tmp_path / "data"
    write_log(
        data,
        [
            ev("2026-03-04T10:05:00.000Z", user="gone", event="Opened", tool="pdf"),
            ev("2026-03-04T10:07:00.000Z", user="gone", event="Opened", tool="pdf"),
            ev("2026-03-04T11:01:00.000Z", anon="gone-device", event="Saved"),
            ev("2026-03-04T10:06:00.000Z", user="kept", event="Opened", tool="pdf"),
        ],
    )
    store = HourlyStatsStore(url)
    try:
        store.write_hour(H10, 3, 2, [HourlyRow("pdf", "Opened", 2, 3)])
        store.write_hour(H11, 1, 1, [HourlyRow("", "Saved", 1, 1)])
        assert hourly.plan(data / "run", data, data / "log", "reg_x", ["gone", "gone-device"]) == 2
        db = open_database(url)
        try:
            assert hourly.apply(db, data / "run", "reg_x") == {"rows": 2, "hours": 2}
            assert hourly.apply(db, data / "run", "reg_x") == {"rows": 0, "hours": 0}  # resumed: once
            ten, eleven = store.hour(H10), store.hour(H11)
            assert ten is not None and eleven is not None
            assert (ten.unique_users, ten.total_events) == (1, 3)  # event counts stay
            assert ten.rows == [HourlyRow("pdf", "Opened", 1, 3)]
            assert eleven.rows == [HourlyRow("", "Saved", 0, 1)] and eleven.unique_users == 0
            hourly.finish(db, data / "run", "reg_x")
            assert not hourly.plan_path(data / "run", "reg_x").exists()
        finally:
            db.close()
    finally:
        store.close()
