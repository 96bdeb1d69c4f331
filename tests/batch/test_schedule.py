"""One next-run rule for every nightly job, right across both daylight saving time changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from headwater.batch.schedule import AUDIENCES_AT, ETL_AT, next_run, seconds_until

PARIS = "Europe/Paris"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_the_night_the_clocks_go_back_the_audiences_follow_the_etl() -> None:
    # 2025-10-26, Paris: 03:00 summer time becomes 02:00 winter time. At 23:10 local (21:10Z) on
    # the 25th, the ETL runs at 00:10 (22:10Z) and the audiences at 00:40 (22:40Z): 30 minutes after
    now = utc(2025, 10, 25, 21, 10)
    etl, audiences = next_run(ETL_AT, PARIS, now), next_run(AUDIENCES_AT, PARIS, now)
    assert etl == utc(2025, 10, 25, 22, 10)
    assert audiences == utc(2025, 10, 25, 22, 40)
    assert seconds_until(AUDIENCES_AT, PARIS, now) == 90 * 60  # not 30 (the old audiences copy)
    # the next night, after the change, local midnight is at 23:00Z
    after = utc(2025, 10, 26, 12, 0)
    assert next_run(ETL_AT, PARIS, after) == utc(2025, 10, 26, 23, 10)
    assert next_run(AUDIENCES_AT, PARIS, after) == utc(2025, 10, 26, 23, 40)


def test_the_night_the_clocks_go_forward() -> None:
    # 2025-03-30, Paris: 02:00 winter time becomes 03:00 summer time; midnight is still winter time
    now = utc(2025, 3, 29, 22, 30)  # 23:30 local on the 29th
    assert next_run(ETL_AT, PARIS, now) == utc(2025, 3, 29, 23, 10)
    assert next_run(AUDIENCES_AT, PARIS, now) == utc(2025, 3, 29, 23, 40)
    # the night after: summer time, local midnight at 22:00Z; 00:30 local on the 30th is past 00:10
    assert seconds_until(ETL_AT, PARIS, utc(2025, 3, 29, 23, 30)) == 22 * 3600 + 40 * 60


@pytest.mark.parametrize("tz", [PARIS, "America/New_York", "Australia/Sydney", "Asia/Seoul", "UTC"])
def test_every_night_of_a_year_each_job_runs_once_at_its_local_time_audiences_after_etl(tz: str) -> None:
    zone = ZoneInfo(tz)
    moment = datetime(2025, 1, 1, tzinfo=zone).astimezone(UTC)
    runs: dict[time, list[datetime]] = {ETL_AT: [], AUDIENCES_AT: []}
    for at in runs:
        t = moment
        for _ in range(365):
            t = next_run(at, tz, t)
            runs[at].append(t)
            assert t.astimezone(zone).time() == at
    for etl, audiences in zip(runs[ETL_AT], runs[AUDIENCES_AT], strict=True):
        assert etl < audiences < etl + timedelta(hours=2)
        assert etl.astimezone(zone).date() == audiences.astimezone(zone).date()
    days = [t.astimezone(zone).date() for t in runs[ETL_AT]]
    assert days == [date(2025, 1, 1) + timedelta(days=i) for i in range(365)]


def test_a_local_time_skipped_by_the_change_still_runs_that_night() -> None:
    # America/Santiago goes forward at midnight (00:00 -> 01:00) on 2025-09-07: 00:10 never happens
    zone = ZoneInfo("America/Santiago")
    first = next_run(ETL_AT, "America/Santiago", datetime(2025, 9, 6, 12, 0, tzinfo=zone).astimezone(UTC))
    assert first.astimezone(zone).date() == date(2025, 9, 7)
    assert next_run(ETL_AT, "America/Santiago", first) - first == timedelta(hours=23)


def test_the_schedulers_use_it(tmp_path: object) -> None:
    from pathlib import Path

    from headwater.batch.scheduler import EtlScheduler
    from headwater.config import Settings

    sched = EtlScheduler(Settings(data_dir=Path(str(tmp_path)), timezone=PARIS))
    now = utc(2025, 10, 25, 21, 10)
    assert sched.seconds_to_next_run(now) == seconds_until(ETL_AT, PARIS, now) == 60 * 60
