"""What the lake's files say, kept per process (lake/file_memo.py): read once while the files are the
same, read again as soon as one is written anew, grows, appears or goes."""

from __future__ import annotations

import os
from pathlib import Path

from headwater.batch.etl import run_daily
from headwater.insights.trend import run_trend
from headwater.lake.file_memo import remembered
from tests.batch.logdata import ev, write_log


def _counter() -> tuple[list[int], object]:
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    return calls, compute


def test_an_answer_is_kept_until_its_files_change(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("one")
    calls, compute = _counter()
    slot = ("test", str(tmp_path))
    assert remembered(slot, [a, b], compute) == 1  # type: ignore[arg-type]
    assert remembered(slot, [a, b], compute) == 1  # type: ignore[arg-type]
    assert len(calls) == 1
    b.write_text("appears")
    assert remembered(slot, [a, b], compute) == 2  # type: ignore[arg-type]
    tmp = tmp_path / ".a.tmp"
    tmp.write_text("two")  # the same size, written anew and renamed over it (the ETL's way)
    os.replace(tmp, a)
    assert remembered(slot, [a, b], compute) == 3  # type: ignore[arg-type]
    with open(b, "a") as fh:
        fh.write("grows")
    assert remembered(slot, [a, b], compute) == 4  # type: ignore[arg-type]
    b.unlink()
    assert remembered(slot, [a, b], compute) == 5  # type: ignore[arg-type]
    assert remembered(slot, [a], compute) == 6  # type: ignore[arg-type]  # other files: another answer
    assert remembered(("other", str(tmp_path)), [a], compute) == 7  # type: ignore[arg-type]
    assert remembered(slot, [a], compute) == 6  # type: ignore[arg-type]


def _users(data: Path) -> int:
    body = {"start": "2026-03-02", "end": "2026-03-03", "tz": "UTC", "interval": "range"}
    body["series"] = [{"event": "Clicked", "measure": "users"}]
    rows = run_trend(data, "UTC", body)["rows"]
    return int(rows[0]["value"])


def test_a_query_after_the_etl_rewrote_the_identity_map_sees_the_new_links(tmp_path: Path) -> None:
    # day 1: an anonymous visitor and a user click; the lake's hashed identity map is kept by the
    # process. Day 2: the visitor identifies as the user. Both days loaded: one person clicked.
    first = [ev("2026-03-02T10:00:00Z", anon="a1"), ev("2026-03-02T11:00:00Z", user="u1", anon="a9")]
    run_daily(tmp_path, write_log(tmp_path, first)[0], "UTC")
    assert _users(tmp_path) == 2
    second = [ev("2026-03-03T09:00:00Z", type="identify", user="u1", anon="a1")]
    run_daily(tmp_path, write_log(tmp_path, second)[0], "UTC")
    assert _users(tmp_path) == 1
