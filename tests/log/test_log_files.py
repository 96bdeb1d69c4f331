"""The event log's writer (group commit, rollback), reader (positions), recovery and lock."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import date
from pathlib import Path

import pytest

from headwater.log.files import list_log_files, log_file_name, parse_log_file_name
from headwater.log.lock import WriterBusyError, WriterLock
from headwater.log.merged_read import read_merged
from headwater.log.recovery import repair_torn_tail
from headwater.log.startup import recover_log_dir
from headwater.log.writer import BackpressureError, LogWriteError, LogWriter

DAY = date(2026, 11, 25)


def test_file_names_round_trip(tmp_path: Path) -> None:
    name = log_file_name("events", DAY, "host-1")
    assert name == "events-20261125.host-1.jsonl"
    parsed = parse_log_file_name(tmp_path / name)
    assert parsed is not None and parsed.day == DAY and parsed.writer == "host-1"
    assert parse_log_file_name(tmp_path / "events-20261399.x.jsonl") is None
    assert parse_log_file_name(tmp_path / "notes.txt") is None


def test_group_commit_gathers_concurrent_appends(tmp_path: Path) -> None:
    async def run() -> LogWriter:
        w = LogWriter(tmp_path, "events", "w")
        w.start()
        await asyncio.gather(*(w.append(DAY, f'{{"n": {i}}}\n'.encode()) for i in range(500)))
        await w.close()
        return w

    asyncio.run(run())
    lines = (tmp_path / "events-20261125.w.jsonl").read_bytes().splitlines()
    assert sorted(json.loads(x)["n"] for x in lines) == list(range(500))


def test_a_failed_write_is_rolled_back_and_reported(tmp_path: Path) -> None:
    async def run() -> None:
        w = LogWriter(tmp_path, "events", "w")
        w.start()
        await w.append(DAY, b'{"ok": 1}\n')
        target = w.path_for(DAY)
        # the next day's file is /dev/full: ENOSPC from the kernel
        (tmp_path / log_file_name("events", date(2026, 11, 26), "w")).symlink_to("/dev/full")
        with pytest.raises(LogWriteError, match="space"):
            await w.append(date(2026, 11, 26), b'{"lost": 1}\n')
        assert not w.healthy and w.last_error
        await w.append(DAY, b'{"ok": 2}\n')  # other files go on, health comes back
        assert w.healthy
        await w.close()
        assert target.read_bytes() == b'{"ok": 1}\n{"ok": 2}\n'

    asyncio.run(run())


def test_backpressure_when_too_much_waits(tmp_path: Path) -> None:
    async def run() -> None:
        w = LogWriter(tmp_path, "events", "w", max_pending_bytes=1000)
        w.start()
        with pytest.raises(BackpressureError):
            await w.append(DAY, b"x" * 2000 + b"\n")
        await w.close()

    asyncio.run(run())


def _line(i: int, second: int) -> bytes:
    return f'{{"i":{i},"receivedAt":"2026-11-25T00:00:{second:02d}.000Z"}}'.encode()


def test_reader_returns_only_complete_lines_and_resumes(tmp_path: Path) -> None:
    a = tmp_path / "events-20261125.a.jsonl"
    b = tmp_path / "events-20261125.b.jsonl"
    a.write_bytes(_line(1, 0) + b"\n" + _line(2, 1) + b"\n" + _line(3, 2)[:-3])  # a line being written
    b.write_bytes(_line(10, 5) + b"\n")
    (tmp_path / "quarantine-20261125.a.jsonl").write_bytes(b'{"q":1}\n')  # never read by tailers
    first = read_merged(tmp_path, {})
    assert first.data == [_line(1, 0), _line(2, 1), _line(10, 5)]
    assert list(first.positions()) == [(a.name, 0), (a.name, len(_line(1, 0)) + 1), (b.name, 0)]
    a_done = 2 * (len(_line(1, 0)) + 1)
    assert first.checkpoint == {a.name: a_done, b.name: b.stat().st_size}
    assert first.pending_bytes == a.stat().st_size + b.stat().st_size
    assert len(read_merged(tmp_path, first.checkpoint)) == 0  # the half line waits
    with open(a, "ab") as fh:
        fh.write(_line(3, 2)[-3:] + b"\n")
    last = read_merged(tmp_path, first.checkpoint)
    assert last.data == [_line(3, 2)] and list(last.positions()) == [(a.name, a_done)]
    assert last.checkpoint == {a.name: a.stat().st_size, b.name: b.stat().st_size}
    assert len(read_merged(tmp_path, last.checkpoint)) == 0


def test_torn_tail_is_cut_and_returned(tmp_path: Path) -> None:
    f = tmp_path / "events-20261125.w.jsonl"
    f.write_bytes(b'{"a":1}\n{"b":2}\n{"c":')
    torn = repair_torn_tail(f)
    assert torn is not None and torn.offset == 16 and torn.fragment == b'{"c":'
    assert f.read_bytes() == b'{"a":1}\n{"b":2}\n'
    assert repair_torn_tail(f) is None
    g = tmp_path / "events-20261125.x.jsonl"
    g.write_bytes(b"no newline at all")
    torn = repair_torn_tail(g)
    assert torn is not None and torn.offset == 0 and g.read_bytes() == b""


def test_recovery_skips_writers_that_are_alive(tmp_path: Path) -> None:
    alive = tmp_path / "events-20261125.alive.jsonl"
    dead = tmp_path / "events-20261125.dead.jsonl"
    alive.write_bytes(b'{"a":1}\n{"half')
    dead.write_bytes(b'{"a":1}\n{"half')
    lock = WriterLock(tmp_path, "alive")
    lock.acquire()
    try:
        torn = recover_log_dir(tmp_path, "me")
    finally:
        lock.release()
    assert [t.path for t in torn] == [dead]
    assert alive.read_bytes().endswith(b'{"half')


def test_writer_lock_is_exclusive(tmp_path: Path) -> None:
    first = WriterLock(tmp_path, "w")
    first.acquire()
    second = WriterLock(tmp_path, "w")
    with pytest.raises(WriterBusyError, match="HEADWATER_WRITER_ID"):
        second.acquire()
    first.release()
    second.acquire()
    second.release()


def test_list_log_files_orders_by_day_then_writer(tmp_path: Path) -> None:
    for name in [
        "events-20261126.a.jsonl",
        "events-20261125.b.jsonl",
        "events-20261125.a.jsonl",
        "quarantine-20261125.a.jsonl",
        "README",
    ]:
        (tmp_path / name).write_bytes(b"")
    assert [lf.name for lf in list_log_files(tmp_path)] == [
        "events-20261125.a.jsonl",
        "events-20261125.b.jsonl",
        "events-20261126.a.jsonl",
    ]
    assert os.path.basename(list_log_files(tmp_path, "quarantine")[0].path) == "quarantine-20261125.a.jsonl"


@pytest.mark.parametrize("fsync", ["always", "interval", "never"])
def test_an_older_day_after_newer_ones_is_written_not_closed(tmp_path: Path, fsync: str) -> None:
    # an import of history sends received days out of order: 03, 04, 05, then 01 (the writer keeps
    # two files open; the one it has just opened must never be the one it closes)
    days = [date(2026, 11, d) for d in (3, 4, 5, 1, 4, 2)]

    async def run() -> None:
        w = LogWriter(tmp_path, "events", "w", fsync=fsync)  # type: ignore[arg-type]
        w.start()
        for i, day in enumerate(days):
            await w.append(day, f'{{"n": {i}}}\n'.encode())
        await w.close()

    asyncio.run(run())
    for i, day in enumerate(days):
        lines = (tmp_path / log_file_name("events", day, "w")).read_bytes().splitlines()
        assert f'{{"n": {i}}}'.encode() in lines, (day, lines)


def test_a_worker_waits_while_a_sibling_repairs_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a crash the workers start together, and each repairs the torn tails of every writer not
    running yet, holding that writer's lock meanwhile (recover_log_dir): a worker whose lock a
    sibling holds so waits for it instead of failing to start (a kill -9 test's flake, three times
    in CI). A lock held for good still fails, after the wait, with the message naming the writer."""
    import threading
    import time

    from headwater.log import writers as writers_module
    from headwater.log.writers import LogWriters

    async def open_and_close() -> None:
        opened = await LogWriters.open(tmp_path, "t-1", "always", 0.05, 1 << 20, 0)
        await opened.close()

    sibling = WriterLock(tmp_path, "t-1")  # as recover_log_dir takes it
    assert sibling.try_acquire()
    threading.Timer(0.3, sibling.release).start()
    started = time.monotonic()
    asyncio.run(open_and_close())
    assert time.monotonic() - started >= 0.25  # it waited for the sibling, then took its lock

    holder = WriterLock(tmp_path, "t-1")
    assert holder.try_acquire()
    monkeypatch.setattr(writers_module, "SIBLING_RECOVERY_WAIT", 0.2)
    try:
        with pytest.raises(WriterBusyError, match="HEADWATER_WRITER_ID"):
            asyncio.run(open_and_close())
    finally:
        holder.release()
