"""Queries while a writer swaps lake files under them (lake/swapped.py): DuckDB opens a file's path
more than once in a query, so a rename in between reads the new file at the old one's offsets. Every
answer must be the lake's answer; with a single run per query some fail, which is what the test
would catch without read_again."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from headwater.batch.etl import run_daily
from headwater.lake import swapped
from headwater.lake.layout import LakeError
from headwater.lake.params import MetricError
from headwater.lake.swapped import read_again
from headwater.metrics.registry import run_metric
from tests.batch.logdata import ev, write_log

DAYS = [date(2026, 11, 2) + timedelta(days=i) for i in range(6)]


def _lake(data: Path) -> list[int]:
    """Six loaded days of 30 people, person i active on the days i % k != 0; the DAU by hand."""
    events, dau = [], []
    for n, day in enumerate(DAYS):
        users = [f"u{i}" for i in range(30) if (i + n) % 4]
        events += [
            ev(f"{day}T{10 + i % 8:02d}:0{i % 10}:00.000Z", user=u, event="Saved")
            for i, u in enumerate(users)
        ]
        dau.append(len(users))
    for day in write_log(data, events):
        run_daily(data, day, "UTC")
    return dau


class Swapper(threading.Thread):
    """Rewrites every lake file in turn, the same rows in another layout (row groups of 7 rows,
    no compression, then back), by a temporary file and a rename as the lake's writers do; the
    file's modification time kept, as an erase keeps it for the files readers compare. ``files``
    and ``reorder`` (the rows in another order: what a deletion's rewrite does to the row numbers
    of the rows after the ones it removes), ``pause`` (seconds after each swap) change that."""

    def __init__(
        self,
        lake: Path,
        files: list[Path] | None = None,
        reorder: Callable[[Any], Any] | None = None,
        pause: float = 0.0,
    ) -> None:
        super().__init__(daemon=True)
        self.files = files or sorted(p for p in lake.rglob("*.parquet") if not p.name.startswith("."))
        self.reorder = reorder
        self.pause = pause
        self.stop = threading.Event()
        self.swaps = 0

    def run(self) -> None:
        import pyarrow.parquet as pq

        while not self.stop.is_set():
            path = self.files[self.swaps % len(self.files)]
            table = pq.read_table(path)
            stat = path.stat()
            tmp = path.with_name(f".{path.name}.swap.tmp")
            small = self.swaps // len(self.files) % 2 == 0
            if self.reorder is not None:
                table = self.reorder(table)
            pq.write_table(
                table, tmp, row_group_size=7 if small else None, compression="none" if small else "zstd"
            )
            os.utime(tmp, ns=(stat.st_atime_ns, stat.st_mtime_ns))
            tmp.replace(path)
            self.swaps += 1
            time.sleep(self.pause)


def _answers(data: Path, runs: int) -> tuple[list[list[int]], list[str], int]:
    """The DAU asked ``runs`` times while every lake file is swapped in turn: the answers, the
    failures' messages, and how many swaps were made meanwhile."""
    swapper = Swapper(data / "lake")
    swapper.start()
    try:
        answers, failures = _ask(data, runs)
    finally:
        swapper.stop.set()
        swapper.join()
    return answers, failures, swapper.swaps


def _ask(data: Path, runs: int) -> tuple[list[list[int]], list[str]]:
    answers, failures = [], []
    for _ in range(runs):
        try:
            body = run_metric(data, "UTC", "dau", str(DAYS[0]), str(DAYS[-1]), "UTC")
        except (MetricError, LakeError) as exc:  # what the API answers with a 500
            failures.append(str(exc))
            continue
        answers.append([row["value"] for row in body["rows"]])
    return answers, failures


def test_every_query_answers_while_its_files_are_swapped(tmp_path: Path) -> None:
    dau = _lake(tmp_path)
    answers, failures, swaps = _answers(tmp_path, 150)
    assert swaps > 150, swaps  # the files were swapped while the queries ran
    assert not failures, failures[:3]
    assert answers and all(a == dau for a in answers), (answers[:3], dau)


def test_a_single_run_fails_on_a_swapped_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What read_again is for: one run per query, the same swaps fail some queries."""
    _lake(tmp_path)
    monkeypatch.setattr(swapped, "READ_TRIES", 1)
    _, failures, _ = _answers(tmp_path, 150)
    assert failures, "no query failed: the swaps no longer reach the reads, this test shows nothing"


def test_a_file_damaged_for_good_fails_every_run(tmp_path: Path) -> None:
    calls: list[int] = []

    def damaged() -> Any:
        calls.append(1)
        raise MetricError("query_failed", "the query failed: TProtocolException: Invalid data", status=500)

    with pytest.raises(MetricError, match="TProtocolException"):
        read_again(damaged)
    assert len(calls) == swapped.READ_TRIES

    def other() -> Any:
        calls.append(2)
        raise MetricError("bad_parameter", "parameter 'start' is not a date")

    with pytest.raises(MetricError, match="start"):
        read_again(other)
    assert calls.count(2) == 1  # not a read of a swapped file: never run again
