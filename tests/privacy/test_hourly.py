"""The realtime store's hourly unique users without a deleted person (issue 17): planned from the
log and the lake before they are erased, subtracted once even when the step runs again, on SQLite
and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from headwater.live.buckets import SEP, USERS
from headwater.live.rollup import GRACE, SETTLE_HOURS
from headwater.live.state import LiveState
from headwater.log.record import LogRecord
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


def live_hour(events: list[dict[str, Any]], hour: datetime) -> tuple[int, int, list[HourlyRow]]:
    """The hour as the real live counter last copied it: every event received before the rollup's
    last copy of the hour folded, in the order received (headwater.live.rollup)."""
    state = LiveState(UTC)
    until = f"{hour + timedelta(hours=1 + SETTLE_HOURS) + GRACE:%Y-%m-%dT%H:%M:%S}.000Z"
    for event in sorted(events, key=lambda e: e["receivedAt"]):
        if event["receivedAt"] <= until:
            record = msgspec.json.decode(msgspec.json.encode(event), type=LogRecord)
            state.fold([record], hour + timedelta(hours=1))
    sets = state.sets.get(f"hu:{hour:%Y%m%d%H}", {})
    rows = [
        HourlyRow(pair.split(SEP)[0], pair.split(SEP)[1], len(actors), 0) for pair, actors in sets.items()
    ]
    users = state.sets.get(f"hn:{hour:%Y%m%d%H}", {}).get(USERS)
    return 0, 0 if users is None else len(users), sorted(rows)


def test_hourly_unique_users_drop_by_the_actors_the_counter_saw(tmp_path: Path, url: str) -> None:
    """A person counted as two actors in an hour (anonymous, then signed in with no link known by
    the time the hour was copied) drops by two there; where an event linked the two ids in time,
    the counter merged them and they drop by one; everyone else's counts are what the counter
    gives without the person."""
    data = tmp_path / "data"
    kept = [ev(f"2026-03-04T{h}:10:00.000Z", user="kept", event="Opened", tool="pdf") for h in (12, 13, 14)]
    gone = [
        ev("2026-03-04T12:05:00.000Z", anon="dev", event="Opened", tool="pdf"),  # no link ever
        ev("2026-03-04T12:20:00.000Z", user="gone", event="Opened", tool="pdf"),
        ev("2026-03-04T13:05:00.000Z", anon="dev2", event="Opened", tool="pdf"),
        ev("2026-03-04T13:30:00.000Z", user="gone", anon="dev2", event="Opened", tool="pdf"),  # links
        ev("2026-03-04T14:05:00.000Z", anon="dev3", event="Opened", tool="pdf"),
        ev("2026-03-04T14:25:00.000Z", user="gone", event="Opened", tool="pdf"),
        ev("2026-03-04T20:00:00.000Z", user="gone", anon="dev3", event="Saved"),  # linked too late
    ]
    write_log(data, kept + gone)
    hours = [datetime(2026, 3, 4, h, tzinfo=UTC) for h in (12, 13, 14, 20)]
    store = HourlyStatsStore(url)
    try:
        for hour in hours:
            _, users, rows = live_hour(kept + gone, hour)
            store.write_hour(hour, 0, users, rows)
        assert [store.hour(h).unique_users for h in hours] == [3, 2, 3, 1]  # type: ignore[union-attr]
        ids = ["gone", "dev", "dev2", "dev3"]
        assert hourly.plan(data / "run", data, data / "log", "reg_y", ids) == 4
        db = open_database(url)
        try:
            assert hourly.apply(db, data / "run", "reg_y") == {"rows": 4, "hours": 4}
            assert hourly.apply(db, data / "run", "reg_y") == {"rows": 0, "hours": 0}  # resumed: once
        finally:
            db.close()
        for hour in hours:
            stored = store.hour(hour)
            assert stored is not None
            _, users, rows = live_hour(kept, hour)  # the counter without the person
            assert (hour, stored.unique_users, [r.unique_users for r in stored.rows]) == (
                hour,
                users,
                [r.unique_users for r in rows] or [0],
            )
    finally:
        store.close()
