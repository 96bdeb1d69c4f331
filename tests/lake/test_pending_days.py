"""lake/layout.py pending_days: the received days whose log files are not, or not fully, in the lake,
found with one listing of the log directory (it was listed once per day: 0.6 s of every query over
90 days of log files)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

import headwater.lake.layout as layout
from headwater.batch.etl import run_daily
from headwater.lake.layout import Lake, log_sizes, pending_days
from tests.batch.logdata import ev, write_log


def test_loaded_grown_and_new_days_with_one_listing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_log(tmp_path, [ev(f"2026-03-0{d}T10:00:00Z", user=f"u{d}") for d in (2, 3, 4)])
    run_daily(tmp_path, date(2026, 3, 2), "UTC")
    run_daily(tmp_path, date(2026, 3, 3), "UTC")
    log, lake = tmp_path / "log", Lake(tmp_path / "lake")
    assert pending_days(lake, log) == [date(2026, 3, 4)]  # the 2nd and 3rd loaded as they are
    write_log(tmp_path, [ev("2026-03-03T11:00:00Z", user="u9")])  # the 3rd's file grew
    (log / "events-20260305.other.jsonl").write_text("")  # another writer's file of a new day
    (log / "notes.txt").write_text("not a log file")

    listed: list[Path] = []
    listing = layout.list_log_files

    def counted(log_dir: Path, kind: str = "events") -> list[object]:
        listed.append(log_dir)
        return listing(log_dir, kind)  # type: ignore[arg-type]

    monkeypatch.setattr(layout, "list_log_files", counted)
    assert pending_days(lake, log) == [date(2026, 3, 3), date(2026, 3, 4), date(2026, 3, 5)]
    assert listed == [log]
    assert log_sizes(log, date(2026, 3, 5)) == {"events-20260305.other.jsonl": 0}
    assert log_sizes(log, date(2026, 3, 9)) == {}
