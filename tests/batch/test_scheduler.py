"""The scheduler's clock (night run in the project time zone) and its catch-up, without a server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from headwater.batch.scheduler import EtlScheduler
from headwater.config import Settings
from tests.batch.logdata import ev, write_log


def test_next_run_is_ten_past_midnight_local_across_dst(tmp_path: Path) -> None:
    sched = EtlScheduler(Settings(data_dir=tmp_path, timezone="Europe/Paris"))
    # 2026-03-28T23:30Z is 00:30 on 03-29 in Paris (winter time): past 00:10, so the next run is
    # 03-30 00:10 summer time = 03-29T22:10Z, 22 h 40 min later (the night loses an hour).
    assert sched.seconds_to_next_run(datetime(2026, 3, 28, 23, 30, tzinfo=UTC)) == 22 * 3600 + 40 * 60
    # 2026-03-28T22:00Z is 23:00 local: the run is 70 minutes later
    assert sched.seconds_to_next_run(datetime(2026, 3, 28, 22, 0, tzinfo=UTC)) == 70 * 60


def test_run_once_loads_complete_days_only(tmp_path: Path) -> None:
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    write_log(tmp_path, [ev("2026-01-05T10:00:00.000Z", user="u1"), ev(f"{today}T00:00:00.000Z", user="u2")])
    sched = EtlScheduler(Settings(data_dir=tmp_path))
    assert sched.run_once() is True
    assert sched.loaded_days == 1 and sched.last_error is None
    assert [p.name for p in (tmp_path / "lake" / "_etl").iterdir()] == ["recv=20260105.json"]
