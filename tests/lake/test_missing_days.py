"""Which local days a query reports missing (no data received or stored): each source that covers a
day, alone, and the local noon rule in a zone a day ahead of UTC."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

from headwater.batch.etl import run_daily
from headwater.lake.layout import Lake
from headwater.lake.params import make_range
from headwater.lake.scope import Scope
from tests.batch.logdata import ev, write_log

A, B, C, D, E, F = (date(2026, 3, d) for d in (2, 3, 4, 5, 6, 7))


def _lake(tmp_path: Path) -> Path:
    # A: loaded (a manifest and its log file); C: only a late event of A's stored under its date;
    # D: only tool usage stats; E: nothing; F: only an event in the log not loaded (received on B)
    write_log(
        tmp_path,
        [
            ev("2026-03-02T10:00:00Z", user="u1", tool="export"),
            ev("2026-03-04T10:00:00Z", user="u2", received="2026-03-02T11:00:00Z"),
        ],
    )
    run_daily(tmp_path, A, "UTC")
    lake = Lake(tmp_path / "lake")
    (tmp_path / "log" / "events-20260302.t.jsonl").unlink()  # A: the manifest alone
    usage = lake.tool_usage_dir / f"date={A.isoformat()}.parquet"
    shutil.copy(usage, lake.tool_usage_dir / f"date={D.isoformat()}.parquet")
    write_log(tmp_path, [ev("2026-03-07T10:00:00Z", user="u3", received="2026-03-03T09:00:00Z")])
    return tmp_path


def _missing(data: Path, tz: str, days: list[date]) -> set[date]:
    with Scope(data, make_range("2026-03-01", "2026-03-08", None, tz)) as scope:
        return scope.missing_days(days)


def test_each_source_covers_a_day(tmp_path: Path) -> None:
    data = _lake(tmp_path)
    days = [A + timedelta(days=n) for n in range(-1, 7)]  # 03-01 .. 03-08
    # B is covered by its log file (received on B), F only by that file's event
    assert _missing(data, "UTC", days) == {date(2026, 3, 1), E, date(2026, 3, 8)}
    assert _missing(data, "UTC", [A, C, D, F]) == set()
    assert _missing(data, "UTC", [E]) == {E}
    assert _missing(data, "UTC", []) == set()


def test_a_local_day_is_covered_by_the_utc_day_at_its_noon(tmp_path: Path) -> None:
    data = _lake(tmp_path)
    # Pacific/Kiritimati is UTC+14: local noon of day X is 22:00 UTC of day X - 1
    days = [A + timedelta(days=n) for n in range(-1, 7)]
    found = _missing(data, "Pacific/Kiritimati", days)
    # local 03-01 <- UTC 02-28 (nothing), 03-03 <- A, 03-04 <- B, 03-05 <- C, 03-06 <- D,
    # 03-07 <- E (nothing), 03-08 <- F; 03-02 <- 03-01 (nothing)
    assert found == {date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 7)}
